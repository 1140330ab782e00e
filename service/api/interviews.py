"""Interviews over the API: researchers invite, offer slots, schedule, mark done, cancel;
a participant reads their invitations and accepts or declines. Each change is access-logged
by the service it calls (docs/interviews.md)."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from schemas.interviews import (
    AcceptSchema,
    EligibleListSchema,
    InterviewListSchema,
    InterviewQuerySchema,
    InterviewSchema,
    InvitationSchema,
    InviteSchema,
    MyInterviewSchema,
    MyInterviewsSchema,
    ScheduleSchema,
    SlotListSchema,
    SlotRequestSchema,
    SlotSchema,
)
from service.api.access import current_principal, requires_roles, study_id_from_path
from service.api.participants import STUDY_ID_PARAMETER
from service.db import get_session
from service.domain.errors import NotFoundError
from service.domain.interviews import CANCEL, MARK_DONE
from service.resources import ledger_writer
from service.services import interview_slots, interviews
from service.services.interview_slots import SlotView
from service.services.interviews import InterviewView

blp = Blueprint("interviews", __name__, url_prefix="/api/v1", description="Interviews")


@blp.route("/participants/<study_id>/interviews", methods=["POST"], parameters=[STUDY_ID_PARAMETER])
@requires_roles("researcher")
@blp.arguments(InviteSchema)
@blp.response(201, InvitationSchema)
def invite(body: dict[str, Any], study_id: str) -> InterviewView:
    """Invite a participant whose consent in force includes interview contact: by email
    (queued in the outbox, with their sign-in link) or a call made by phone (recorded)."""
    session = get_session()
    return interviews.invite(
        session, ledger_writer(session), current_principal(), study_id_from_path(study_id),
        body["channel"],
    )  # fmt: skip


@blp.route("/interviews/eligible", methods=["GET"])
@requires_roles("researcher")
@blp.response(200, EligibleListSchema)
def list_eligible() -> dict[str, Any]:
    """Participants whose consent in force includes interview contact; no identifiers."""
    session = get_session()
    found = interviews.eligible(session, ledger_writer(session), current_principal())
    return {"participants": found}


@blp.route("/interviews", methods=["GET"])
@requires_roles("researcher")
@blp.arguments(InterviewQuerySchema, location="query")
@blp.response(200, InterviewListSchema)
def list_interviews(query: dict[str, Any]) -> dict[str, Any]:
    """Invitations and where each stands, newest first, with the slot booked."""
    session = get_session()
    found = interviews.list_interviews(
        session, ledger_writer(session), current_principal(), query.get("status")
    )
    return {"interviews": found}


@blp.route("/interviews/<uuid:interview_id>/schedule", methods=["POST"])
@requires_roles("researcher")
@blp.arguments(ScheduleSchema)
@blp.response(200, InterviewSchema)
def schedule(body: dict[str, Any], interview_id: uuid.UUID) -> InterviewView:
    """Book an interview into a free slot; a confirmation and a reminder the day before go
    through the outbox."""
    session = get_session()
    return interviews.schedule(
        session, ledger_writer(session), current_principal(), interview_id, body["slot_id"]
    )


@blp.route("/interviews/<uuid:interview_id>/done", methods=["POST"])
@requires_roles("researcher")
@blp.response(200, InterviewSchema)
def mark_done(interview_id: uuid.UUID) -> InterviewView:
    """Record that a scheduled interview took place."""
    session = get_session()
    return interviews.staff_change(
        session, ledger_writer(session), current_principal(), interview_id, MARK_DONE
    )


@blp.route("/interviews/<uuid:interview_id>/cancel", methods=["POST"])
@requires_roles("researcher")
@blp.response(200, InterviewSchema)
def cancel(interview_id: uuid.UUID) -> InterviewView:
    """Cancel an open invitation; its slot is freed."""
    session = get_session()
    return interviews.staff_change(
        session, ledger_writer(session), current_principal(), interview_id, CANCEL
    )


@blp.route("/interview-slots", methods=["POST"])
@requires_roles("researcher")
@blp.arguments(SlotRequestSchema)
@blp.response(201, SlotSchema)
def create_slot(body: dict[str, Any]) -> SlotView:
    """Offer a time for interviews: when, how long, how, and who interviews (a token id)."""
    session = get_session()
    return interview_slots.create_slot(session, ledger_writer(session), current_principal(), **body)


@blp.route("/interview-slots", methods=["GET"])
@requires_roles("researcher")
@blp.response(200, SlotListSchema)
def list_slots() -> dict[str, Any]:
    """The schedule: upcoming slots, booked or free, soonest first."""
    session = get_session()
    return {
        "slots": interview_slots.list_slots(session, ledger_writer(session), current_principal())
    }


@blp.route("/interview-slots/<uuid:slot_id>/cancel", methods=["POST"])
@requires_roles("researcher")
@blp.response(200, SlotSchema)
def cancel_slot(slot_id: uuid.UUID) -> SlotView:
    """Withdraw a free slot (a booked one is refused with 409)."""
    session = get_session()
    return interview_slots.cancel_slot(
        session, ledger_writer(session), current_principal(), slot_id
    )


@blp.route("/me/interviews", methods=["GET"])
@requires_roles("participant")
@blp.response(200, MyInterviewsSchema)
def my_interviews() -> dict[str, Any]:
    """Your interview invitations, and the free times you may choose while one is open."""
    own = current_principal().study_id
    if own is None:
        raise NotFoundError("Only a participant has interviews of their own.")
    found, slots = interviews.my_interviews(get_session(), own)
    return {"interviews": found, "slots": slots}


@blp.route("/me/interviews/<uuid:interview_id>/accept", methods=["POST"])
@requires_roles("participant")
@blp.arguments(AcceptSchema)
@blp.response(200, MyInterviewSchema)
def accept(body: dict[str, Any], interview_id: uuid.UUID) -> InterviewView:
    """Accept an invitation: with a slot it is scheduled; without, the team will contact you
    to arrange a time."""
    session = get_session()
    return interviews.answer(
        session, ledger_writer(session), current_principal(), interview_id,
        accept=True, slot_id=body.get("slot_id"),
    )  # fmt: skip


@blp.route("/me/interviews/<uuid:interview_id>/decline", methods=["POST"])
@requires_roles("participant")
@blp.response(200, MyInterviewSchema)
def decline(interview_id: uuid.UUID) -> InterviewView:
    """Decline an invitation (or a booked interview); its slot is freed."""
    session = get_session()
    return interviews.answer(
        session, ledger_writer(session), current_principal(), interview_id, accept=False
    )
