"""Persistence for the hash-chained logs: serialised appends, checkpoints, reading, verifying."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.canonical import canonical_json
from service.domain.crypto import Keyring
from service.domain.ledger import (
    LOGS,
    Checkpoint,
    Entry,
    Verification,
    link,
    sign_checkpoint,
    verify_log,
)
from service.domain.ledger import public_key_id as key_fingerprint
from service.domain.log_export import (
    checkpoint_record,
    entry_record,
    header_record,
    strict_json,
)
from service.domain.signed_note import NoteSignature, key_hash, origin
from service.models import (
    AccessLogEntry,
    AuditWitness,
    CheckpointCosignature,
    ConsentLogEntry,
    LedgerCheckpoint,
    LedgerEntryMixin,
)

TABLES: dict[str, type[ConsentLogEntry] | type[AccessLogEntry]] = {
    "consent": ConsentLogEntry,
    "access": AccessLogEntry,
}
# pg_advisory_xact_lock keys, one per log, taken in this order when a request appends to both.
_LOCK_KEYS = {"consent": 0x5053414D0001, "access": 0x5053414D0002}
DEFAULT_CHECKPOINT_EVERY = 100
DEFAULT_CHECKPOINT_INTERVAL = 3600


def lock_logs(session: Session, *logs: str) -> None:
    """Serialise appends: call before reading anything the append depends on.

    On PostgreSQL a transaction-scoped advisory lock under READ COMMITTED; measured with 16
    writers it kept every link, where SELECT ... FOR UPDATE on the last row and REPEATABLE
    READ broke most links silently. On SQLite every transaction already begins IMMEDIATE
    (``service.db``), which holds the write lock for the whole transaction.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for log in sorted(logs, key=LOGS.index):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[log]})


def _to_entry(row: LedgerEntryMixin) -> Entry:
    return Entry(row.seq, row.prev_hash, row.hash, json.loads(row.event))


def _stored_event(row: LedgerEntryMixin) -> dict[str, Any] | None:
    """The stored event, if its bytes are exactly the RFC 8785 JSON of an object."""
    try:
        event = strict_json(row.event)
        if isinstance(event, dict) and canonical_json(event).decode("utf-8") == row.event:
            return event
    except ValueError:
        pass
    return None


def head(session: Session, log: str) -> Entry | None:
    """The last entry of a log."""
    table = TABLES[log]
    row = session.scalars(select(table).order_by(table.seq.desc()).limit(1)).one_or_none()
    return None if row is None else _to_entry(cast(LedgerEntryMixin, row))


def append_event(
    session: Session,
    keyring: Keyring,
    log: str,
    fields: Mapping[str, Any],
    *,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
) -> Entry:
    """Append an event (the caller has called ``lock_logs`` and commits). Signs a checkpoint
    every ``checkpoint_every`` entries, and whenever the oldest entry not yet signed is
    ``checkpoint_interval`` seconds old."""
    previous = head(session, log)
    recorded_at = utcnow()
    event = {
        **fields,
        "log": log,
        "seq": 1 if previous is None else previous.seq + 1,
        "recorded_at": utc_text(recorded_at),
    }
    entry = link(previous, event)
    session.add(
        TABLES[log](
            seq=entry.seq,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
            event=canonical_json(event).decode("utf-8"),
            type=str(event["type"]),
            study_id=event.get("study_id"),
            recorded_at=recorded_at,
        )
    )
    session.flush()
    if (checkpoint_every and entry.seq % checkpoint_every == 0) or _due(
        session, log, entry, checkpoint_interval, recorded_at
    ):
        _store_checkpoint(session, keyring, log, entry)
    return entry


def _due(session: Session, log: str, last: Entry, interval: int, now: dt.datetime) -> bool:
    """Whether the oldest entry after the last checkpoint has waited ``interval`` seconds."""
    if interval <= 0:
        return False
    signed = session.scalar(
        select(func.max(LedgerCheckpoint.length)).where(LedgerCheckpoint.log == log)
    )
    first_unsigned = (signed or 0) + 1
    if first_unsigned > last.seq:
        return False
    table = TABLES[log]
    oldest = session.scalar(select(table.recorded_at).where(table.seq == first_unsigned))
    return oldest is not None and now - oldest >= dt.timedelta(seconds=interval)


