"""Engine, one session per request, and the declarative base with shared column types."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Annotated, Any, ClassVar

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a UTC time")
        value = value.astimezone(dt.UTC)
        # SQLite keeps text; store it without an offset so values sort as written.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError("a UTC timestamp column returned something else")
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class EncryptedBytes(TypeDecorator[bytes]):
    """A column holding ciphertext from ``domain.crypto`` and nothing else.

    A type of its own so that erasure and the plaintext canary test can find every
    encrypted column from the metadata, including ones added later.
    """

    impl = LargeBinary
    cache_ok = True


def utcnow() -> dt.datetime:
    """Now, in UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


UuidPk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
UtcTimestamp = Annotated[dt.datetime, mapped_column(UtcDateTime())]
Sha256Hex = Annotated[str, mapped_column(String(64))]
StudyId = Annotated[str, mapped_column(String(16))]
Ciphertext = Annotated[bytes, mapped_column(EncryptedBytes())]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[Any]: JSON,
        dt.datetime: UtcDateTime(),
    }


READ_ONLY = "psam_read_only"


def make_engine(url: str, *, pooler: str | None = None) -> Engine:
    """An engine for the URL, with SQLite made to behave as the ledger needs.

    ``pooler="pgbouncer"``: the URL goes through PgBouncer in transaction pooling mode, where
    each transaction may run on another server connection. psycopg's automatic prepared
    statements (made on the fifth run of a query, then used by name) would then name a
    statement that the next server connection never saw; ``prepare_threshold=None`` turns
    them off. The service's other session state is already transaction-scoped: advisory
    locks are ``pg_advisory_xact_lock``, settings are ``SET LOCAL`` (docs/scaling.md).
    """
    # hide_parameters: a database error's message would otherwise carry the bound values
    # (token hashes, study IDs, answers) into the logs.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if pooler == "pgbouncer":
        connect_args["prepare_threshold"] = None
    engine = create_engine(url, hide_parameters=True, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


# A connection back from the pool after this long unused is tested before use (a restarted
# server, PgBouncer or a firewall may have closed it). One in steady use is not: testing at
# every checkout (pool_pre_ping) costs a round trip per request, a sixth of a submit's.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi: Any, record: Any) -> None:
        record.info["psam_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("psam_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(dbapi)  # what pool_pre_ping runs, outside any transaction
        except Exception as exc:  # any failure: the pool discards it and connects anew
            raise DisconnectionError("the pooled connection is gone") from exc


def _configure_sqlite(engine: Engine) -> None:
    """Take the write lock at BEGIN so concurrent writers queue instead of interleaving.

    pysqlite's own transaction handling defers BEGIN until the first write and mishandles
    SAVEPOINT; SQLAlchemy's documented recipe turns it off and emits BEGIN itself. IMMEDIATE
    makes a transaction take the write lock up front, which is what keeps an appended hash
    chain linear when several processes write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        # Deleted content is overwritten with zeros, not left in free space: together with
        # the checkpoint after an erasure (services.erasure), erased bytes leave the files.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A long read (an export) must not hold the write lock: under WAL a deferred
        # transaction reads a snapshot while writers go on.
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """Holds the engine and hands each request (or CLI command) its own session."""

    def __init__(self, url: str, *, pooler: str | None = None, export_url: str | None = None):
        self.engine = make_engine(url, pooler=pooler)
        self.sessionmaker: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        # For long reads that write nothing (exports): no write lock on SQLite.
        self.read_sessionmaker: sessionmaker[Session] = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        # Where exports read their rows: a hot standby when one is set, else the primary.
        # Connected straight to the standby (a pooler in front of it is the operator's
        # choice, and the same prepared-statement rule then applies).
        self.export_engine = (
            make_engine(export_url, pooler=pooler) if export_url is not None else None
        )
        self._standby_sessionmaker: sessionmaker[Session] | None = (
            sessionmaker(self.export_engine, expire_on_commit=False)
            if self.export_engine is not None
            else None
        )

    @property
    def export_sessionmaker(self) -> sessionmaker[Session]:
        """Sessions for an export's rows: on the standby, or the primary's read sessions."""
        return self._standby_sessionmaker or self.read_sessionmaker

    def init_app(self, app: Flask) -> None:
        app.extensions["psam_db"] = self
        app.teardown_appcontext(_close_session)


def get_db() -> Database:
    db = current_app.extensions["psam_db"]
    if not isinstance(db, Database):
        raise RuntimeError("the app has no database")
    return db


def get_session() -> Session:
    """The session of the current request, opened on first use."""
    if "db_session" not in g:
        g.db_session = get_db().sessionmaker()
    session = g.db_session
    if not isinstance(session, Session):
        raise RuntimeError("g.db_session is not a session")
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
