"""Researchers enrol participants and record withdrawals on their behalf."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from schemas.consent import EnrolmentRequestSchema, EnrolmentSchema, ReceiptSchema, WithdrawalSchema
from service.api.access import current_principal, requires_roles, study_id_from_path
from service.db import get_session
from service.domain.pseudonyms import STUDY_ID_PATTERN
from service.resources import get_keys, ledger_writer
from service.services.consent import Receipt, withdraw
from service.services.participants import Enrolment, enrol_by_researcher

STUDY_ID_PARAMETER = {
    "in": "path",
    "name": "study_id",
    "required": True,
    "description": "A study ID, e.g. PSAM-7K3M9QXR-4; a wrong check character is a 422",
    "schema": {"type": "string", "pattern": STUDY_ID_PATTERN},
}

blp = Blueprint("participants", __name__, url_prefix="/api/v1", description="Participants")


@blp.route("/participants", methods=["POST"])
@requires_roles("researcher")
@blp.arguments(EnrolmentRequestSchema)
@blp.response(201, EnrolmentSchema)
def enrol(body: dict[str, Any]) -> Enrolment:
    """Enrol a participant: their study ID and token, which is shown this once."""
    session = get_session()
    return enrol_by_researcher(
        session, get_keys(), ledger_writer(session), current_principal(), body.get("contact")
    )


@blp.route(
    "/participants/<study_id>/withdrawal",
    methods=["POST"],
    parameters=[STUDY_ID_PARAMETER],
)
@requires_roles("researcher")
@blp.arguments(WithdrawalSchema)
@blp.response(201, ReceiptSchema)
def withdraw_for(body: dict[str, Any], study_id: str) -> Receipt:
    """Record a participant's withdrawal on their behalf (the acting token is logged)."""
    session = get_session()
    return withdraw(
        session,
        ledger_writer(session),
        current_principal(),
        study_id_from_path(study_id),
        body["scope"],
    )
