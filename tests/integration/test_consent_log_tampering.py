"""Tampering with the stored consent log is found by the verify endpoint and by the offline
verifier, which both name the first bad seq. The database refuses UPDATE and DELETE on the
ledger tables; these tests play a database superuser who gets round that."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from service.config import PROJECT_ROOT
from service.db import get_db
from service.domain.canonical import canonical_json
from service.domain.ledger import entry_hash
from service.services.tokens import create_staff_token
from tests.conftest import valid_signature

ENTRIES = 12
EVERY = 5


def populated(fresh_app: Callable[[str], Flask], name: str) -> tuple[Flask, dict[str, str]]:
    """An app whose consent log holds 12 events, with checkpoints at 5 and 10."""
    app = fresh_app(name)
    app.config["PSAM_CHECKPOINT_EVERY"] = EVERY
    with app.app_context(), get_db().sessionmaker() as session:
        token = create_staff_token(session, ["researcher", "auditor"], "audit test")[1]
    staff = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    with app.app_context():
        from service.services.catalogue import sync_definitions
        from service.services.definitions import load_definitions

        with get_db().sessionmaker() as session:
            sync_definitions(session, load_definitions(PROJECT_ROOT / "instruments"))
    body = valid_signature(client, typed_name="Tamper Test")
    for _ in range(ENTRIES // 2):
        token = client.post("/api/v1/participants", json={}, headers=staff).get_json()["token"]
        own = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/me/consent", json=body, headers=own).status_code == 201
        scope = {"scope": "no-further-contact"}
        assert client.post("/api/v1/me/withdrawal", json=scope, headers=own).status_code == 201
    return app, staff


def as_superuser(app: Flask, change: Callable[[Connection], None]) -> None:
    """Run a change with the append-only triggers out of the way."""
    with app.app_context():
        engine = get_db().engine
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS consent_log_no_{action}"))
            change(conn)


def rows(conn: Connection) -> list[dict]:
    result = conn.execute(text("SELECT seq, prev_hash, hash, event FROM consent_log ORDER BY seq"))
    return [dict(r._mapping) for r in result]


def put(conn: Connection, seq: int, prev_hash: str, hash_: str, event: str) -> None:
    conn.execute(
        text("UPDATE consent_log SET prev_hash = :p, hash = :h, event = :e WHERE seq = :s"),
        {"p": prev_hash, "h": hash_, "e": event, "s": seq},
    )


def edit(conn: Connection) -> None:
    row = rows(conn)[2]
    event = row["event"].replace('"commitment":"', '"commitment":"0')
    assert event != row["event"]
    put(conn, 3, row["prev_hash"], row["hash"], event)


def edit_clause(conn: Connection) -> None:
    row = rows(conn)[2]
    event = row["event"].replace('"c_take_part":true', '"c_take_part":false')
    assert event != row["event"]
    put(conn, 3, row["prev_hash"], row["hash"], event)


def delete(conn: Connection) -> None:
    conn.execute(text("DELETE FROM consent_log WHERE seq = 4"))


def swap(conn: Connection) -> None:
    all_rows = rows(conn)
    two, six = all_rows[1], all_rows[5]
    # Swap the contents, keeping each seq where it is (the seq column is the key).
    conn.execute(text("UPDATE consent_log SET prev_hash = 'x2', hash = 'y2' WHERE seq = 2"))
    put(conn, 6, two["prev_hash"], two["hash"], two["event"])
    put(conn, 2, six["prev_hash"], six["hash"], six["event"])


def insert(conn: Connection, prev: str = "f" * 64) -> None:
    """Slip an entry in at seq 3. (Linked to seq 2 it would fork the chain, which the unique
    prev_hash constraint refuses: see the test below.)"""
    all_rows = rows(conn)
    for row in reversed(all_rows[2:]):
        conn.execute(text("UPDATE consent_log SET seq = seq + 1 WHERE seq = :s"), {"s": row["seq"]})
    event = {"log": "consent", "seq": 3, "type": "consent", "study_id": "PSAM-00000000-0"}
    conn.execute(
        text(
            "INSERT INTO consent_log (seq, prev_hash, hash, event, type, recorded_at, study_id) "
            "SELECT 3, :p, :h, :e, 'consent', recorded_at, 'PSAM-00000000-0' "
            "FROM consent_log WHERE seq = 2"
        ),
        {"p": prev, "h": entry_hash(prev, event), "e": canonical_json(event).decode()},
    )


def truncate(conn: Connection) -> None:
    conn.execute(text("DELETE FROM consent_log WHERE seq > 7"))


def rebuild(conn: Connection) -> None:
    """Edit seq 7, then re-link everything after it consistently."""
    import json

    all_rows = rows(conn)
    previous = all_rows[5]["hash"]
    for row in all_rows[6:]:
        event = json.loads(row["event"])
        if event["seq"] == 7:
            event["type"] = "consent" if event["type"] == "withdrawal" else "withdrawal"
        new_hash = entry_hash(previous, event)
        conn.execute(
            text("UPDATE consent_log SET prev_hash = :p WHERE seq = :s"),
            {"p": "t", "s": row["seq"]},
        )
        put(conn, event["seq"], previous, new_hash, canonical_json(event).decode())
        previous = new_hash


CASES = [
    (edit, 3),
    (edit_clause, 3),
    (delete, 4),
    (swap, 2),
    (insert, 3),
    (truncate, 8),
    (rebuild, 6),
]


@pytest.mark.parametrize(("tamper", "first_bad"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_found_online_and_offline(
    fresh_app: Callable[[str], Flask], tmp_path: Path, tamper: Callable, first_bad: int
) -> None:
    app, staff = populated(fresh_app, "psam_tamper_test")
    client = app.test_client()
    before = client.get("/api/v1/audit/consent-log/verify", headers=staff).get_json()
    assert before["ok"] and before["length"] == ENTRIES and before["checkpoints_checked"] == 2

    as_superuser(app, tamper)

    online = client.get("/api/v1/audit/consent-log/verify", headers=staff).get_json()
    assert online["ok"] is False
    assert online["first_bad_seq"] == first_bad, online["problems"]

    export, key = tmp_path / "consent.jsonl", tmp_path / "key.pem"
    result = app.test_cli_runner().invoke(
        args=["audit", "export", "--out", str(export), "--public-key-out", str(key)]
    )
    assert result.exit_code == 0, result.output
    offline = subprocess.run(
        [str(Path(sys.executable).parent / "psam-verify"), str(export), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert offline.returncode == 1, offline.stdout + offline.stderr
    assert f"first bad seq {first_bad}" in offline.stdout


def test_an_untouched_log_passes_the_offline_verifier(
    fresh_app: Callable[[str], Flask], tmp_path: Path
) -> None:
    app, _ = populated(fresh_app, "psam_tamper_test")
    export, key = tmp_path / "consent.jsonl", tmp_path / "key.pem"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "checkpoint", "--log", "consent"]).exit_code == 0
    runner.invoke(args=["audit", "export", "--out", str(export), "--public-key-out", str(key)])
    offline = subprocess.run(
        [str(Path(sys.executable).parent / "psam-verify"), str(export), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout
    assert f"{ENTRIES} entries" in offline.stdout and "3 checkpoints checked" in offline.stdout


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_log SET type = 'x' WHERE seq = 1",
        "DELETE FROM consent_log WHERE seq = 1",
        "UPDATE access_log SET type = 'x'",
        "DELETE FROM access_log",
        "DELETE FROM ledger_checkpoints",
        "UPDATE ledger_checkpoints SET head_hash = 'x'",
    ],
)
def test_the_database_refuses_to_change_the_ledgers(
    fresh_app: Callable[[str], Flask], statement: str
) -> None:
    app, _ = populated(fresh_app, "psam_tamper_test")
    with (
        app.app_context(),
        pytest.raises(DBAPIError, match="append-only"),
        get_db().engine.begin() as conn,
    ):
        conn.execute(text(statement))


def test_a_second_entry_linked_to_the_same_predecessor_is_refused(
    fresh_app: Callable[[str], Flask],
) -> None:
    app, _ = populated(fresh_app, "psam_tamper_test")

    def fork(conn: Connection) -> None:
        insert(conn, prev=rows(conn)[1]["hash"])

    with pytest.raises(DBAPIError, match="prev_hash"):
        as_superuser(app, fork)


@pytest.mark.parametrize(
    ("label", "respell"),
    [
        ("a space after a colon", lambda e: e.replace('"seq":3', '"seq": 3', 1)),
        ("a duplicate key", lambda e: e.replace("{", '{"type":"withdrawal",', 1)),
        ("an escaped letter", lambda e: e.replace('"log"', '"\\u006cog"', 1)),
    ],
)
def test_an_event_not_stored_as_its_rfc_8785_bytes_fails_the_online_verify(
    fresh_app: Callable[[str], Flask], label: str, respell: Callable[[str], str]
) -> None:
    app, staff = populated(fresh_app, "psam_tamper_test")

    def change(conn: Connection) -> None:
        row = rows(conn)[2]
        # The same value (or, to a first-key reader, another one) and the same hash.
        event = respell(row["event"])
        assert event != row["event"], label
        put(conn, 3, row["prev_hash"], row["hash"], event)

    as_superuser(app, change)
    online = app.test_client().get("/api/v1/audit/consent-log/verify", headers=staff).get_json()
    assert online["ok"] is False
    assert online["first_bad_seq"] == 3, online["problems"]
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--log", "consent"])
    assert result.exit_code == 1 and "FAILED at seq 3" in result.output
