"""Interviews: invitations, slots and scheduling, each step gated by the consent in force.

A researcher invites a participant whose consent in force includes the interview-contact
clause (by email through the outbox, or records a call); the participant accepts, with a
slot or without, or declines; the researcher schedules, marks done or cancels. Every change
is an access-log event naming ids only (interview, slot, study ID, token), written in the
transaction that makes it; each function that changes anything commits once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain import notifications as messages
from service.domain.consent import ERASED, INTERVIEW_CONTACT_CLAUSE, WITHDRAWN, ConsentState
from service.domain.errors import (
    ConflictError,
    ContactNotPermittedError,
    NotFoundError,
    WithdrawnError,
)
from service.domain.interviews import (
    ACCEPT,
    ACCEPT_SLOT,
    CANCEL,
    DECLINE,
    INVITED,
    MARK_DONE,
    OPEN,
    SCHEDULE,
    reminder_due_at,
)
from service.models import IdentityValue, Interview, InterviewSlot, Participant
from service.services.audit import record_access
from service.services.consent import participant, states_of
from service.services.context import participant_context
from service.services.interview_slots import (
    SlotView,
    free_slot,
    slot_view,
    upcoming_slots,
)
from service.services.interview_state import change_state
from service.services.ledger import LedgerWriter
from service.services.notifications import queue_interview_message
from service.services.tokens import Principal

NOT_AGREED = (
    f"This participant's consent in force does not include the clause {INTERVIEW_CONTACT_CLAUSE} "
    "(being contacted about an interview)."
)


@dataclass(frozen=True)
class InterviewView:
    id: uuid.UUID
    study_id: str
    status: str
    channel: str
    invited_at: dt.datetime
    updated_at: dt.datetime
    cancel_reason: str | None
    slot: SlotView | None


@dataclass(frozen=True)
class Eligible:
    study_id: str
    has_email: bool
    open_interview: uuid.UUID | None


def _view(session: Session, interview: Interview) -> InterviewView:
    slot = session.get(InterviewSlot, interview.slot_id) if interview.slot_id else None
    return InterviewView(
        id=interview.id,
        study_id=interview.study_id,
        status=interview.status,
        channel=interview.channel,
        invited_at=interview.invited_at,
        updated_at=interview.updated_at,
        cancel_reason=interview.cancel_reason,
        slot=None if slot is None else slot_view(slot, interview.id),
    )


def _check_contact(state: ConsentState) -> None:
    """Refused unless the consent in force includes the interview-contact clause."""
    if state.state in (WITHDRAWN, ERASED):
        raise WithdrawnError("This participant has withdrawn from the study: no interview.")
    if not state.allows_contact:
        raise ContactNotPermittedError(NOT_AGREED)


def _has_email(session: Session, study_id: str) -> bool:
    found = session.scalar(
        select(func.count())
        .select_from(IdentityValue)
        .where(IdentityValue.study_id == study_id, IdentityValue.kind == "email")
    )
    return (found or 0) > 0


# --- researchers: who may be invited, and inviting -----------------------------------------


def _eligible(session: Session) -> list[Eligible]:
    people = list(
        session.scalars(
            select(Participant.study_id)
            .where(Participant.erased_at.is_(None))
            .order_by(Participant.study_id)
        )
    )
    states = states_of(session, people)
    open_ones = dict(
        session.execute(
            select(Interview.study_id, Interview.id).where(Interview.status.in_(OPEN))
        ).all()
    )
    with_email = set(
        session.scalars(select(IdentityValue.study_id).where(IdentityValue.kind == "email"))
    )
    return [
        Eligible(sid, sid in with_email, open_ones.get(sid))
        for sid in people
        if states[sid].allows_contact
    ]


def eligible(session: Session, writer: LedgerWriter, principal: Principal) -> list[Eligible]:
    """Participants whose consent in force includes interview contact, with any open
    invitation. Commits the access entry."""
    writer.lock("access")
    found = _eligible(session)
    record_access(writer, principal, "interviews.eligible.read", rows=len(found))
    session.commit()
    return found


@dataclass(frozen=True)
class Overview:
    """The console's interviews page: the schedule, who may be invited, the invitations."""

    slots: list[SlotView]
    eligible: list[Eligible]
    interviews: list[InterviewView]


def overview(session: Session, writer: LedgerWriter, principal: Principal) -> Overview:
    """Everything the interviews page shows, read in one transaction with one access entry."""
    writer.lock("access")
    found = Overview(upcoming_slots(session), _eligible(session), _interviews(session, None))
    record_access(
        writer,
        principal,
        "interviews.overview.read",
        rows=len(found.slots) + len(found.eligible) + len(found.interviews),
    )
    session.commit()
    return found


