"""Idempotency keys: the first answer to a request is kept and replayed to its retries.

A key is claimed in a short transaction of its own before the request runs, so of many
concurrent requests with one key exactly one runs; the others see it in progress (409) or,
once it has finished, get its answer replayed. The stored answer is ciphertext under the
participant's data key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, InvalidInputError
from service.models import IdempotencyRecord
from service.services.keyring import KeyringSource
from service.services.vault import ErasedError, Vault

# A claim older than this whose request never finished (the process died) may be taken over.
ABANDONED_AFTER = dt.timedelta(minutes=2)
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def claim(
    session: Session, keys: KeyringSource, study_id: str, key: str, request_sha256: str
) -> IdempotencyRecord | Replay:
    """Claim a key for this request, or return the stored answer of the first request."""
    record = IdempotencyRecord(
        id=uuid.uuid4(),
        study_id=study_id,
        key=key,
        request_sha256=request_sha256,
        status_code=None,
        body=None,
        created_at=utcnow(),
    )
    session.add(record)
    try:
        session.commit()
        return record
    except IntegrityError:
        session.rollback()
    existing = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.study_id == study_id, IdempotencyRecord.key == key
        )
    ).one()
    if existing.request_sha256 != request_sha256:
        raise InvalidInputError(
            {HEADER: ["this key was already used for a different request"]},
            "The Idempotency-Key was already used with another body or address.",
        )
    if existing.status_code is None or existing.body is None:
        if utcnow() - existing.created_at < ABANDONED_AFTER:
            raise ConflictError("A request with this Idempotency-Key is still running: retry soon.")
        existing.created_at = utcnow()  # the first attempt died: this one takes over
        session.commit()
        return existing
    body = Vault(session, keys).decrypt(
        existing.body, "idempotency_records", "body", existing.id, study_id
    )
    session.rollback()
    return Replay(existing.status_code, body)


def store(
    session: Session, keys: KeyringSource, record_id: uuid.UUID, status_code: int, body: str
) -> None:
    """Keep the answer for replay (not when the request erased the participant). Commits."""
    session.rollback()  # leave whatever the request's own transaction left behind
    record = session.get(IdempotencyRecord, record_id)
    if record is None:  # erased along with the participant's data
        return
    try:
        record.body = Vault(session, keys).encrypt(
            body, "idempotency_records", "body", record.id, record.study_id
        )
    except ErasedError:
        session.rollback()
        return
    record.status_code = status_code
    session.commit()


def release(session: Session, record_id: uuid.UUID) -> None:
    """Give up a claim after a failure that a retry might not meet. Commits."""
    session.rollback()
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    session.commit()
