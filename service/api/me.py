"""What a participant does with their own token: see their state, consent, withdraw."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint

from schemas.consent import (
    MeSchema,
    ReceiptListSchema,
    ReceiptSchema,
    SignConsentSchema,
    WithdrawalSchema,
)
from service.api.access import current_principal, requires_roles
from service.db import get_session
from service.resources import get_keys, ledger_writer
from service.services.consent import Receipt, history, sign_consent, state_of, withdraw

blp = Blueprint("me", __name__, url_prefix="/api/v1", description="A participant's own calls")


def _own_study_id() -> str:
    study_id = current_principal().study_id
    assert study_id is not None
    return study_id


@blp.route("/me", methods=["GET"])
@requires_roles("participant")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """Your study ID and your consent state."""
    study_id = _own_study_id()
    return {"study_id": study_id, "consent": asdict(state_of(get_session(), study_id))}


@blp.route("/me/consent", methods=["GET"])
@requires_roles("participant")
@blp.response(200, ReceiptListSchema)
def my_receipts() -> dict[str, Any]:
    """Your consent and withdrawal receipts, oldest first."""
    return {"receipts": history(get_session(), _own_study_id())}


@blp.route("/me/consent", methods=["POST"])
@requires_roles("participant")
@blp.arguments(SignConsentSchema)
@blp.response(201, ReceiptSchema)
def sign(body: dict[str, Any]) -> Receipt:
    """Sign the consent form in force; the receipt says where the signature sits in the log."""
    session = get_session()
    return sign_consent(session, get_keys(), ledger_writer(session), current_principal(), **body)


@blp.route("/me/withdrawal", methods=["POST"])
@requires_roles("participant")
@blp.arguments(WithdrawalSchema)
@blp.response(201, ReceiptSchema)
def withdraw_me(body: dict[str, Any]) -> Receipt:
    """Withdraw: no-further-contact, stop, or stop-and-erase (stop and erasure are final)."""
    session = get_session()
    return withdraw(
        session, ledger_writer(session), current_principal(), _own_study_id(), body["scope"]
    )
