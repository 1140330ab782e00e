"""Interviews: the states an invitation passes through and who may move it where.

Pure rules: a transition is a (state, action) pair, and every pair not listed is refused.
An invitation is *open* while something may still happen to it (invited, accepted,
scheduled); done, declined and cancelled are final.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

INVITED, ACCEPTED, SCHEDULED = "invited", "accepted", "scheduled"
DONE, DECLINED, CANCELLED = "done", "declined", "cancelled"
STATES = (INVITED, ACCEPTED, SCHEDULED, DONE, DECLINED, CANCELLED)
OPEN = frozenset({INVITED, ACCEPTED, SCHEDULED})

CHANNELS = ("email", "phone")
MODES = ("phone", "video", "in_person")
MIN_MINUTES, MAX_MINUTES = 15, 240

# Actions: the participant accepts (with or without a slot) or declines; the researcher
# schedules (after an acceptance, or an agreement made by phone or in a reply), marks the
# interview done, or cancels; a withdrawal cancels too.
ACCEPT, ACCEPT_SLOT, DECLINE = "accept", "accept-slot", "decline"
SCHEDULE, MARK_DONE, CANCEL = "schedule", "done", "cancel"
ACTIONS = (ACCEPT, ACCEPT_SLOT, DECLINE, SCHEDULE, MARK_DONE, CANCEL)

TRANSITIONS: dict[tuple[str, str], str] = {
    (INVITED, ACCEPT): ACCEPTED,
    (INVITED, ACCEPT_SLOT): SCHEDULED,
    # Asked to be contacted, then chose one of the times offered since.
    (ACCEPTED, ACCEPT_SLOT): SCHEDULED,
    (INVITED, DECLINE): DECLINED,
    (ACCEPTED, DECLINE): DECLINED,
    (SCHEDULED, DECLINE): DECLINED,
    (INVITED, SCHEDULE): SCHEDULED,
    (ACCEPTED, SCHEDULE): SCHEDULED,
    # A new time for a booked interview: the old slot is freed.
    (SCHEDULED, SCHEDULE): SCHEDULED,
    (SCHEDULED, MARK_DONE): DONE,
    (INVITED, CANCEL): CANCELLED,
    (ACCEPTED, CANCEL): CANCELLED,
    (SCHEDULED, CANCEL): CANCELLED,
}

_VERBS = {
    ACCEPT: "accepted",
    ACCEPT_SLOT: "accepted",
    DECLINE: "declined",
    SCHEDULE: "scheduled",
    MARK_DONE: "marked done",
    CANCEL: "cancelled",
}


class TransitionError(ValueError):
    """The action is not allowed from the interview's state."""


def next_state(state: str, action: str) -> str:
    """The state after ``action``, or TransitionError saying why not."""
    if action not in ACTIONS:
        raise TransitionError(f"{action!r} is not an interview action")
    found = TRANSITIONS.get((state, action))
    if found is None:
        raise TransitionError(f"An interview that is {state} cannot be {_VERBS[action]}.")
    return found


def frees_slot(state: str) -> bool:
    """Whether an interview in ``state`` gives its slot back (only a done one keeps it)."""
    return state in (DECLINED, CANCELLED)


@dataclass(frozen=True)
class SlotRequest:
    starts_at: dt.datetime
    minutes: int
    mode: str


def slot_faults(slot: SlotRequest, now: dt.datetime) -> dict[str, list[str]]:
    """What is wrong with a slot offered for an interview, by field; empty when nothing is."""
    faults: dict[str, list[str]] = {}
    if slot.starts_at.tzinfo is None:
        faults["starts_at"] = ["give the time with its offset, e.g. 2026-12-01T10:00:00Z"]
    elif slot.starts_at <= now:
        faults["starts_at"] = ["must be in the future"]
    if not MIN_MINUTES <= slot.minutes <= MAX_MINUTES:
        faults["minutes"] = [f"must be from {MIN_MINUTES} to {MAX_MINUTES} minutes"]
    if slot.mode not in MODES:
        faults["mode"] = [f"must be one of: {', '.join(MODES)}"]
    return faults


def reminder_due_at(starts_at: dt.datetime) -> dt.datetime:
    """When the reminder of a booked interview falls due: the day before, at the same time."""
    return starts_at - dt.timedelta(days=1)


MODE_WORDS = {"phone": "by phone", "video": "by video call", "in_person": "in person"}


def describe_slot(starts_at: dt.datetime, minutes: int, mode: str) -> str:
    """A slot as a person reads it: 'Tuesday 1 December 2026 at 10:00 (UTC), 60 minutes,
    by phone'."""
    when = starts_at.astimezone(dt.UTC)
    return (
        f"{when.strftime('%A')} {when.day} {when.strftime('%B %Y at %H:%M')} (UTC), "
        f"{minutes} minutes, {MODE_WORDS.get(mode, mode)}"
    )
