"""Interview recordings and transcripts: streamed in, sealed chunk by chunk, verified before
they are streamed out, destroyed on schedule.

A file's bytes are sealed by ``domain.chunked`` (age's STREAM, random nonces) under the
participant's data key, so erasure of the key makes every chunk noise, and stored as rows of
``interview_chunks`` inserted as they are sealed, in the upload's one transaction: a failed
or refused upload leaves nothing. A download first opens every chunk (and discards it) in a
snapshot, then opens them again in that same snapshot to send them, so nothing is sent of a
file that does not authenticate whole (docs/recordings.md).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import uuid
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database, utcnow
from service.domain.chunked import StreamContext, decrypt_stream, encrypt_stream
from service.domain.consent import CONSENTED, NEEDS_RECONSENT, ConsentState
from service.domain.crypto import CryptoError, DataKey
from service.domain.errors import (
    ClauseNotInForceError,
    ConflictError,
    IntegrityCheckError,
    InvalidInputError,
    NotFoundError,
    TooLargeError,
)
from service.models import Interview, InterviewChunk, InterviewFile
from service.services.audit import Trail
from service.services.context import participant_context
from service.services.erasure import rewrite_table_files
from service.services.keyring import KeyringSource
from service.services.vault import XID_MODULUS, Vault

AUDIO, TRANSCRIPT = "audio", "transcript"
KINDS = (AUDIO, TRANSCRIPT)
PURPOSES = {AUDIO: "interview-audio", TRANSCRIPT: "interview-transcript"}
AUDIO_CLAUSE = "c_audio_recording"
# An interview in these states took place or may still: its files may be stored.
CLOSED_STATUSES = ("cancelled", "declined")
# Sealed chunks written per INSERT (64 KiB each): few round trips, about 1 MB in hand.
INSERT_BATCH = 16
# Chunks fetched per round trip when reading a file back.
READ_BATCH = 16
_CHUNKS = cast(Table, InterviewChunk.__table__)
_FILES = cast(Table, InterviewFile.__table__)


@dataclass(frozen=True)
class FileStatus:
    """What is stored of one of an interview's files (never its content)."""

    kind: str
    media_type: str
    bytes: int
    sha256: str
    uploaded_at: dt.datetime
    verified_at: dt.datetime | None
    destroyed_at: dt.datetime | None


def status_of(row: InterviewFile) -> FileStatus:
    return FileStatus(
        row.kind,
        row.media_type,
        row.bytes,
        row.sha256,
        row.uploaded_at,
        row.verified_at,
        row.destroyed_at,
    )


def stream_context(row: InterviewFile) -> StreamContext:
    """The context a file's chunks are sealed for: its kind, its interview and this upload,
    so a chunk of another interview, of the other kind, or of a replaced upload is refused."""
    return StreamContext(PURPOSES[row.kind], f"{row.interview_id}/{row.id}")


def interview(session: Session, interview_id: uuid.UUID) -> Interview:
    """An interview by id, or NotFoundError."""
    found = session.get(Interview, interview_id)
    if found is None:
        raise NotFoundError(f"There is no interview {interview_id}.")
    return found


def _in_force(consent: ConsentState) -> bool:
    return consent.state in (CONSENTED, NEEDS_RECONSENT)


def require_clause(consent: ConsentState, clause: str, step: str) -> None:
    """Refuse ``step`` unless the consent in force includes ``clause``."""
    if not (_in_force(consent) and consent.clauses.get(clause) is True):
        raise ClauseNotInForceError(
            clause,
            f"The participant's consent in force does not include {clause}: {step} is not allowed.",
        )


class Intake:
    """A body's pieces, hashed and counted as they pass: TooLargeError past ``limit``, and
    InvalidInputError for a text body that is not UTF-8."""

    def __init__(self, body: Iterable[bytes], limit: int, *, text: bool):
        self.body, self.limit = body, limit
        self.digest = hashlib.sha256()
        self.total = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")() if text else None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for piece in self.body:
                self.total += len(piece)
                if self.total > self.limit:
                    raise TooLargeError(f"The request body is over {self.limit} bytes.")
                if self.decoder is not None:
                    self.decoder.decode(piece)
                self.digest.update(piece)
                yield piece
            if self.decoder is not None:
                self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInputError({"body": ["is not UTF-8 text"]}) from None


_UPLOAD_RACE = (
    "Another upload of this interview's {kind} was stored at the same moment; nothing of "
    "this one was stored. Check which one is kept before sending it again."
)


