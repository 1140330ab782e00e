"""Data keys, encrypted fields, the identity vault and erasure, on top of ``domain.crypto``."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from service.db import Base, EncryptedBytes, utcnow
from service.domain.crypto import (
    CryptoError,
    DataKey,
    FieldContext,
    Keyring,
    decrypt_field,
    encrypt_field,
    new_data_key,
)
from service.domain.errors import NotFoundError
from service.models import (
    DataKeyRecord,
    IdentityValue,
    Interview,
    InterviewChunk,
    InterviewFile,
    KekPrimary,
    LanguageChoice,
    Notification,
    Participant,
    ReminderChoice,
)
from service.services.keyring import KeyringSource

IDENTITY_KINDS = ("name", "email", "phone", "signature")
# Tables without ciphertext whose rows about a participant go at erasure all the same: which
# messages went to them (a safety alert's among them) is a fact about them.
ERASED_IN_THE_CLEAR = (Notification, ReminderChoice, LanguageChoice)
# A participant's interviews, their recordings and transcripts: the chunks are ciphertext
# under the data key, and that there was an interview (when, with whom) is a fact about them.
INTERVIEW_TABLES = (InterviewChunk, InterviewFile, Interview)
XID_MODULUS = 2**32
_SESSION_DEKS = "psam.vault.data_keys"


class ErasedError(CryptoError):
    """The participant's data key is gone: what was theirs can no longer be read."""


class Vault:
    """Encrypts and decrypts one session's fields, caching each participant's data key."""

    # Bounded, so that memory does not grow with the number of participants; an export asks
    # for a larger cache of its own.
    CACHE_SIZE = 4096

    def __init__(self, session: Session, keys: KeyringSource, cache_size: int = CACHE_SIZE):
        self.session = session
        self.keys = keys
        self.cache_size = cache_size
        # The default-sized cache is the session's: a second vault in the same request (the
        # stored answer to an idempotent request) finds the key the work already unwrapped.
        deks = session.info.get(_SESSION_DEKS) if cache_size == self.CACHE_SIZE else None
        if deks is None:
            deks = OrderedDict()
            if cache_size == self.CACHE_SIZE:
                session.info[_SESSION_DEKS] = deks
        self._deks: OrderedDict[str, DataKey] = deks

    def _remember(self, study_id: str, dek: DataKey) -> DataKey:
        self._deks[study_id] = dek
        self._deks.move_to_end(study_id)
        while len(self._deks) > self.cache_size:
            self._deks.popitem(last=False)
        return dek

    def create_data_key(self, study_id: str) -> DataKey:
        """Give a new participant a data key, wrapped by the primary KEK."""
        # Read FOR SHARE: a rotation that updates this row waits for this transaction, and
        # once it has updated it, this reload sees the new primary.
        recorded = self.session.scalars(
            select(KekPrimary.kek_id).where(KekPrimary.id == 1).with_for_update(read=True)
        ).one_or_none()
        keyring = self.keys.current()
        if recorded is not None and recorded != keyring.primary.id:
            keyring = self.keys.reload()
        dek = new_data_key()
        self.session.add(
            DataKeyRecord(
                study_id=study_id,
                kek_id=keyring.primary.id,
                wrapped=keyring.wrap_data_key(dek, study_id),
                created_at=utcnow(),
                rewrapped_at=None,
            )
        )
        return self._remember(study_id, dek)

    def data_key(self, study_id: str) -> DataKey:
        """A participant's data key, unwrapped once while it stays in the cache."""
        cached = self._deks.get(study_id)
        if cached is not None:
            self._deks.move_to_end(study_id)
            return cached
        record = self.session.get(DataKeyRecord, study_id)
        if record is None:
            raise ErasedError(f"no data key for {study_id}: their data has been erased")
        return self.adopt(study_id, record.kek_id, record.wrapped)

    def known_key(
        self, study_id: str, kek_id: str, wrapped: bytes, keyring: Keyring | None = None
    ) -> DataKey:
        """A data key the caller has read: from the cache, or unwrapped now (with ``keyring``
        when the caller holds one it read a moment ago)."""
        cached = self._deks.get(study_id)
        if cached is not None:
            return cached
        return self.adopt(study_id, kek_id, wrapped, keyring)

    def adopt(
        self, study_id: str, kek_id: str, wrapped: bytes, keyring: Keyring | None = None
    ) -> DataKey:
        """Unwrap a data key the caller has already read, and keep it for this session."""
        if keyring is None or kek_id not in keyring.keks:
            keyring = self.keys.current()
        if kek_id not in keyring.keks:
            keyring = self.keys.reload()  # a rotation has added a KEK since we read
        return self._remember(study_id, keyring.unwrap_data_key(wrapped, study_id))

    def encrypt(
        self, value: Any, table: str, column: str, row_id: uuid.UUID | str, study_id: str
    ) -> bytes:
        context = FieldContext(table, column, str(row_id), study_id)
        return encrypt_field(self.data_key(study_id), value, context)

    def decrypt(
        self, blob: bytes, table: str, column: str, row_id: uuid.UUID | str, study_id: str
    ) -> Any:
        context = FieldContext(table, column, str(row_id), study_id)
        return decrypt_field(self.data_key(study_id), blob, context)

    # --- the identity vault -----------------------------------------------------------------

    def store_identity(self, study_id: str, kind: str, value: Any) -> IdentityValue:
        """Keep one direct identifier, encrypted, in the vault."""
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"identity kind must be one of {IDENTITY_KINDS}")
        row = IdentityValue(id=uuid.uuid4(), study_id=study_id, kind=kind, recorded_at=utcnow())
        row.value = self.encrypt(value, IdentityValue.__tablename__, "value", row.id, study_id)
        self.session.add(row)
        return row

    def identities(self, study_id: str) -> list[tuple[str, Any]]:
        """A participant's identifiers, decrypted, oldest first."""
        rows = self.session.scalars(
            select(IdentityValue)
            .where(IdentityValue.study_id == study_id)
            .order_by(IdentityValue.recorded_at)
        )
        return [
            (
                row.kind,
                self.decrypt(row.value, IdentityValue.__tablename__, "value", row.id, study_id),
            )
            for row in rows
        ]


