"""The participant's interview pages: their invitations, a choice (a free time, "contact me
to arrange a time", or no), a confirmation, then what happened.

The handlers call ``services.interviews.answer``, as the JSON views do, so the same consent
gating, state rules and access-log events apply.
"""

from __future__ import annotations

import uuid

from flask import Response, render_template, request

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import (
    ConflictError,
    ContactNotPermittedError,
    InvalidInputError,
    NotFoundError,
    WithdrawnError,
)
from service.domain.interviews import ACCEPTED, INVITED, SCHEDULED
from service.resources import ledger_writer
from service.services import interviews
from service.services.interview_slots import SlotView
from service.services.interviews import InterviewView
from service.web.participant import blp, own_study_id
from service.web.words import format_datetime, gettext, lazy_gettext

ARRANGE, DECLINE = "arrange", "decline"
NO_CHOICE = lazy_gettext("Choose a time, ask to be contacted, or say no")
TAKEN = lazy_gettext("That time is no longer free: choose another")
CHOICE_WORDS = {
    ARRANGE: lazy_gettext("Contact me to arrange a time"),
    DECLINE: lazy_gettext("No, I do not want to take part in an interview"),
}
MODE_WORDS = {
    "phone": lazy_gettext("by phone"),
    "video": lazy_gettext("by video call"),
    "in_person": lazy_gettext("in person"),
}
# Why an answer was refused, in the page's language (the services' own messages are for staff).
REFUSED = {
    WithdrawnError: lazy_gettext("You have left the study, so there is no interview"),
    ContactNotPermittedError: lazy_gettext(
        "You have not agreed to be contacted about an interview"
    ),
    ConflictError: lazy_gettext("You can no longer give this answer to this invitation"),
}


def _slot_text(slot: SlotView) -> str:
    """A slot as a person reads it, in the page's language: 'Tuesday 1 December 2026 at
    10:00 (UTC), 60 minutes, by phone'."""
    when = gettext(
        "%(date)s at %(time)s (UTC)",
        date=format_datetime(slot.starts_at, "EEEE d MMMM y"),
        time=format_datetime(slot.starts_at, "HH:mm"),
    )
    minutes = gettext("%(minutes)s minutes", minutes=str(slot.minutes))
    return f"{when}, {minutes}, {MODE_WORDS.get(slot.mode, slot.mode)}"


def _mine() -> tuple[list[InterviewView], list[SlotView]]:
    return interviews.my_interviews(get_session(), own_study_id("interviews"))


def _own(interview_id: uuid.UUID) -> tuple[InterviewView, list[SlotView]]:
    found, slots = _mine()
    for view in found:
        if view.id == interview_id:
            return view, slots
    raise NotFoundError(f"There is no interview {interview_id}.")


def _choices(view: InterviewView, slots: list[SlotView]) -> list[dict[str, object]]:
    """The radios for an invitation: each free time, then arranging, then no."""
    items: list[dict[str, object]] = []
    if view.status in (INVITED, ACCEPTED):
        items += [{"value": str(s.id), "text": _slot_text(s)} for s in slots]
    if view.status == INVITED:
        items.append({"value": ARRANGE, "text": CHOICE_WORDS[ARRANGE]})
    if items:
        items.append({"divider": gettext("or")})
    items.append({"value": DECLINE, "text": CHOICE_WORDS[DECLINE]})
    return items


def _list_page(error: tuple[uuid.UUID, object] | None = None) -> Response:
    found, slots = _mine()
    page = render_template(
        "interviews.html",
        interviews=found,
        open_states=(INVITED, ACCEPTED, SCHEDULED),
        choices={v.id: _choices(v, slots) for v in found},
        slot_text={v.id: _slot_text(v.slot) for v in found if v.slot is not None},
        errors={f"choice-{error[0]}": error[1]} if error else {},
        error_list=[{"text": error[1], "href": f"#choice-{error[0]}"}] if error else [],
    )
    return Response(page, status=422 if error else 200, mimetype="text/html")


@blp.route("/interviews", methods=["GET"])
@participant_page
def interview_list() -> Response:
    """Your interview invitations; for an open one, the times you may choose."""
    return _list_page()


@blp.route("/interviews/<uuid:interview_id>", methods=["POST"])
@participant_page
def interview_choice(interview_id: uuid.UUID) -> Response | str:
    """Check the choice before it is made."""
    view, slots = _own(interview_id)
    choice = request.form.get("choice", "")
    offered = {str(item["value"]) for item in _choices(view, slots) if "value" in item}
    if choice not in offered:
        return _list_page((interview_id, NO_CHOICE))
    text = CHOICE_WORDS.get(choice) or next(_slot_text(s) for s in slots if str(s.id) == choice)
    return render_template(
        "interview_confirm.html", interview=view, choice=choice, text=text, decline=DECLINE
    )


@blp.route("/interviews/<uuid:interview_id>/confirm", methods=["POST"])
@participant_page
def interview_answered(interview_id: uuid.UUID) -> Response | str:
    """Make the choice: accept a time, accept to arrange one, or decline."""
    _own(interview_id)  # someone else's invitation is not found, whatever was posted
    choice = request.form.get("choice", "")
    slot_id = None
    if choice not in (ARRANGE, DECLINE):
        try:
            slot_id = uuid.UUID(choice)
        except ValueError:
            return _list_page((interview_id, NO_CHOICE))
    session = get_session()
    try:
        view = interviews.answer(
            session,
            ledger_writer(session),
            current_principal(),
            interview_id,
            accept=choice != DECLINE,
            slot_id=slot_id,
        )
    except (ConflictError, ContactNotPermittedError, WithdrawnError, InvalidInputError) as exc:
        session.rollback()
        # An unknown or taken time reads the same: the radios offered it a moment ago.
        message = TAKEN
        if not isinstance(exc, InvalidInputError) and "free" not in str(exc):
            message = REFUSED.get(type(exc), REFUSED[ConflictError])
        return _list_page((interview_id, message))
    return render_template(
        "interview_done.html",
        interview=view,
        when=None if view.slot is None else _slot_text(view.slot),
    )
