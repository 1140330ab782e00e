"""The auditor API: read and verify the logs. Every call is itself recorded in the access log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from schemas.audit import (
    CheckpointListSchema,
    CheckpointSchema,
    CosignSchema,
    LogNameSchema,
    LogPageSchema,
    LogQuerySchema,
    VerificationSchema,
    WitnessListSchema,
    WitnessRegistrationSchema,
    WitnessSchema,
)
from service.api.access import current_principal, requires_roles
from service.api.examples import PUBLIC_KEY_PEM
from service.db import get_session
from service.domain.ledger import Checkpoint, Verification
from service.resources import ledger_writer
from service.services import auditor, ledger, witnesses

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="For auditors")


def _page(log: str, query: dict[str, Any]) -> dict[str, Any]:
    session = get_session()
    entries, last = auditor.read_log(
        session, ledger_writer(session), current_principal(), log, query
    )
    return {"entries": entries, "next_after_seq": last}


def _verify(log: str) -> Verification:
    session = get_session()
    return auditor.verify_log(session, ledger_writer(session), current_principal(), log)


@blp.route("/consent-log", methods=["GET"])
@requires_roles("auditor")
@blp.arguments(LogQuerySchema, location="query")
@blp.response(200, LogPageSchema)
def consent_log(query: dict[str, Any]) -> dict[str, Any]:
    """Consent-log entries in seq order, after ``after_seq``; filter by study ID and time."""
    return _page("consent", query)


@blp.route("/consent-log/verify", methods=["GET"])
@requires_roles("auditor")
@blp.response(200, VerificationSchema)
def verify_consent_log() -> Verification:
    """Recompute every hash and link and check every signed checkpoint."""
    return _verify("consent")


@blp.route("/access-log", methods=["GET"])
@requires_roles("auditor")
@blp.arguments(LogQuerySchema, location="query")
@blp.response(200, LogPageSchema)
def access_log(query: dict[str, Any]) -> dict[str, Any]:
    """Who read or changed participant data: access-log entries in seq order."""
    return _page("access", query)


@blp.route("/access-log/verify", methods=["GET"])
@requires_roles("auditor")
@blp.response(200, VerificationSchema)
def verify_access_log() -> Verification:
    """Verify the access log as the consent log is verified."""
    return _verify("access")


@blp.route("/checkpoints", methods=["GET"])
@requires_roles("auditor")
@blp.arguments(LogNameSchema, location="query")
@blp.response(200, CheckpointListSchema)
def list_checkpoints(query: dict[str, Any]) -> dict[str, Any]:
    """The signed checkpoints of a log (``log=consent`` or ``access``): keep them."""
    session = get_session()
    writer = ledger_writer(session)
    found = auditor.checkpoints(session, writer, current_principal(), query["log"])
    listed = [_checkpoint(checkpoint_id, checkpoint) for checkpoint_id, checkpoint in found]
    return {"public_key_id": ledger.public_key_id(writer.keyring), "checkpoints": listed}


def _checkpoint(checkpoint_id: uuid.UUID, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint_id,
        "log": checkpoint.log,
        "length": checkpoint.length,
        "head_hash": checkpoint.head_hash,
        "time": checkpoint.time,
        "note": checkpoint.note(),
    }


@blp.route("/checkpoints/<uuid:checkpoint_id>/cosign", methods=["POST"])
@requires_roles("auditor")
@blp.arguments(CosignSchema)
@blp.response(201, CheckpointSchema)
def cosign_checkpoint(body: dict[str, Any], checkpoint_id: uuid.UUID) -> dict[str, Any]:
    """Add an approved witness's signature over the checkpoint's note body."""
    session = get_session()
    made = witnesses.cosign_checkpoint(
        session,
        ledger_writer(session),
        current_principal(),
        checkpoint_id,
        body["witness_id"],
        body["signature"],
    )
    return _checkpoint(*made)


@blp.route("/witnesses", methods=["POST"])
@requires_roles("auditor")
@blp.arguments(WitnessRegistrationSchema)
@blp.response(201, WitnessSchema)
def register_witness(body: dict[str, Any]) -> witnesses.Witness:
    """Register a witness key; it may co-sign once an admin approves it."""
    session = get_session()
    return witnesses.register_witness(
        session, ledger_writer(session), current_principal(), body["name"], body["public_key"]
    )


@blp.route("/witnesses", methods=["GET"])
@requires_roles("auditor", "admin")
@blp.response(200, WitnessListSchema)
def list_witnesses() -> dict[str, Any]:
    """Registered witness keys and whether each is approved."""
    session = get_session()
    found = witnesses.list_witnesses(session, ledger_writer(session), current_principal())
    return {"witnesses": found}


@blp.route("/witnesses/<uuid:witness_id>/approve", methods=["POST"])
@requires_roles("admin")
@blp.response(200, WitnessSchema)
def approve_witness(witness_id: uuid.UUID) -> witnesses.Witness:
    """Let a registered witness co-sign checkpoints (admins only)."""
    session = get_session()
    return witnesses.approve_witness(
        session, ledger_writer(session), current_principal(), witness_id
    )


@blp.route("/public-key", methods=["GET"])
@requires_roles("auditor")
@blp.response(
    200,
    {"type": "string"},
    content_type="application/x-pem-file",
    description="The Ed25519 public key that checkpoints are signed with (PEM)",
    example=PUBLIC_KEY_PEM,
)
def public_key() -> Response:
    """The checkpoint signing key, for offline verification."""
    session = get_session()
    pem = auditor.public_key(session, ledger_writer(session), current_principal())
    return Response(pem, mimetype="application/x-pem-file")
