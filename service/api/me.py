"""What a participant does with their own token: see their state, consent, withdraw."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from schemas.consent import (
    ReceiptListSchema,
    ReceiptSchema,
    SignConsentSchema,
    WithdrawalSchema,
)
from schemas.responses import (
    MeSchema,
    ResponseSchema,
    SaveAnswersSchema,
    StartResponseSchema,
)
from service.api.access import current_principal, requires_roles
from service.api.erasure import purge_after_commit
from service.api.idempotency import idempotent
from service.api.languages import requested_language
from service.db import get_session
from service.resources import get_keys, ledger_writer
from service.services import responses
from service.services.consent import (
    Receipt,
    history,
    sign_consent,
    withdraw,
)
from service.services.context import participant_context

blp = Blueprint("me", __name__, url_prefix="/api/v1", description="A participant's own calls")


def _own_study_id() -> str:
    study_id = current_principal().study_id
    if study_id is None:
        raise RuntimeError("only a participant has their own study ID")
    return study_id


@blp.route("/me", methods=["GET"])
@requires_roles("participant")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """Your study ID, your consent state and your tasks by timepoint."""
    study_id = _own_study_id()
    session = get_session()
    context = participant_context(session, study_id)
    return {
        "study_id": study_id,
        "consent": asdict(context.consent),
        "tasks": responses.tasks_for(session, context),
    }


@blp.route("/me/consent", methods=["GET"])
@requires_roles("participant")
@blp.response(200, ReceiptListSchema)
def my_receipts() -> dict[str, Any]:
    """Your consent and withdrawal receipts, oldest first."""
    return {"receipts": history(get_session(), _own_study_id())}


@blp.route("/me/consent", methods=["POST"])
@requires_roles("participant")
@idempotent
@blp.arguments(SignConsentSchema)
@blp.response(201, ReceiptSchema)
def sign(body: dict[str, Any]) -> Receipt:
    """Sign the consent form in force; the receipt says where the signature sits in the log,
    and which language's text (and its hash) was signed."""
    session = get_session()
    language = requested_language(body.pop("lang", None))
    return sign_consent(
        session,
        get_keys(),
        ledger_writer(session),
        current_principal(),
        per_day=current_app.config["PSAM_CONSENT_SIGNINGS_PER_DAY"],
        language=language,
        **body,
    )


@blp.route("/me/withdrawal", methods=["POST"])
@requires_roles("participant")
@idempotent
@blp.arguments(WithdrawalSchema)
@blp.response(201, ReceiptSchema)
def withdraw_me(body: dict[str, Any]) -> Receipt:
    """Withdraw: no-further-contact, stop, or stop-and-erase (stop and erasure are final)."""
    session = get_session()
    if body["scope"] == "stop-and-erase":
        purge_after_commit()
    return withdraw(
        session, ledger_writer(session), current_principal(), _own_study_id(), body["scope"]
    )


@blp.route("/me/responses", methods=["POST"])
@requires_roles("participant")
@idempotent
@blp.arguments(StartResponseSchema())  # an instance: a class is instantiated per request
@blp.response(201, ResponseSchema)
def start_response(body: dict[str, Any]) -> responses.ResponseView:
    """Start a response to a task, or submit it in one go with ``"submit": true``."""
    return responses.start_response(
        get_session(),
        get_keys(),
        _own_study_id(),
        instrument_id=body["instrument"],
        version=body["version"],
        timepoint=body["timepoint"],
        answers=body["answers"],
        submit=body["submit"],
        language=requested_language(body.get("lang")),
    )


@blp.route("/me/responses/<uuid:response_id>", methods=["PATCH"])
@requires_roles("participant")
@blp.arguments(SaveAnswersSchema)
@blp.response(200, ResponseSchema)
def save_answers(body: dict[str, Any], response_id: uuid.UUID) -> responses.ResponseView:
    """Save some answers to come back to later (null clears one); each is checked."""
    return responses.save_answers(
        get_session(), get_keys(), _own_study_id(), response_id, body["answers"]
    )


@blp.route("/me/responses/<uuid:response_id>/submit", methods=["POST"])
@requires_roles("participant")
@idempotent
@blp.response(200, ResponseSchema)
def submit(response_id: uuid.UUID) -> responses.ResponseView:
    """Submit: every answer is checked, scores and any signposting come back."""
    return responses.submit_response(get_session(), get_keys(), _own_study_id(), response_id)


@blp.route("/me/responses/<uuid:response_id>", methods=["GET"])
@requires_roles("participant")
@blp.response(200, ResponseSchema)
def get_response(response_id: uuid.UUID) -> responses.ResponseView:
    """One of your own responses."""
    return responses.get_response(get_session(), get_keys(), _own_study_id(), response_id)
