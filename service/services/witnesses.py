"""Witnesses: auditors' keys that co-sign checkpoints, so that the service cannot show two
auditors two different histories without one of them noticing (docs/audit-log.md).

An auditor registers a key, an admin approves it, then any co-signature over a checkpoint's
note body that verifies under an approved key is stored and carried in every export. Each
of these writes one access-log event in the transaction that makes the change.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, InvalidInputError, NotFoundError
from service.domain.ledger import LOGS, Checkpoint
from service.domain.signed_note import (
    NoteSignature,
    key_hash,
    origin,
    signature_holds,
    valid_key_name,
)
from service.models import AuditWitness, CheckpointCosignature, LedgerCheckpoint, WitnessApproval
from service.services import ledger
from service.services.audit import record_access
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal


@dataclass(frozen=True)
class Witness:
    id: uuid.UUID
    name: str
    public_key: str  # PEM
    key_hash: str  # hex of the 4 bytes that start each of its signature lines
    registered_at: str
    approved: bool


def _public_key(raw_hex: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw_hex))


def _view(row: AuditWitness, approved: bool) -> Witness:
    key = _public_key(row.public_key)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return Witness(
        row.id,
        row.name,
        pem,
        key_hash(row.name, key).hex(),
        ledger.utc_text(row.registered_at),
        approved,
    )


def _approved(session: Session, witness_id: uuid.UUID) -> bool:
    return session.get(WitnessApproval, witness_id) is not None


def register_witness(
    session: Session, writer: LedgerWriter, principal: Principal, name: str, public_key_pem: str
) -> Witness:
    """Record an auditor's witness key, pending an admin's approval. Commits."""
    if not valid_key_name(name) or name in {origin(log) for log in LOGS}:
        raise InvalidInputError({"name": ["1-64 letters, digits, '.', '_', '/' or '-'"]})
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError({"public_key": ["not an Ed25519 public key in PEM"]})
    raw = key.public_bytes_raw()
    if raw == writer.keyring.signing_key().public_key().public_bytes_raw():
        raise InvalidInputError({"public_key": ["the service's own key cannot witness"]})
    writer.lock("access")
    clash = session.scalars(
        select(AuditWitness).where(
            (AuditWitness.name == name) | (AuditWitness.public_key == raw.hex())
        )
    ).first()
    if clash is not None:
        raise ConflictError("A witness with this name or key is already registered.")
    row = AuditWitness(
        id=uuid.uuid4(),
        name=name,
        public_key=raw.hex(),
        registered_by=principal.token_id,
        registered_at=utcnow(),
    )
    session.add(row)
    session.flush()
    record_access(writer, principal, "audit.witness.register", filters={"witness_id": str(row.id)})
    session.commit()
    return _view(row, approved=False)


def approve_witness(
    session: Session, writer: LedgerWriter, principal: Principal, witness_id: uuid.UUID
) -> Witness:
    """An admin lets a registered witness co-sign. Commits."""
    writer.lock("access")
    row = session.get(AuditWitness, witness_id)
    if row is None:
        raise NotFoundError(f"There is no witness {witness_id}.")
    if _approved(session, witness_id):
        raise ConflictError("This witness is already approved.")
    session.add(
        WitnessApproval(witness_id=row.id, approved_by=principal.token_id, approved_at=utcnow())
    )
    record_access(writer, principal, "audit.witness.approve", filters={"witness_id": str(row.id)})
    session.commit()
    return _view(row, approved=True)


def list_witnesses(session: Session, writer: LedgerWriter, principal: Principal) -> list[Witness]:
    """Every registered witness, approved or not. Records the read; commits."""
    writer.lock("access")
    approved = set(session.scalars(select(WitnessApproval.witness_id)))
    rows = session.scalars(select(AuditWitness).order_by(AuditWitness.registered_at)).all()
    record_access(writer, principal, "audit.witnesses.read", rows=len(rows))
    session.commit()
    return [_view(row, row.id in approved) for row in rows]


def _signature(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 64:
        raise InvalidInputError({"signature": ["not the base64 of a 64-byte Ed25519 signature"]})
    return raw


def cosign_checkpoint(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    checkpoint_id: uuid.UUID,
    witness_id: uuid.UUID,
    signature_b64: str,
) -> tuple[uuid.UUID, Checkpoint]:
    """Store a witness's signature over a checkpoint's note body. Commits."""
    signature = _signature(signature_b64)
    writer.lock("access")
    row = session.get(LedgerCheckpoint, checkpoint_id)
    if row is None:
        raise NotFoundError(f"There is no checkpoint {checkpoint_id}.")
    witness = session.get(AuditWitness, witness_id)
    if witness is None or not _approved(session, witness_id):
        raise InvalidInputError({"witness_id": ["not a witness an admin has approved"]})
    key = _public_key(witness.public_key)
    line = NoteSignature(witness.name, key_hash(witness.name, key), signature)
    body = ledger.checkpoint_of(session, writer.keyring, row).body()
    if not signature_holds(key, body, line):
        raise InvalidInputError({"signature": ["does not verify over the checkpoint's note body"]})
    done = session.scalars(
        select(CheckpointCosignature).where(
            CheckpointCosignature.checkpoint_id == row.id,
            CheckpointCosignature.witness_id == witness.id,
        )
    ).first()
    if done is not None:
        raise ConflictError("This witness has already co-signed this checkpoint.")
    session.add(
        CheckpointCosignature(
            checkpoint_id=row.id,
            witness_id=witness.id,
            signature=signature.hex(),
            created_at=utcnow(),
        )
    )
    session.flush()
    record_access(
        writer,
        principal,
        "audit.checkpoint.cosign",
        filters={"checkpoint_id": str(row.id), "witness_id": str(witness.id)},
    )
    session.commit()
    return row.id, ledger.checkpoint_of(session, writer.keyring, row)
