"""The researchers' interview pages: the schedule (slots, booked or free), who may be
invited and the invite form, the invitations, and one interview with its actions.

Each handler calls the service function the JSON view calls, so the consent gating, the
state rules and the access-log events are the same; a refusal comes back on the page in the
error summary. Interviewers are shown by their token's label as a hint; only ids are stored.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from flask import Response, redirect, request, url_for

from service.api.access import current_principal, staff_page
from service.db import get_session
from service.domain.errors import (
    ConflictError,
    ContactNotPermittedError,
    InvalidInputError,
    NotFoundError,
    WithdrawnError,
)
from service.domain.interviews import CANCEL, CHANNELS, MARK_DONE, MODE_WORDS, describe_slot
from service.domain.pseudonyms import StudyIdError, parse_study_id
from service.resources import ledger_writer
from service.services import interview_slots, interviews, tokens
from service.web.staff import blp, render, with_faults

REFUSALS = (ConflictError, ContactNotPermittedError, WithdrawnError, InvalidInputError)
SLOT_FIELDS = {
    "starts_at": "starts_on",
    "minutes": "minutes",
    "mode": "mode",
    "interviewer_id": "interviewer_id",
}


def _labels() -> dict[uuid.UUID, str]:
    return {row.id: row.label for row in tokens.list_staff_tokens(get_session())}


def _interviewers() -> list[dict[str, str]]:
    rows = tokens.list_staff_tokens(get_session())
    return [
        {"value": str(row.id), "text": f"{row.label} ({str(row.id)[:8]})"}
        for row in rows
        if row.revoked_at is None and "researcher" in row.roles
    ]


def _faults_of(exc: Exception, default_field: str) -> dict[str, str]:
    if isinstance(exc, InvalidInputError):
        return {
            SLOT_FIELDS.get(name, name): f"{name.replace('_', ' ').capitalize()}: {'; '.join(m)}"
            for name, m in exc.errors.items()
        }
    return {default_field: str(exc).rstrip(".")}


def _overview(
    faults: dict[str, str] | None = None, asked: dict[str, str] | None = None
) -> Response:
    session = get_session()
    found = interviews.overview(session, ledger_writer(session), current_principal())
    return render(
        "staff/interviews.html",
        422 if faults else 200,
        found=found,
        labels=_labels(),
        interviewers=_interviewers(),
        asked=asked or {},
        modes=MODE_WORDS,
        channels=CHANNELS,
        describe=describe_slot,
        **with_faults(faults or {}),
    )


@blp.route("/interviews", methods=["GET"])
@staff_page("researcher")
def interviews_page() -> Response:
    """The schedule, who may be invited, and the invitations with their states."""
    return _overview()


@blp.route("/interviews/invite", methods=["POST"])
@staff_page("researcher")
def interview_invite() -> Response:
    """Invite one participant by email, or record an invitation made by phone."""
    channel = request.form.get("channel", "")
    try:
        study_id = parse_study_id(request.form.get("study_id", ""))
    except StudyIdError as exc:
        return _overview({"study_id": f"Study ID: {exc}"})
    if channel not in CHANNELS:
        return _overview({f"channel-{study_id}": "Choose email or phone"})
    session = get_session()
    try:
        interviews.invite(session, ledger_writer(session), current_principal(), study_id, channel)
    except (*REFUSALS, NotFoundError) as exc:
        session.rollback()
        return _overview({f"channel-{study_id}": str(exc).rstrip(".")})
    return redirect(url_for("staff.interviews_page"), code=303)  # type: ignore[return-value]


@blp.route("/interviews/slots", methods=["POST"])
@staff_page("researcher")
def interview_slot_create() -> Response:
    """Offer a time: a date and time (UTC), minutes, mode and interviewer."""
    asked = {name: request.form.get(name, "").strip() for name in SLOT_FIELDS.values()}
    asked["starts_time"] = request.form.get("starts_time", "").strip()
    faults: dict[str, str] = {}
    try:
        starts = dt.datetime.fromisoformat(f"{asked['starts_on']}T{asked['starts_time']}")
        if starts.tzinfo is not None:  # the page asks for UTC: an offset typed in is refused
            raise ValueError("an offset")
        starts = starts.replace(tzinfo=dt.UTC)
    except ValueError:
        faults["starts_on"] = "Enter the date as 2026-12-01 and the time as 14:30"
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,4}", asked["minutes"]):
        faults["minutes"] = "Enter the length in whole minutes, for example 60"
    try:
        interviewer = uuid.UUID(asked["interviewer_id"])
    except ValueError:
        faults["interviewer_id"] = "Choose the interviewer"
    if faults:
        return _overview(faults, asked)
    session = get_session()
    try:
        interview_slots.create_slot(
            session,
            ledger_writer(session),
            current_principal(),
            starts_at=starts,
            minutes=int(asked["minutes"]),
            mode=asked["mode"],
            interviewer_id=interviewer,
        )
    except InvalidInputError as exc:
        session.rollback()
        return _overview(_faults_of(exc, "starts_on"), asked)
    return redirect(url_for("staff.interviews_page"), code=303)  # type: ignore[return-value]


@blp.route("/interviews/slots/<uuid:slot_id>/cancel", methods=["POST"])
@staff_page("researcher")
def interview_slot_cancel(slot_id: uuid.UUID) -> Response:
    """Withdraw a free slot; a booked one is refused on the page."""
    session = get_session()
    try:
        interview_slots.cancel_slot(session, ledger_writer(session), current_principal(), slot_id)
    except ConflictError as exc:
        session.rollback()
        return _overview({f"slot-{slot_id}": str(exc).rstrip(".")})
    return redirect(url_for("staff.interviews_page"), code=303)  # type: ignore[return-value]


def _detail(interview_id: uuid.UUID, faults: dict[str, str] | None = None) -> Response:
    session = get_session()
    view = interviews.interview_detail(
        session, ledger_writer(session), current_principal(), interview_id
    )
    free = interview_slots.upcoming_slots(session, free_only=True)
    labels = _labels()
    return render(
        "staff/interview.html",
        422 if faults else 200,
        interview=view,
        when=None
        if view.slot is None
        else describe_slot(view.slot.starts_at, view.slot.minutes, view.slot.mode),
        interviewer=None if view.slot is None else labels.get(view.slot.interviewer_id),
        free=[
            {
                "value": str(s.id),
                "text": describe_slot(s.starts_at, s.minutes, s.mode),
                "hint": {"text": f"Interviewer: {labels.get(s.interviewer_id, 'unknown')}"},
            }
            for s in free
        ],
        files_href=f"/staff/interviews/{view.id}/files",
        **with_faults(faults or {}),
    )


@blp.route("/interviews/<uuid:interview_id>", methods=["GET"])
@staff_page("researcher")
def interview_detail(interview_id: uuid.UUID) -> Response:
    """One interview: its state, its time, and what can be done next."""
    return _detail(interview_id)


@blp.route("/interviews/<uuid:interview_id>/schedule", methods=["POST"])
@staff_page("researcher")
def interview_schedule(interview_id: uuid.UUID) -> Response:
    """Book the interview into a free slot (or move it to another)."""
    try:
        slot_id = uuid.UUID(request.form.get("slot_id", ""))
    except ValueError:
        return _detail(interview_id, {"slot_id": "Choose a time"})
    session = get_session()
    try:
        interviews.schedule(
            session, ledger_writer(session), current_principal(), interview_id, slot_id
        )
    except REFUSALS as exc:
        session.rollback()
        return _detail(interview_id, {"slot_id": str(exc).rstrip(".")})
    return _after(interview_id)


def _after(interview_id: uuid.UUID) -> Response:
    target = url_for("staff.interview_detail", interview_id=interview_id)
    return redirect(target, code=303)  # type: ignore[return-value]


def _change(interview_id: uuid.UUID, action: str) -> Response:
    session = get_session()
    try:
        interviews.staff_change(
            session, ledger_writer(session), current_principal(), interview_id, action
        )
    except ConflictError as exc:
        session.rollback()
        return _detail(interview_id, {"action": str(exc).rstrip(".")})
    return _after(interview_id)


@blp.route("/interviews/<uuid:interview_id>/done", methods=["POST"])
@staff_page("researcher")
def interview_done(interview_id: uuid.UUID) -> Response:
    """Record that the interview took place."""
    return _change(interview_id, MARK_DONE)


@blp.route("/interviews/<uuid:interview_id>/cancel", methods=["POST"])
@staff_page("researcher")
def interview_cancel(interview_id: uuid.UUID) -> Response:
    """Cancel the invitation; its slot is freed."""
    return _change(interview_id, CANCEL)
