"""The purge that follows an erasure: what ``stop-and-erase`` deleted leaves the database files.

Deleting rows is not enough: SQLite keeps deleted bytes in free space and in its WAL, and
PostgreSQL keeps deleted rows in its table files until they are rewritten. The erasure's own
transaction deletes the rows and leaves the participant's ``purged_at`` empty: a purge is
pending. The purge runs right after that commit (the request that erased waits for it) and
again from ``flask --app wsgi erasure purge``, run by cron, for any purge that did not
complete (a crash between the commit and the purge, a reader that held an old snapshot, a
table lock that did not come in time). See docs/erasure.md for the design and its bound.

- SQLite: every connection has ``secure_delete`` on, so deleted content is overwritten with
  zeros in the page that held it; a ``wal_checkpoint(TRUNCATE)`` then copies those pages
  into the database file and empties the WAL, where the older page images were.
- PostgreSQL: ``VACUUM FULL`` rewrites each table that held the participant's rows into a new
  file without the dead rows; the old file is truncated when the VACUUM commits. A rewrite
  keeps deleted rows that a snapshot older than the erasure can still see, so an erasure is
  marked purged only when no such snapshot was open when the rewrite started.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, text, update
from sqlalchemy.orm import Session

from service.db import Base, Database, utcnow
from service.models import DataKeyRecord, Participant
from service.services.vault import ERASED_IN_THE_CLEAR, INTERVIEW_TABLES, encrypted_tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    """What one purge run did."""

    purged: list[str] = field(default_factory=list)  # study IDs now gone from the files
    waiting: list[str] = field(default_factory=list)  # still pending after this run
    reason: str | None = None  # why those still wait
    seconds: float = 0.0


def rewritten_tables() -> list[str]:
    """The tables a PostgreSQL purge rewrites: every one that held a participant's
    ciphertext, their data key, the rows erased in the clear (their messages), and
    ``participants`` (whose old row versions hold the site)."""
    return [
        DataKeyRecord.__tablename__,
        *(name for name in encrypted_tables() if name != DataKeyRecord.__tablename__),
        *(model.__tablename__ for model in ERASED_IN_THE_CLEAR),
        *(model.__tablename__ for model in INTERVIEW_TABLES),
        Participant.__tablename__,
    ]


def pending_erasures(session: Session) -> list[tuple[str, int | None]]:
    """Erasures whose rows may still be in the database files: study ID and erasing xid."""
    rows = session.execute(
        select(Participant.study_id, Participant.erasure_xid)
        .where(Participant.erased_at.is_not(None), Participant.purged_at.is_(None))
        .order_by(Participant.erased_at)
    )
    return [(study_id, xid) for study_id, xid in rows]


def purge_erasures(db: Database, wait_seconds: float) -> PurgeReport:
    """Remove erased participants' deleted rows from the database files; mark those done.

    Waits at most about ``wait_seconds`` for a lock or for readers. Commits its own changes.
    """
    started = time.monotonic()
    with db.read_sessionmaker() as session:
        pending = pending_erasures(session)
    if not pending:
        return PurgeReport(seconds=time.monotonic() - started)
    if db.engine.dialect.name == "postgresql":
        reached, reason = _purge_postgresql(db, pending, wait_seconds)
    else:
        reached, reason = _purge_sqlite(db, pending, wait_seconds)
    if reached:
        with db.sessionmaker() as session:
            session.execute(
                update(Participant)
                .where(Participant.study_id.in_(reached), Participant.purged_at.is_(None))
                .values(purged_at=utcnow())
            )
            session.commit()
    waiting = [study_id for study_id, _xid in pending if study_id not in reached]
    if waiting:
        log.warning("erasure purge: %d still pending (%s)", len(waiting), reason)
    return PurgeReport(reached, waiting, reason, time.monotonic() - started)


def _purge_sqlite(
    db: Database, pending: list[tuple[str, int | None]], wait_seconds: float
) -> tuple[list[str], str | None]:
    # Outside any transaction: a checkpoint cannot run inside one. The busy timeout bounds
    # how long it waits for readers of older WAL frames to finish.
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {max(0, int(wait_seconds * 1000))}")
        busy, _log_frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()
    finally:
        raw.close()
    if busy:
        return [], "a reader or writer kept the WAL busy; the checkpoint did not complete"
    return [study_id for study_id, _xid in pending], None


def _purge_postgresql(
    db: Database, pending: list[tuple[str, int | None]], wait_seconds: float
) -> tuple[list[str], str | None]:
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        # Decided before the rewrite starts: the rewrite keeps what these snapshots can see.
        # They are waited for (within the wait): a short transaction elsewhere ends soon.
        deadline = time.monotonic() + wait_seconds
        while True:
            reached = [sid for sid, xid in pending if not _older_snapshot_open(conn, xid)]
            if len(reached) == len(pending) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not reached:
            return [], "a transaction older than the erasure is still open (a backup?)"
        # No session setting (such as SET lock_timeout) bounds the wait: through PgBouncer
        # in transaction pooling each autocommit statement may run on another server
        # connection, so a setting would miss the VACUUM and stay behind for whichever
        # client gets that connection next. SKIP_LOCKED skips a table whose lock is not free
        # at once (with a notice); such tables are tried again until the wait is over.
        tables = [Base.metadata.tables[name].name for name in rewritten_tables()]
        if not _rewrite_within(conn, tables, time.monotonic() + wait_seconds):
            return [], "a table lock did not come within the wait; the rewrite is to be rerun"
    return reached, None if len(reached) == len(pending) else "an older transaction is open"


def rewrite_table_files(
    db: Database, names: list[str], wait_seconds: float, deleted_by: int | None = None
) -> str | None:
    """Make rows deleted from these tables leave the database files (as a purge does, for
    rows that are not an erased participant's, e.g. a recording destroyed on schedule).
    ``deleted_by`` is the deleting transaction's xid (PostgreSQL): the rewrite waits, up to
    ``wait_seconds``, for snapshots older than it to end, since it would keep what they see.
    None when done; otherwise why not, for the next run to retry."""
    if db.engine.dialect.name != "postgresql":
        _reached, reason = _purge_sqlite(db, [], wait_seconds)
        return reason
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + wait_seconds
        while _older_snapshot_open(conn, deleted_by):
            if time.monotonic() >= deadline:
                return "a transaction older than the deletion is still open (a backup?)"
            time.sleep(0.1)
        tables = [Base.metadata.tables[name].name for name in names]
        if not _rewrite_within(conn, tables, deadline):
            return "a table lock did not come within the wait; the rewrite is to be rerun"
    return None


def _rewrite(conn: Connection, table: str) -> bool:
    """VACUUM FULL one table unless another transaction holds a lock on it; whether it ran."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("no PostgreSQL connection to listen for notices on")
    skipped: list[object] = []

    def on_notice(diagnostic: Any) -> None:
        if diagnostic.sqlstate == _LOCK_NOT_AVAILABLE:
            skipped.append(diagnostic)

    driver.add_notice_handler(on_notice)
    try:
        conn.exec_driver_sql(f'VACUUM (FULL, SKIP_LOCKED) "{table}"')
    finally:
        driver.remove_notice_handler(on_notice)
    return not skipped


_LOCK_NOT_AVAILABLE = "55P03"


def _rewrite_within(conn: Connection, tables: list[str], deadline: float) -> bool:
    """VACUUM FULL each table, trying again those whose lock is taken until ``deadline``;
    whether every one was rewritten."""
    while tables := [name for name in tables if not _rewrite(conn, name)]:
        if time.monotonic() >= deadline:
            log.warning("VACUUM FULL did not get the lock on %s", tables)
            return False
        time.sleep(0.05)
    return True


def _older_snapshot_open(conn: Connection, erasure_xid: int | None) -> bool:
    """Whether any snapshot, prepared transaction, replication slot or standby (through
    hot_standby_feedback) still open may see rows that the erasing transaction deleted (so a
    rewrite now would keep them). Other roles' sessions show their xmin only to a role with
    pg_read_all_stats: grant it to the service's role (docs/erasure.md)."""
    if erasure_xid is None:  # erased before revision 0006 recorded xids: long ago
        return False
    # age() counts back from the next xid, so an older xmin has a greater age.
    return bool(conn.scalar(_OLDER_HORIZONS, {"xid": erasure_xid}))


_OLDER_HORIZONS = text(
    """
    SELECT count(*) FROM (
        SELECT backend_xmin AS xmin FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND backend_xmin IS NOT NULL
        -- A writer between statements shows its xid and no xmin; any snapshot taken while
        -- it runs (the rewrite's own among them) keeps what it cannot yet see as dead.
        UNION ALL SELECT backend_xid FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL
        UNION ALL SELECT xmin FROM pg_replication_slots WHERE xmin IS NOT NULL
        UNION ALL SELECT backend_xmin FROM pg_stat_replication WHERE backend_xmin IS NOT NULL
        UNION ALL SELECT transaction FROM pg_prepared_xacts
    ) AS h
    WHERE age(h.xmin) >= age(CAST(CAST(:xid AS text) AS xid))
    """
)
