"""What auditors read: pages of the logs, their verification, the checkpoints, the public
key and the export file for ``psam-verify``. Every read is itself an access-log event; the
JSON API and the staff console call these same functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from service.domain.ledger import Checkpoint, Entry, Verification
from service.services import ledger
from service.services.audit import record_access
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal


def read_log(
    session: Session, writer: LedgerWriter, principal: Principal, log: str, query: dict[str, Any]
) -> tuple[list[Entry], int | None]:
    """A page of a log's entries, filtered (study ID, time, after a seq), and the seq the
    next page starts after (None on the last page). Commits the access entry."""
    writer.lock("access")
    filters = dict(query)
    limit = filters.pop("limit")
    entries = ledger.read_entries(session, log, limit, **filters)
    record_access(
        writer,
        principal,
        f"audit.{log}-log.read",
        filters={k: str(v) for k, v in filters.items()} | {"limit": limit},
        rows=len(entries),
    )
    session.commit()
    return entries, (entries[-1].seq if len(entries) == limit else None)


def verify_log(
    session: Session, writer: LedgerWriter, principal: Principal, log: str
) -> Verification:
    """Recompute every hash and link and check every checkpoint. Commits the access entry."""
    writer.lock("access")
    result = ledger.verify_stored_log(session, writer.keyring, log)
    record_access(writer, principal, f"audit.{log}-log.verify", rows=result.length)
    session.commit()
    return result


def checkpoints(
    session: Session, writer: LedgerWriter, principal: Principal, log: str
) -> list[tuple[uuid.UUID, Checkpoint]]:
    """A log's signed checkpoints. Commits the access entry."""
    writer.lock("access")
    found = ledger.checkpoint_rows(session, writer.keyring, log)
    record_access(
        writer, principal, "audit.checkpoints.read", filters={"log": log}, rows=len(found)
    )
    session.commit()
    return found


def public_key(session: Session, writer: LedgerWriter, principal: Principal) -> str:
    """The checkpoint signing key (PEM). Commits the access entry."""
    writer.lock("access")
    record_access(writer, principal, "audit.public-key.read")
    session.commit()
    return ledger.public_key_pem(writer.keyring)


def export_lines(
    session: Session, writer: LedgerWriter, principal: Principal, log: str
) -> Iterator[dict[str, Any]]:
    """The records of a ``psam-ledger-export/2`` file; once they are all read, the export is
    an access-log event (the file holds the log as it was when it was read)."""
    count = 0
    for record in ledger.export_records(session, writer.keyring, log):
        count += record["kind"] == "entry"
        yield record
    writer.lock("access")
    record_access(writer, principal, f"audit.{log}-log.export", rows=count)
    session.commit()
