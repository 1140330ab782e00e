"""Moving an interview from one state to the next, with its access-log event; and the
cancelling of a participant's open interviews when they withdraw.

Apart from ``services/interviews.py`` so that the consent service (withdrawal) can call it
without importing the outbox, which imports the consent service.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError
from service.domain.interviews import CANCEL, OPEN, TransitionError, frees_slot, next_state
from service.models import Interview
from service.services.audit import record_access
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal


def change_state(
    writer: LedgerWriter,
    principal: Principal,
    interview: Interview,
    action: str,
    *,
    slot_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> str:
    """Apply ``action`` (409 when the state does not allow it) and log it by ids only.

    The caller holds the access log's lock and commits. A declined or cancelled interview
    gives its slot back, so the time can be offered again.
    """
    before = interview.status
    try:
        after = next_state(before, action)
    except TransitionError as exc:
        raise ConflictError(str(exc)) from None
    if slot_id is not None:
        interview.slot_id = slot_id
    if frees_slot(after):
        interview.slot_id = None
    if after == "cancelled":
        interview.cancel_reason = reason or "staff"
    interview.status, interview.updated_at = after, utcnow()
    record_access(
        writer,
        principal,
        f"interview.{action}",
        study_id=interview.study_id,
        filters={
            "interview_id": str(interview.id),
            "from": before,
            "to": after,
            "slot_id": None if interview.slot_id is None else str(interview.slot_id),
            "reason": reason,
        },
        rows=1,
    )
    return after


def cancel_open_interviews(
    session: Session, writer: LedgerWriter, principal: Principal, study_id: str, reason: str
) -> int:
    """Cancel every open invitation of a participant and free its slot (the caller holds the
    access log's lock and commits, in the transaction of the withdrawal)."""
    found = list(
        session.scalars(
            select(Interview).where(Interview.study_id == study_id, Interview.status.in_(OPEN))
        )
    )
    for interview in found:
        change_state(writer, principal, interview, CANCEL, reason=reason)
    session.flush()
    return len(found)
