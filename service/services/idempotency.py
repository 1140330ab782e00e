"""Idempotency keys: the first answer to a request is kept and replayed to its retries.

The key is claimed, the work done and the answer stored in one transaction (the request's
own; ``deferred_commit`` holds back the service's commit until the answer is known), so after
a crash a retry finds either nothing, and runs, or the answer, and gets it replayed. Of many
concurrent requests with one key, one runs; the others wait on the key's unique index, then
get its answer. The stored answer is ciphertext under the participant's data key.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, InvalidInputError
from service.models import ErasureReceipt, IdempotencyRecord, ParticipantToken
from service.services.keyring import KeyringSource
from service.services.vault import ErasedError, Vault

# A claim whose work committed but whose answer was never stored (the process died between
# the two commits) may be taken over after this long; requests take milliseconds.
ABANDONED_AFTER = dt.timedelta(seconds=10)
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID
    study_id: str
    key: str
    request_sha256: str


_RECORDS = cast(Table, IdempotencyRecord.__table__)


@functools.cache
def _claim_statement(dialect: str) -> Executable:
    """INSERT the claim unless the key is taken: one round trip on the common path."""
    if dialect == "postgresql":
        build: Any = postgresql_insert(_RECORDS)
    elif dialect == "sqlite":
        build = sqlite_insert(_RECORDS)
    else:  # pragma: no cover - the service runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no INSERT ... ON CONFLICT for {dialect}")
    statement: Executable = build.on_conflict_do_nothing(
        index_elements=[_RECORDS.c.study_id, _RECORDS.c.key]
    ).returning(_RECORDS.c.id)
    return statement


def claim(
    session: Session, keys: KeyringSource, study_id: str, key: str, request_sha256: str
) -> Claim | Replay:
    """Claim a key inside the request's transaction, or return the first request's answer.

    One statement when the key is new: the INSERT waits while another transaction holds the
    same key, and inserts nothing if that one commits; the first answer is then read."""
    connection = session.connection()
    statement = _claim_statement(connection.dialect.name)
    for _attempt in range(2):
        record_id = uuid.uuid4()
        inserted = connection.execute(
            statement,
            {
                "id": record_id,
                "study_id": study_id,
                "key": key,
                "request_sha256": request_sha256,
                "status_code": None,
                "body": None,
                "created_at": utcnow(),
            },
        ).first()
        if inserted is not None:
            return Claim(record_id, study_id, key, request_sha256)
        existing = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.study_id == study_id, IdempotencyRecord.key == key
            )
        ).one_or_none()
        if existing is not None:
            return _existing(session, keys, existing, request_sha256)
        # The holder released its claim (a server error) between the two statements.
    raise ConflictError("A request with this Idempotency-Key is still running: retry soon.")


def _existing(
    session: Session, keys: KeyringSource, existing: IdempotencyRecord, request_sha256: str
) -> Claim | Replay:
    if existing.request_sha256 != request_sha256:
        raise InvalidInputError(
            {HEADER: ["this key was already used for a different request"]},
            "The Idempotency-Key was already used with another body or address.",
        )
    if existing.status_code is None or existing.body is None:
        if utcnow() - existing.created_at < ABANDONED_AFTER:
            raise ConflictError("A request with this Idempotency-Key is still running: retry soon.")
        existing.created_at = utcnow()  # its process died before answering: take it over
        session.flush()
        return Claim(existing.id, existing.study_id, existing.key, existing.request_sha256)
    body = Vault(session, keys).decrypt(
        existing.body, "idempotency_records", "body", existing.id, existing.study_id
    )
    status = existing.status_code
    session.rollback()
    return Replay(status, body)


@contextmanager
def deferred_commit(session: Session) -> Iterator[None]:
    """Within the block, a service's commit only flushes: the caller commits once, after."""
    session.commit = session.flush  # type: ignore[method-assign]
    try:
        yield
    finally:
        del session.commit  # the class's own commit again


# Built once (their compiled forms are cached): the hot path of every keyed request.
_ANSWER = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("claim_id"))
    .values(status_code=bindparam("answer_status"), body=bindparam("sealed"))
)
_FORGET = delete(_RECORDS).where(_RECORDS.c.id == bindparam("claim_id"))


def answer(
    session: Session, keys: KeyringSource, claimed: Claim, status_code: int, body: str
) -> None:
    """Store the answer beside the work it answers, and commit both. Commits.

    Core statements on the claim's id: nothing needs the record as an object, and the
    participant's data key is the one the work itself used (the session's vault cache)."""
    try:
        sealed: bytes | None = Vault(session, keys).encrypt(
            body, "idempotency_records", "body", claimed.id, claimed.study_id
        )
    except ErasedError:
        sealed = None
    if sealed is None:
        changed = session.execute(_FORGET, {"claim_id": claimed.id})
    else:
        changed = session.execute(
            _ANSWER, {"claim_id": claimed.id, "answer_status": status_code, "sealed": sealed}
        )
    if getattr(changed, "rowcount", 0) == 0:
        # The request erased the participant, and their records with them. Kept in the
        # clear, beside the erasure: the receipt holds no health data, and a retry must get
        # it back although the erasure revoked the token that sent it.
        session.add(
            ErasureReceipt(
                study_id=claimed.study_id,
                key=claimed.key,
                request_sha256=claimed.request_sha256,
                status_code=status_code,
                body=body,
                created_at=utcnow(),
            )
        )
    session.commit()


def store(
    session: Session, keys: KeyringSource, claimed: Claim, status_code: int, body: str
) -> None:
    """Keep a refusal's answer: the request's own changes are dropped, the claim and the
    answer are written together. Commits."""
    session.rollback()
    record = session.get(IdempotencyRecord, claimed.id)
    if record is None:
        record = IdempotencyRecord(
            id=claimed.id,
            study_id=claimed.study_id,
            key=claimed.key,
            request_sha256=claimed.request_sha256,
            created_at=utcnow(),
        )
        session.add(record)
    try:
        record.body = Vault(session, keys).encrypt(
            body, "idempotency_records", "body", record.id, record.study_id
        )
    except ErasedError:  # the request erased the participant, and their records with them
        session.rollback()
        return
    record.status_code = status_code
    try:
        session.commit()
    except IntegrityError:  # another request with this key answered first
        session.rollback()


def replay_after_erasure(
    session: Session, token_sha256: str, key: str, request_sha256: str
) -> Replay | None:
    """The first answer to an erasure, for a retry sent with the (now revoked) token of the
    erased participant, the same key and the same request; None for anything else."""
    found = session.execute(
        select(ErasureReceipt.status_code, ErasureReceipt.body)
        .join(ParticipantToken, ParticipantToken.study_id == ErasureReceipt.study_id)
        .where(
            ParticipantToken.token_sha256 == token_sha256,
            ErasureReceipt.key == key,
            ErasureReceipt.request_sha256 == request_sha256,
        )
    ).one_or_none()
    session.rollback()
    return None if found is None else Replay(found.status_code, found.body)


def release(session: Session, claimed: Claim) -> None:
    """Drop a claim after a server error, so that a retry runs again. Commits."""
    session.rollback()
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == claimed.id))
    session.commit()
