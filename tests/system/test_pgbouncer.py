"""Through PgBouncer in transaction pooling mode, where each transaction may run on another
server connection: what breaks without ``PSAM_DATABASE_POOLER=pgbouncer`` (psycopg's
automatic prepared statements) and without transaction-scoped state (the erasure purge's
lock wait). The two-replica and crash tests run through the same PgBouncer too (their
``pooler`` fixture)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from service.db import Base, Database, make_engine
from service.models import Participant
from service.services.erasure import purge_erasures
from tests.conftest import fresh_database
from tests.system.postgres import PgBouncer

pytestmark = [pytest.mark.system, pytest.mark.postgresql]
QUERY = text("SELECT count(*) FROM pg_class WHERE relpages >= :pages")


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _hop_between_server_connections(engine: Engine, bouncer_url: str, rounds: int) -> set[int]:
    """Run one query in ``rounds`` transactions, alternating between two server connections;
    the server processes that ran them.

    PgBouncer hands a new transaction the server connection freed last; a second client
    that takes it before every other one of the engine's transactions sends the engine to
    the other server connection."""
    servers = set()
    with psycopg.connect(_plain(bouncer_url), prepare_threshold=None) as other:
        for n in range(rounds):
            if n % 2:
                other.execute("SELECT 1")  # holds the freed server connection until commit
            with engine.begin() as conn:
                conn.execute(QUERY, {"pages": n % 3})
                servers.add(int(conn.scalar(text("SELECT pg_backend_pid()")) or 0))
            other.commit()
    return servers


@pytest.fixture(scope="module")
def pooled_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database("psam_pgbouncer_test", tmp_path_factory.mktemp("pgbouncer"))


def test_without_the_pooler_setting_automatic_prepared_statements_fail_through_pgbouncer(
    pgbouncer: PgBouncer, pooled_database: str
) -> None:
    engine = make_engine(pgbouncer.url_for(pooled_database))
    try:
        with pytest.raises(DBAPIError, match=r"prepared statement \S+ does not exist"):
            _hop_between_server_connections(engine, pgbouncer.url_for(pooled_database), 12)
    finally:
        engine.dispose()


def test_with_the_pooler_setting_the_same_queries_succeed_through_pgbouncer(
    pgbouncer: PgBouncer, pooled_database: str
) -> None:
    engine = make_engine(pgbouncer.url_for(pooled_database), pooler="pgbouncer")
    try:
        servers = _hop_between_server_connections(engine, pgbouncer.url_for(pooled_database), 12)
        assert len(servers) == 2  # one client connection, served by two server connections
    finally:
        engine.dispose()


@pytest.fixture
def erased_database(pooled_database: str) -> Iterator[str]:
    """The schema, and one participant whose erasure is still to be purged."""
    direct = create_engine(pooled_database)
    Base.metadata.drop_all(direct)
    Base.metadata.create_all(direct)
    with direct.begin() as conn:
        conn.execute(
            Participant.__table__.insert().values(
                id=uuid.uuid4(),
                study_id="PSAM-PURGE000-0",
                enrolled_at=dt.datetime.now(dt.UTC),
                erased_at=dt.datetime.now(dt.UTC),
            )
        )
    direct.dispose()
    yield pooled_database


_SESSION_SETTING = re.compile(r"^\s*(SET|RESET)\s+(?!LOCAL\b)", re.I)


def test_the_erasure_purge_waits_for_a_lock_without_a_session_setting_through_pgbouncer(
    pgbouncer: PgBouncer, erased_database: str, tmp_path: Path
) -> None:
    db = Database(pgbouncer.url_for(erased_database), pooler="pgbouncer")
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    holder = psycopg.connect(_plain(erased_database))  # direct: holds a table lock
    try:
        holder.execute("LOCK TABLE participants IN ACCESS SHARE MODE")
        held = purge_erasures(db, wait_seconds=1)
        assert held.purged == [] and held.waiting == ["PSAM-PURGE000-0"]
        assert held.reason is not None and "lock" in held.reason
        assert held.seconds >= 1  # it waited for the lock, as long as it was told to
        holder.rollback()
        done = purge_erasures(db, wait_seconds=5)
        assert done.purged == ["PSAM-PURGE000-0"] and done.waiting == []
    finally:
        holder.close()
        db.engine.dispose()
    # A plain SET would stay on whichever server connection ran it, for the next client.
    assert [s for s in sent if _SESSION_SETTING.match(s)] == []
    assert any(s.startswith("VACUUM (FULL, SKIP_LOCKED)") for s in sent)