def checkpoint_if_due(
    session: Session, keyring: Keyring, log: str, interval: int, now: dt.datetime | None = None
) -> Checkpoint | None:
    """Sign the head if an entry has waited ``interval`` seconds unsigned (for cron or a
    worker; none otherwise). Commits."""
    lock_logs(session, log)
    last = head(session, log)
    made = None
    if last is not None and _due(session, log, last, interval, now or utcnow()):
        made = _store_checkpoint(session, keyring, log, last)
    session.commit()
    return made


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def public_key_id(keyring: Keyring) -> str:
    """A short fingerprint naming the checkpoint key."""
    return key_fingerprint(keyring.signing_key().public_key())


def public_key_pem(keyring: Keyring) -> str:
    return (
        keyring.signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _store_checkpoint(session: Session, keyring: Keyring, log: str, entry: Entry) -> Checkpoint:
    checkpoint = sign_checkpoint(
        keyring.signing_key(), log, entry.seq, entry.hash, utc_text(utcnow())
    )
    session.add(
        LedgerCheckpoint(
            log=log,
            length=checkpoint.length,
            head_hash=checkpoint.head_hash,
            time=checkpoint.time,
            signature=checkpoint.signatures[0].signature.hex(),
            key_id=public_key_id(keyring),
        )
    )
    session.flush()
    return checkpoint


def make_checkpoint(session: Session, keyring: Keyring, log: str) -> Checkpoint | None:
    """Sign a checkpoint of the log as it is now (none for an empty log, none twice). Commits."""
    lock_logs(session, log)
    last = head(session, log)
    if last is None:
        return None
    existing = session.scalars(
        select(LedgerCheckpoint).where(
            LedgerCheckpoint.log == log, LedgerCheckpoint.length == last.seq
        )
    ).one_or_none()
    checkpoint = (
        checkpoint_of(session, keyring, existing)
        if existing
        else _store_checkpoint(session, keyring, log, last)
    )
    session.commit()
    return checkpoint


def _cosignatures(
    session: Session, checkpoint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[NoteSignature]]:
    """Witnesses' signature lines per checkpoint, by witness name."""
    found: dict[uuid.UUID, list[NoteSignature]] = {}
    if not checkpoint_ids:
        return found
    rows = session.execute(
        select(
            CheckpointCosignature.checkpoint_id,
            AuditWitness.name,
            AuditWitness.public_key,
            CheckpointCosignature.signature,
        )
        .join(AuditWitness, AuditWitness.id == CheckpointCosignature.witness_id)
        .where(CheckpointCosignature.checkpoint_id.in_(checkpoint_ids))
        .order_by(AuditWitness.name)
    )
    for checkpoint_id, name, public_key, signature in rows:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
        line = NoteSignature(name, key_hash(name, key), bytes.fromhex(signature))
        found.setdefault(checkpoint_id, []).append(line)
    return found


def _as_checkpoint(
    keyring: Keyring, row: LedgerCheckpoint, cosignatures: list[NoteSignature]
) -> Checkpoint:
    name = origin(row.log)
    public_key = keyring.signing_key().public_key()
    signed = NoteSignature(name, key_hash(name, public_key), bytes.fromhex(row.signature))
    return Checkpoint(row.log, row.length, row.head_hash, row.time, (signed, *cosignatures))


def checkpoint_of(session: Session, keyring: Keyring, row: LedgerCheckpoint) -> Checkpoint:
    """One stored checkpoint as a signed note, with its co-signatures."""
    return _as_checkpoint(keyring, row, _cosignatures(session, [row.id]).get(row.id, []))


def checkpoint_rows(
    session: Session, keyring: Keyring, log: str
) -> list[tuple[uuid.UUID, Checkpoint]]:
    """A log's checkpoints by length, each with its id and as a signed note."""
    rows = session.scalars(
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.log == log)
        .order_by(LedgerCheckpoint.length)
    ).all()
    cosigned = _cosignatures(session, [row.id for row in rows])
    return [(row.id, _as_checkpoint(keyring, row, cosigned.get(row.id, []))) for row in rows]


