"""Researchers enrol participants and record withdrawals on their behalf."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from schemas.consent import (
    EnrolmentRequestSchema,
    EnrolmentSchema,
    ReceiptSchema,
    SelfEnrolmentSchema,
    WithdrawalSchema,
)
from schemas.researcher import (
    ContactDetailsSchema,
    MessageListSchema,
    NewTokenSchema,
    ParticipantDetailSchema,
    ParticipantPageSchema,
    ParticipantQuerySchema,
)
from service.api.access import current_principal, public, requires_roles, study_id_from_path
from service.api.erasure import purge_after_commit
from service.db import get_session
from service.domain.errors import InvalidInputError
from service.domain.pseudonyms import STUDY_ID_PATTERN
from service.errors import NOT_FOUND, TOO_MANY_REQUESTS, ApiError
from service.resources import get_keys, ledger_writer
from service.services import participants as participants_service
from service.services import ratelimit, researcher
from service.services.consent import Receipt, withdraw
from service.services.participants import Enrolment, enrol_by_researcher
from service.services.ratelimit import Limit
from service.web.links import link_fields

STUDY_ID_PARAMETER = {
    "in": "path",
    "name": "study_id",
    "required": True,
    "description": "A study ID, e.g. PSAM-7K3M9QXR-0; a wrong check character is a 422",
    "schema": {"type": "string", "pattern": STUDY_ID_PATTERN},
}

blp = Blueprint("participants", __name__, url_prefix="/api/v1", description="Participants")


@blp.route("/participants", methods=["POST"])
@requires_roles("researcher")
@blp.arguments(EnrolmentRequestSchema)
@blp.response(201, EnrolmentSchema)
def enrol(body: dict[str, Any]) -> dict[str, Any]:
    """Enrol a participant: their study ID, token and link, which are shown this once."""
    session = get_session()
    return _with_link(
        enrol_by_researcher(
            session,
            get_keys(),
            ledger_writer(session),
            current_principal(),
            body.get("contact"),
            body.get("site"),
        )
    )


def _with_link(enrolment: Enrolment) -> dict[str, Any]:
    return {**asdict(enrolment), **link_fields(enrolment.token)}


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
    if body["scope"] == "stop-and-erase":
        purge_after_commit()
    return withdraw(
        session,
        ledger_writer(session),
        current_principal(),
        study_id_from_path(study_id),
        body["scope"],
    )


@blp.route("/participants", methods=["GET"])
@requires_roles("researcher")
@blp.arguments(ParticipantQuerySchema, location="query")
@blp.response(200, ParticipantPageSchema)
def list_participants(query: dict[str, Any]) -> dict[str, Any]:
    """Participants by study ID: consent state, task counts, open alerts; no identifiers."""
    session = get_session()
    found, next_after = researcher.list_participants(
        session, ledger_writer(session), current_principal(), **query
    )
    return {"participants": found, "next_after": next_after}


@blp.route("/participants/<study_id>", methods=["GET"], parameters=[STUDY_ID_PARAMETER])
@requires_roles("researcher")
@blp.response(200, ParticipantDetailSchema)
def get_participant(study_id: str) -> researcher.ParticipantView:
    """One participant: consent state and events, tasks, alerts; no identifiers."""
    session = get_session()
    return researcher.participant_detail(
        session,
        get_keys(),
        ledger_writer(session),
        current_principal(),
        study_id_from_path(study_id),
    )


@blp.route("/participants/<study_id>/messages", methods=["GET"], parameters=[STUDY_ID_PARAMETER])
@requires_roles("researcher")
@blp.response(200, MessageListSchema)
def list_messages(study_id: str) -> dict[str, Any]:
    """What was sent to or about a participant (kind, when, outcome); never an address."""
    session = get_session()
    sid = study_id_from_path(study_id)
    rows = researcher.participant_messages(
        session, ledger_writer(session), current_principal(), sid
    )
    return {"study_id": sid, "messages": rows}


@blp.route("/participants/<study_id>/contact", methods=["GET"], parameters=[STUDY_ID_PARAMETER])
@requires_roles("researcher")
@blp.response(200, ContactDetailsSchema)
def get_contact(study_id: str) -> dict[str, Any]:
    """Contact details, only while consent in force includes interview contact (else 403)."""
    session = get_session()
    return researcher.contact_details(
        session,
        get_keys(),
        ledger_writer(session),
        current_principal(),
        study_id_from_path(study_id),
    )


@blp.route("/participants/<study_id>/token", methods=["POST"], parameters=[STUDY_ID_PARAMETER])
@requires_roles("researcher")
@blp.response(201, NewTokenSchema)
def reissue_token(study_id: str) -> dict[str, Any]:
    """A new token for a participant who lost their link; the old token stops working."""
    session = get_session()
    sid, token = researcher.reissue_token(
        session, ledger_writer(session), current_principal(), study_id_from_path(study_id)
    )
    return {"study_id": sid, "token": token, **link_fields(token)}


@blp.route("/enrolments", methods=["POST"])
@public
@blp.arguments(SelfEnrolmentSchema)
@blp.response(201, EnrolmentSchema)
def self_enrol(body: dict[str, Any]) -> dict[str, Any]:
    """Enrol yourself with the study's enrolment code (public recruitment; rate limited)."""
    code = current_app.config["PSAM_ENROLMENT_CODE"]
    if not code:
        raise ApiError(NOT_FOUND, "Self-enrolment is not open for this study.")
    session = get_session()
    limit = Limit.parse(current_app.config["PSAM_ENROLMENT_LIMIT"])
    client = request.remote_addr or "unknown"
    wait = ratelimit.hit(session, get_keys().current(), "enrolment", client, limit)
    if wait is not None:
        raise ApiError(
            TOO_MANY_REQUESTS,
            f"Too many enrolments from this address: try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    if not hmac.compare_digest(body["code"].encode(), code.encode()):
        raise InvalidInputError({"code": ["this is not the study's enrolment code"]})
    return _with_link(
        participants_service.self_enrol(session, get_keys(), body.get("contact"), body.get("site"))
    )