def store_file(
    session: Session,
    keys: KeyringSource,
    trail: Trail,
    interview_id: uuid.UUID,
    kind: str,
    media_type: str,
    body: Iterable[bytes],
    limit: int,
) -> FileStatus:
    """Seal a streamed body into an interview's recording or transcript, replacing any
    earlier one, and log it. One transaction; commits once."""
    found = interview(session, interview_id)
    # Consent first: a withdrawal also cancels the interview, and the clause is the reason.
    context = participant_context(session, found.study_id, for_writing=True)
    if kind == AUDIO:
        require_clause(context.consent, AUDIO_CLAUSE, "recording the interview")
    elif not _in_force(context.consent):
        raise ClauseNotInForceError(
            "c_take_part", "The participant's consent is not in force: no transcript is stored."
        )
    if found.status in CLOSED_STATUSES:
        raise ConflictError(f"The interview is {found.status}: nothing is stored for it.")
    dek = Vault(session, keys).data_key(found.study_id)
    _remove(session, interview_id, kind)
    row = InterviewFile(
        id=uuid.uuid4(),
        interview_id=interview_id,
        kind=kind,
        media_type=media_type,
        bytes=0,
        sha256="",
        chunk_count=0,
        uploaded_by=trail.principal.token_id,
        uploaded_at=utcnow(),
        verified_by=None,
        verified_at=None,
        destroyed_at=None,
    )
    session.add(row)
    try:
        # Another upload of the same file, not yet committed, holds this key: PostgreSQL
        # waits for it, then refuses this one before its body is read.
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(_UPLOAD_RACE.format(kind=kind)) from exc
    intake = Intake(body, limit, text=kind == TRANSCRIPT)
    count = 0
    batch: list[dict[str, object]] = []
    for record in encrypt_stream(dek, intake, stream_context(row)):
        batch.append({"file_id": row.id, "idx": count, "data": record})
        count += 1
        if len(batch) == INSERT_BATCH:
            session.execute(insert(_CHUNKS), batch)
            batch = []
    if batch:
        session.execute(insert(_CHUNKS), batch)
    row.bytes = intake.total
    row.sha256 = intake.digest.hexdigest()
    row.chunk_count = count
    trail.record(
        session,
        f"interview.{kind}.upload",
        study_id=found.study_id,
        filters={"interview": str(interview_id), "bytes": row.bytes},
        rows=1,
    )
    session.commit()
    return status_of(row)


def _remove(session: Session, interview_id: uuid.UUID, kind: str) -> None:
    """Delete the file an upload replaces; a recording destroyed on schedule stays so."""
    earlier = _file_row(session, interview_id, kind)
    if earlier is None:
        return
    if earlier.destroyed_at is not None:
        raise ConflictError(
            "This interview's recording was destroyed after its transcript was verified; "
            "it is not stored again."
        )
    session.execute(delete(_CHUNKS).where(_CHUNKS.c.file_id == earlier.id))
    gone = session.execute(delete(_FILES).where(_FILES.c.id == earlier.id))
    session.expunge(earlier)
    # None deleted: another upload replaced it meanwhile (this one waited for that one).
    if getattr(gone, "rowcount", 0) == 0:
        raise ConflictError(_UPLOAD_RACE.format(kind=kind))


def _file_row(session: Session, interview_id: uuid.UUID, kind: str) -> InterviewFile | None:
    return session.scalars(
        select(InterviewFile).where(
            InterviewFile.interview_id == interview_id, InterviewFile.kind == kind
        )
    ).one_or_none()


def stored_file(session: Session, interview_id: uuid.UUID, kind: str) -> InterviewFile:
    """An interview's file of ``kind`` whose content is still stored, or NotFoundError."""
    interview(session, interview_id)
    row = _file_row(session, interview_id, kind)
    if row is None:
        raise NotFoundError(f"Interview {interview_id} has no {kind}.")
    if row.destroyed_at is not None:
        raise NotFoundError(
            f"Interview {interview_id}'s {kind} was destroyed on "
            f"{row.destroyed_at.date().isoformat()}, after its transcript was verified."
        )
    return row


def files_of(session: Session, trail: Trail, interview_id: uuid.UUID) -> dict[str, FileStatus]:
    """What is stored of an interview's files, by kind; the read is logged. Commits."""
    found = interview(session, interview_id)
    rows = session.scalars(select(InterviewFile).where(InterviewFile.interview_id == interview_id))
    files = {row.kind: status_of(row) for row in rows}
    trail.record(
        session,
        "interview.files.read",
        study_id=found.study_id,
        filters={"interview": str(interview_id)},
        rows=len(files),
    )
    session.commit()
    return files


def chunk_records(reading: Session, file_id: uuid.UUID) -> Generator[bytes]:
    """A file's sealed chunks in index order, a batch at a time (a server-side cursor on
    PostgreSQL), so a large file is never read whole."""
    rows = reading.connection().execute(
        select(_CHUNKS.c.data)
        .where(_CHUNKS.c.file_id == file_id)
        .order_by(_CHUNKS.c.idx)
        .execution_options(yield_per=READ_BATCH)
    )
    try:
        for (data,) in rows:
            yield bytes(data)
    finally:
        rows.close()


@contextmanager
def plaintext_of(reading: Session, dek: DataKey, row: InterviewFile) -> Iterator[Iterator[bytes]]:
    """A file's plaintext, chunk by chunk, as it authenticates; its cursor is closed when
    the block ends, however it ends (a failed chunk, a client gone)."""
    records = chunk_records(reading, row.id)
    try:
        yield decrypt_stream(dek, records, stream_context(row))
    finally:
        records.close()