def checkpoints(session: Session, keyring: Keyring, log: str) -> list[Checkpoint]:
    """A log's checkpoints by length, each as a signed note with its co-signatures."""
    return [checkpoint for _id, checkpoint in checkpoint_rows(session, keyring, log)]


def entries_query(
    log: str,
    *,
    after_seq: int = 0,
    study_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[Any]:
    table = TABLES[log]
    query = select(table).where(table.seq > after_seq).order_by(table.seq)
    if study_id is not None:
        query = query.where(table.study_id == study_id)
    if since is not None:
        query = query.where(table.recorded_at >= since)
    if until is not None:
        query = query.where(table.recorded_at < until)
    return query


def read_entries(session: Session, log: str, limit: int, **filters: Any) -> list[Entry]:
    """A page of entries, in seq order."""
    rows = session.scalars(entries_query(log, **filters).limit(limit))
    return [_to_entry(row) for row in rows]


def entries_of(session: Session, log: str, study_id: str) -> list[Entry]:
    """All of one participant's entries in a log, in seq order."""
    return [_to_entry(row) for row in session.scalars(entries_query(log, study_id=study_id))]


def iter_rows(session: Session, log: str, batch: int = 1000) -> Iterator[LedgerEntryMixin]:
    """Every stored row in seq order, read in batches so memory stays flat."""
    after = 0
    while True:
        rows = list(session.scalars(entries_query(log, after_seq=after).limit(batch)))
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify_stored_log(session: Session, keyring: Keyring, log: str) -> Verification:
    """Check the stored log: every link and hash, that each event is stored as its RFC 8785
    bytes, its filter columns, every checkpoint."""
    mismatched: list[int] = []

    def entries() -> Iterator[Entry]:
        for row in iter_rows(session, log):
            event = _stored_event(row)
            if event is None:
                mismatched.append(row.seq)
                event = {}
            entry = Entry(row.seq, row.prev_hash, row.hash, event)
            if (
                row.type != event.get("type")
                or row.study_id != event.get("study_id")
                or utc_text(row.recorded_at) != event.get("recorded_at")
            ):
                mismatched.append(entry.seq)
            yield entry

    public_key = keyring.signing_key().public_key()
    result = verify_log(log, entries(), checkpoints(session, keyring, log), public_key)
    if mismatched and (result.first_bad_seq is None or mismatched[0] < result.first_bad_seq):
        result.ok = False
        result.first_bad_seq = mismatched[0]
        result.problems.insert(0, f"seq {mismatched[0]}: a column disagrees with its event")
    return result


class LedgerWriter:
    """Appends to the logs within one session, signing checkpoints by count and by time."""

    def __init__(
        self,
        session: Session,
        keyring: Keyring,
        checkpoint_every: int,
        checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
    ):
        self.session = session
        self.keyring = keyring
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = checkpoint_interval

    def lock(self, *logs: str) -> None:
        lock_logs(self.session, *logs)

    def append(self, log: str, fields: Mapping[str, Any]) -> Entry:
        return append_event(
            self.session,
            self.keyring,
            log,
            fields,
            checkpoint_every=self.checkpoint_every,
            checkpoint_interval=self.checkpoint_interval,
        )


def export_records(session: Session, keyring: Keyring, log: str) -> Iterator[dict[str, Any]]:
    """The log as the records of a ``psam-ledger-export/2`` file (``domain.log_export``)."""
    last = head(session, log)
    signed = checkpoints(session, keyring, log)
    yield header_record(
        log,
        0 if last is None else last.seq,
        len(signed),
        public_key_id(keyring),
        utc_text(utcnow()),
    )
    for row in iter_rows(session, log):
        yield entry_record(_to_entry(row))
    for checkpoint in signed:
        yield checkpoint_record(checkpoint)
