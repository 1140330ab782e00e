"""The service keeps no session state on a PostgreSQL connection, so that PgBouncer in
transaction pooling mode (where each transaction may run on another server connection) can
sit in front of it: no session-level advisory lock, no plain SET, no LISTEN, no PREPARE.

tests/system/test_pgbouncer.py proves the same through a real PgBouncer; this one names the
line that breaks the rule, in any module added later.
"""

from __future__ import annotations

import re

from service.config import PROJECT_ROOT

# Each: what a source line must not hold, and why.
SESSION_STATE = {
    re.compile(r"pg_advisory_lock|pg_try_advisory_lock\b|pg_advisory_unlock", re.I): (
        "a session-level advisory lock outlives the transaction: use pg_advisory_xact_lock"
    ),
    re.compile(r"""["'(]\s*(SET|RESET)\s+(?!LOCAL\b)(?!TRANSACTION\b)[a-z_]+""", re.I): (
        "a session setting stays on the server connection: use SET LOCAL in the transaction"
    ),
    re.compile(r"""["']\s*(LISTEN|UNLISTEN|PREPARE|DECLARE\s+\w+\s+.*WITH\s+HOLD)\b""", re.I): (
        "LISTEN, PREPARE and held cursors belong to a session"
    ),
    re.compile(r"set_config\([^)]*,\s*(false|False)\s*\)"): (
        "set_config(..., false) is a session setting: pass true (transaction-local)"
    ),
}


def _offences(text: str) -> list[str]:
    return [
        f"{number}: {why}"
        for number, line in enumerate(text.splitlines(), start=1)
        if not line.lstrip().startswith("#")
        for pattern, why in SESSION_STATE.items()
        if pattern.search(line)
    ]


def test_the_service_keeps_no_session_state_on_a_database_connection() -> None:
    found = {
        str(path.relative_to(PROJECT_ROOT)): offences
        for path in sorted((PROJECT_ROOT / "service").rglob("*.py"))
        if (offences := _offences(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_catches_each_kind_of_session_state() -> None:
    lines = [
        'session.execute(text("SELECT pg_advisory_lock(:k)"))',
        'conn.exec_driver_sql(f"SET lock_timeout = {ms}")',
        'conn.exec_driver_sql("RESET lock_timeout")',
        'conn.exec_driver_sql("LISTEN outbox")',
        "conn.execute(text(\"SELECT set_config('statement_timeout', '1s', false)\"))",
    ]
    assert [len(_offences(line)) for line in lines] == [1, 1, 1, 1, 1]
    allowed = [
        'session.execute(text("SELECT pg_advisory_xact_lock(:key)"))',
        'conn.execute(text("SET LOCAL lock_timeout = 100"))',
        'conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))',
        "update(Participant).values(purged_at=utcnow())  # UPDATE ... SET purged_at",
    ]
    assert [_offences(line) for line in allowed] == [[], [], [], []]
