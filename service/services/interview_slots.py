"""Interview slots: the times the study offers, with their interviewer (a staff token id).

A slot is free while it is not cancelled, starts later than now and no interview is booked
into it (``interviews.slot_id`` is unique). Creating and cancelling one are access-logged.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, InvalidInputError, NotFoundError
from service.domain.interviews import SlotRequest, slot_faults
from service.models import Interview, InterviewSlot, StaffToken
from service.services.audit import record_access
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal


@dataclass(frozen=True)
class SlotView:
    id: uuid.UUID
    starts_at: dt.datetime
    minutes: int
    mode: str
    interviewer_id: uuid.UUID
    cancelled_at: dt.datetime | None
    interview_id: uuid.UUID | None  # the interview booked into it, if any


def slot_view(slot: InterviewSlot, booked: uuid.UUID | None) -> SlotView:
    return SlotView(
        slot.id, slot.starts_at, slot.minutes, slot.mode, slot.interviewer_id,
        slot.cancelled_at, booked,
    )  # fmt: skip


def create_slot(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    *,
    starts_at: dt.datetime,
    minutes: int,
    mode: str,
    interviewer_id: uuid.UUID,
) -> SlotView:
    """Offer a time for interviews, with its interviewer (a staff token id). Commits."""
    writer.lock("access")
    now = utcnow()
    faults = slot_faults(SlotRequest(starts_at, minutes, mode), now)
    interviewer = session.get(StaffToken, interviewer_id)
    if interviewer is None or interviewer.revoked_at is not None:
        faults["interviewer_id"] = ["is not a staff token in use"]
    if faults:
        raise InvalidInputError(faults)
    slot = InterviewSlot(
        id=uuid.uuid4(),
        starts_at=starts_at,
        minutes=minutes,
        mode=mode,
        interviewer_id=interviewer_id,
        created_at=now,
        cancelled_at=None,
    )
    session.add(slot)
    session.flush()
    record_access(
        writer,
        principal,
        "interview.slot.create",
        filters={"slot_id": str(slot.id), "interviewer_id": str(interviewer_id)},
        rows=1,
    )
    view = slot_view(slot, None)
    session.commit()
    return view


def booked_slots(session: Session) -> dict[uuid.UUID, uuid.UUID]:
    """slot id -> the interview booked into it."""
    rows = session.execute(
        select(Interview.slot_id, Interview.id).where(Interview.slot_id.is_not(None))
    ).all()
    return {slot_id: interview_id for slot_id, interview_id in rows if slot_id is not None}


def upcoming_slots(session: Session, *, free_only: bool = False) -> list[SlotView]:
    """Slots not cancelled that start from now on, soonest first (no access entry: callers
    that show them to staff log it)."""
    booked = booked_slots(session)
    slots = session.scalars(
        select(InterviewSlot)
        .where(InterviewSlot.cancelled_at.is_(None), InterviewSlot.starts_at > utcnow())
        .order_by(InterviewSlot.starts_at)
    )
    views = [slot_view(s, booked.get(s.id)) for s in slots]
    return [v for v in views if v.interview_id is None] if free_only else views


def list_slots(session: Session, writer: LedgerWriter, principal: Principal) -> list[SlotView]:
    """The schedule: upcoming slots, booked or free. Commits the access entry."""
    writer.lock("access")
    found = upcoming_slots(session)
    record_access(writer, principal, "interview.slots.read", rows=len(found))
    session.commit()
    return found


def cancel_slot(
    session: Session, writer: LedgerWriter, principal: Principal, slot_id: uuid.UUID
) -> SlotView:
    """Withdraw a free slot (a booked one is refused: cancel or move its interview first)."""
    writer.lock("access")
    slot = session.get(InterviewSlot, slot_id)
    if slot is None:
        raise NotFoundError(f"There is no slot {slot_id}.")
    if slot.cancelled_at is not None:
        raise ConflictError("This slot is already cancelled.")
    if slot_id in booked_slots(session):
        raise ConflictError("This slot is booked: cancel or move its interview first.")
    slot.cancelled_at = utcnow()
    record_access(
        writer, principal, "interview.slot.cancel", filters={"slot_id": str(slot_id)}, rows=1
    )
    view = slot_view(slot, None)
    session.commit()
    return view


def free_slot(session: Session, slot_id: uuid.UUID) -> InterviewSlot:
    slot = session.get(InterviewSlot, slot_id)
    if slot is None:
        raise InvalidInputError({"slot_id": ["there is no such slot"]})
    if (
        slot.cancelled_at is not None
        or slot.starts_at <= utcnow()
        or slot_id in booked_slots(session)
    ):
        raise ConflictError("This time is no longer free: choose another.")
    return slot