def _verify(reading: Session, dek: DataKey, row: InterviewFile) -> None:
    """Open every chunk and discard it: IntegrityCheckError unless the whole file
    authenticates and is the size and hash recorded at upload."""
    digest, total = hashlib.sha256(), 0
    try:
        with plaintext_of(reading, dek, row) as chunks:
            for chunk in chunks:
                digest.update(chunk)
                total += len(chunk)
    except CryptoError as error:
        raise IntegrityCheckError(
            f"The {row.kind} of interview {row.interview_id} failed its integrity check "
            f"({type(error).__name__}); nothing of it was sent."
        ) from None
    if total != row.bytes or digest.hexdigest() != row.sha256:
        raise IntegrityCheckError(
            f"The {row.kind} of interview {row.interview_id} is not the file that was "
            "uploaded; nothing of it was sent."
        )


@dataclass(frozen=True)
class Download:
    status: FileStatus
    plaintext: Generator[bytes]


def record_download(session: Session, trail: Trail, interview_id: uuid.UUID, kind: str) -> None:
    """Log a researcher's download of a file that is stored (NotFoundError otherwise), before
    any of it is read. Commits."""
    stored_file(session, interview_id, kind)
    trail.record(
        session,
        f"interview.{kind}.read",
        study_id=interview(session, interview_id).study_id,
        filters={"interview": str(interview_id)},
        rows=1,
    )
    session.commit()


def checked_download(
    reading: Session, keys: KeyringSource, interview_id: uuid.UUID, kind: str
) -> Download:
    """Open every chunk of a file in ``reading``'s snapshot (IntegrityCheckError if any
    fails), and hand back its plaintext, to be read again from that same snapshot."""
    row = stored_file(reading, interview_id, kind)
    dek = Vault(reading, keys).data_key(interview(reading, interview_id).study_id)
    _verify(reading, dek, row)
    return Download(status_of(row), _sent(reading, dek, row))


def _sent(reading: Session, dek: DataKey, row: InterviewFile) -> Generator[bytes]:
    with plaintext_of(reading, dek, row) as chunks:
        yield from chunks


def verify_transcript(session: Session, trail: Trail, interview_id: uuid.UUID) -> FileStatus:
    """A researcher marks the transcript checked (de-identified, faithful); the recording's
    retention period starts then. Repeating it changes nothing. Commits."""
    row = stored_file(session, interview_id, TRANSCRIPT)
    if row.verified_at is None:
        row.verified_at = utcnow()
        row.verified_by = trail.principal.token_id
    trail.record(
        session,
        "interview.transcript.verify",
        study_id=interview(session, interview_id).study_id,
        filters={"interview": str(interview_id)},
        rows=1,
    )
    session.commit()
    return status_of(row)


def destroy_expired_audio(
    session: Session, trail: Trail, now: dt.datetime, retention_days: int
) -> tuple[list[uuid.UUID], int | None]:
    """Destroy every recording whose transcript was verified ``retention_days`` or more
    ago: its chunks are deleted, its row keeps what existed with ``destroyed_at``; each is
    logged. The interviews whose audio went, and the deleting transaction's xid on
    PostgreSQL (for the rewrite that follows). Commits."""
    cutoff = now - dt.timedelta(days=retention_days)
    transcripts = select(InterviewFile.interview_id).where(
        InterviewFile.kind == TRANSCRIPT, InterviewFile.verified_at <= cutoff
    )
    due = session.execute(
        select(InterviewFile, Interview.study_id)
        .join(Interview, Interview.id == InterviewFile.interview_id)
        .where(
            InterviewFile.kind == AUDIO,
            InterviewFile.destroyed_at.is_(None),
            InterviewFile.interview_id.in_(transcripts),
        )
    ).all()
    for row, study_id in due:
        session.execute(delete(_CHUNKS).where(_CHUNKS.c.file_id == row.id))
        row.destroyed_at = now
        trail.record(
            session,
            "interview.audio.destroy",
            study_id=study_id,
            filters={"interview": str(row.interview_id), "retention_days": retention_days},
            rows=row.chunk_count,
        )
    xid = None
    if due and session.get_bind().dialect.name == "postgresql":
        xid = int(session.scalar(text("SELECT pg_current_xact_id()::text::bigint")) or 0)
        xid %= XID_MODULUS
    session.commit()
    return [row.interview_id for row, _study_id in due], xid


@dataclass(frozen=True)
class RetentionReport:
    destroyed: list[uuid.UUID]
    rewrite_pending: str | None  # why the files may still hold destroyed chunks, or None


def run_audio_retention(
    db: Database,
    trail: Trail,
    retention_days: int,
    wait_seconds: float,
    *,
    now: dt.datetime | None = None,
    rewrite: bool = False,
) -> RetentionReport:
    """The retention job: destroy the recordings that are due, then rewrite the chunk
    table's files so their bytes leave the disk (also when ``rewrite`` asks it to, to
    finish a rewrite an earlier run could not)."""
    with db.sessionmaker() as session:
        destroyed, xid = destroy_expired_audio(session, trail, now or utcnow(), retention_days)
    pending = None
    if destroyed or rewrite:
        pending = rewrite_table_files(db, [InterviewChunk.__tablename__], wait_seconds, xid)
    return RetentionReport(destroyed, pending)