def invite(
    session: Session, writer: LedgerWriter, principal: Principal, study_id: str, channel: str
) -> InterviewView:
    """Invite a participant by email (queued in the outbox) or record a call. Commits."""
    writer.lock("access")
    participant(session, study_id)
    _check_contact(participant_context(session, study_id, for_writing=True).consent)
    if session.scalar(
        select(Interview.id).where(Interview.study_id == study_id, Interview.status.in_(OPEN))
    ):
        raise ConflictError("This participant already has an open interview invitation.")
    if channel == "email" and not _has_email(session, study_id):
        raise ConflictError("There is no email address for this participant: invite by phone.")
    now = utcnow()
    interview = Interview(
        id=uuid.uuid4(),
        study_id=study_id,
        status=INVITED,
        channel=channel,
        invited_by=principal.token_id,
        invited_at=now,
        updated_at=now,
        slot_id=None,
        cancel_reason=None,
    )
    session.add(interview)
    session.flush()
    if channel == "email":
        queue_interview_message(session, messages.INTERVIEW_INVITATION, interview, now)
    record_access(
        writer,
        principal,
        "interview.invite",
        study_id=study_id,
        filters={"interview_id": str(interview.id), "channel": channel},
        rows=1,
    )
    view = _view(session, interview)
    session.commit()
    return view


def list_interviews(
    session: Session, writer: LedgerWriter, principal: Principal, status: str | None = None
) -> list[InterviewView]:
    """Invitations, newest first, with their slots. Commits the access entry."""
    writer.lock("access")
    found = _interviews(session, status)
    record_access(writer, principal, "interviews.read", filters={"status": status}, rows=len(found))
    session.commit()
    return found


def _interviews(session: Session, status: str | None) -> list[InterviewView]:
    query = select(Interview).order_by(Interview.invited_at.desc())
    if status is not None:
        query = query.where(Interview.status == status)
    return [_view(session, i) for i in session.scalars(query)]


def interview_detail(
    session: Session, writer: LedgerWriter, principal: Principal, interview_id: uuid.UUID
) -> InterviewView:
    """One interview. Commits the access entry."""
    writer.lock("access")
    view = _view(session, _interview(session, interview_id))
    record_access(
        writer,
        principal,
        "interview.read",
        study_id=view.study_id,
        filters={"interview_id": str(interview_id)},
        rows=1,
    )
    session.commit()
    return view


def _interview(session: Session, interview_id: uuid.UUID, study_id: str | None = None) -> Interview:
    found = session.get(Interview, interview_id)
    if found is None or (study_id is not None and found.study_id != study_id):
        raise NotFoundError(f"There is no interview {interview_id}.")
    return found


def _book(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    interview: Interview,
    action: str,
    slot_id: uuid.UUID,
) -> None:
    """Book a free slot and queue the confirmation and the reminder the day before."""
    slot = free_slot(session, slot_id)
    if interview.slot_id is not None:  # a new time: the old slot goes back first
        interview.slot_id = None
        session.flush()
    change_state(writer, principal, interview, action, slot_id=slot.id)
    session.flush()
    now = utcnow()
    queue_interview_message(session, messages.INTERVIEW_CONFIRMATION, interview, now)
    if reminder_due_at(slot.starts_at) > now:
        queue_interview_message(
            session, messages.INTERVIEW_REMINDER, interview, reminder_due_at(slot.starts_at)
        )


# --- researchers: moving an interview on -----------------------------------------------------


def schedule(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    interview_id: uuid.UUID,
    slot_id: uuid.UUID,
) -> InterviewView:
    """Book an interview into a free slot (consent to contact still in force). Commits."""
    writer.lock("access")
    interview = _interview(session, interview_id)
    _check_contact(participant_context(session, interview.study_id, for_writing=True).consent)
    _book(session, writer, principal, interview, SCHEDULE, slot_id)
    view = _view(session, interview)
    session.commit()
    return view


def staff_change(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    interview_id: uuid.UUID,
    action: str,
) -> InterviewView:
    """Mark an interview done, or cancel it (its slot is freed). Commits."""
    if action not in (MARK_DONE, CANCEL):
        raise ValueError(action)
    writer.lock("access")
    interview = _interview(session, interview_id)
    change_state(writer, principal, interview, action, reason="staff")
    view = _view(session, interview)
    session.commit()
    return view


# --- the participant --------------------------------------------------------------------------


def my_interviews(session: Session, study_id: str) -> tuple[list[InterviewView], list[SlotView]]:
    """A participant's own invitations, newest first, and the free slots they may choose."""
    found = session.scalars(
        select(Interview)
        .where(Interview.study_id == study_id)
        .order_by(Interview.invited_at.desc())
    )
    views = [_view(session, i) for i in found]
    choosing = any(v.status in (INVITED, "accepted") for v in views)
    return views, (upcoming_slots(session, free_only=True) if choosing else [])


def has_open_invitation(session: Session, study_id: str) -> bool:
    """Whether the participant has an invitation they can still answer or change."""
    found = session.scalar(
        select(Interview.id).where(Interview.study_id == study_id, Interview.status.in_(OPEN))
    )
    return found is not None


def answer(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    interview_id: uuid.UUID,
    *,
    accept: bool,
    slot_id: uuid.UUID | None = None,
) -> InterviewView:
    """The participant accepts (choosing a slot, or to be contacted to arrange a time) or
    declines their own invitation. Commits."""
    study_id = principal.study_id
    if study_id is None:
        raise NotFoundError("Only a participant answers an invitation.")
    writer.lock("access")
    interview = _interview(session, interview_id, study_id)
    state = participant_context(session, study_id, for_writing=True).consent
    if not accept:
        change_state(writer, principal, interview, DECLINE)
    else:
        _check_contact(state)
        if slot_id is None:
            change_state(writer, principal, interview, ACCEPT)
        else:
            _book(session, writer, principal, interview, ACCEPT_SLOT, slot_id)
    view = _view(session, interview)
    session.commit()
    return view