def encrypted_tables() -> list[str]:
    """Every table with an encrypted column and a study_id: what erasure must reach, in an
    order that deletes rows before the rows they refer to."""
    return [
        table.name
        for table in reversed(Base.metadata.sorted_tables)
        if "study_id" in table.c and any(isinstance(c.type, EncryptedBytes) for c in table.c)
    ]


@dataclass(frozen=True)
class ShredReport:
    study_id: str
    rows_deleted: dict[str, int]


def shred_participant(session: Session, study_id: str) -> ShredReport:
    """Delete a participant's data key and every row of theirs that holds ciphertext.

    The caller commits, in the same transaction as the event that records why. Afterwards
    nothing of theirs can be read through the database; the deleted bytes leave its files
    when the purge that this marks pending has run (``services.erasure``). Backups are
    another matter (docs/erasure.md).
    """
    participant = session.scalars(
        select(Participant).where(Participant.study_id == study_id)
    ).one_or_none()
    if participant is None:
        raise NotFoundError(f"There is no participant {study_id}.")
    counts: dict[str, int] = {}
    for model in ERASED_IN_THE_CLEAR:  # docs/notifications.md
        result = session.execute(delete(model).where(model.study_id == study_id))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    counts.update(_erase_interviews(session, study_id))
    for name in encrypted_tables():
        table = Base.metadata.tables[name]
        result = session.execute(delete(table).where(table.c.study_id == study_id))
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    result = session.execute(delete(DataKeyRecord).where(DataKeyRecord.study_id == study_id))
    session.info.get(_SESSION_DEKS, {}).pop(study_id, None)
    counts[DataKeyRecord.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    participant.erased_at = utcnow()
    # The site is kept while the study runs; after erasure it is one more fact about a
    # person known by a study ID (where they were recruited), and nothing needs it.
    participant.site = None
    mark_erasure_pending(session, participant)
    session.flush()
    return ShredReport(study_id, counts)


def _erase_interviews(session: Session, study_id: str) -> dict[str, int]:
    """Delete a participant's interviews with their files and chunks; the slot an interview
    held is free again, since the slot is only referred to by the interview's row."""
    theirs = select(Interview.id).where(Interview.study_id == study_id)
    files = select(InterviewFile.id).where(InterviewFile.interview_id.in_(theirs))
    statements = (
        delete(InterviewChunk).where(InterviewChunk.file_id.in_(files)),
        delete(InterviewFile).where(InterviewFile.interview_id.in_(theirs)),
        delete(Interview).where(Interview.study_id == study_id),
    )
    counts = {}
    for model, statement in zip(INTERVIEW_TABLES, statements, strict=True):
        result = session.execute(statement.execution_options(synchronize_session=False))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return counts


def mark_erasure_pending(session: Session, person: Participant) -> None:
    """Record, in the erasing transaction, that the files still hold what it deleted."""
    person.purged_at = None
    if session.get_bind().dialect.name == "postgresql":
        xid = session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        person.erasure_xid = int(xid or 0) % XID_MODULUS


def data_keys_per_kek(session: Session) -> dict[str, int]:
    """How many data keys each KEK wraps."""
    rows = session.execute(
        select(DataKeyRecord.kek_id, func.count()).group_by(DataKeyRecord.kek_id)
    )
    return {kek_id: count for kek_id, count in rows}
