"""What a notification says and when it falls due: pure rules, no database, no network.

The outbox row names a kind; the words come from here at send time, so no message body,
address or link is ever stored. Every wording is neutral: someone else reading the inbox
must not learn the study's topic, and a safety message holds no answer, score, name or
contact detail (only that an alert needs review, when, and where to look).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

SAFETY_ALERT = "safety-alert"
SAFETY_ESCALATION = "safety-escalation"
INVITATION = "invitation"
FIRST_REMINDER = "reminder-1"
LAST_REMINDER = "reminder-2"
PARTICIPANT_KINDS = (INVITATION, FIRST_REMINDER, LAST_REMINDER)
# About an interview (``notifications.interview_id``): an invitation, a confirmation of the
# time booked, and a reminder the day before.
INTERVIEW_INVITATION = "interview-invitation"
INTERVIEW_CONFIRMATION = "interview-confirmation"
INTERVIEW_REMINDER = "interview-reminder"
INTERVIEW_KINDS = (INTERVIEW_INVITATION, INTERVIEW_CONFIRMATION, INTERVIEW_REMINDER)
KINDS = (SAFETY_ALERT, SAFETY_ESCALATION, *PARTICIPANT_KINDS, *INTERVIEW_KINDS)

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"
STATUSES = (PENDING, SENDING, SENT, FAILED, CANCELLED)

# The placeholders a wording may use; anything else in braces is refused at start.
PLACEHOLDERS = {
    SAFETY_ALERT: ("raised_at", "link"),
    SAFETY_ESCALATION: ("raised_at", "link", "after"),
    INVITATION: ("link", "closes"),
    FIRST_REMINDER: ("link", "closes"),
    LAST_REMINDER: ("link", "closes"),
    INTERVIEW_INVITATION: ("link",),
    INTERVIEW_CONFIRMATION: ("link", "when"),
    INTERVIEW_REMINDER: ("link", "when"),
}

DEFAULT_WORDING: dict[str, tuple[str, str]] = {
    SAFETY_ALERT: (
        "Urgent: a safety alert needs review",
        "An urgent safety alert was raised at {raised_at} and needs review by a member of the "
        "study team.\n\nSign in and open it here:\n{link}\n\n"
        "This message holds no answers and no personal details by design.\n",
    ),
    SAFETY_ESCALATION: (
        "Urgent: a safety alert is still not reviewed",
        "An urgent safety alert raised at {raised_at} has not been acknowledged after "
        "{after}.\n\nSign in and open it here:\n{link}\n\n"
        "This message holds no answers and no personal details by design.\n",
    ),
    INVITATION: (
        "Your study questionnaire is ready",
        "Hello,\n\nYour next study questionnaire is ready. You can fill it in until {closes}.\n\n"
        "Open it here (this link works for 14 days and only for you):\n{link}\n\n"
        "You can stop these emails on the same page.\n",
    ),
    FIRST_REMINDER: (
        "Reminder: your study questionnaire",
        "Hello,\n\nThis is a reminder that your study questionnaire is waiting. You can fill "
        "it in until {closes}.\n\nOpen it here (this link works for 14 days and only for "
        "you):\n{link}\n\nYou can stop these emails on the same page.\n",
    ),
    LAST_REMINDER: (
        "Last reminder: your study questionnaire",
        "Hello,\n\nYour study questionnaire closes on {closes}.\n\nOpen it here (this link "
        "works for 14 days and only for you):\n{link}\n\n"
        "You can stop these emails on the same page.\n",
    ),
    INTERVIEW_INVITATION: (
        "An invitation to talk to the study team",
        "Hello,\n\nThe study team would like to invite you to an interview. Taking part is "
        "your choice, and saying no changes nothing else.\n\nSee the invitation, choose a "
        "time or say no here (this link works for 14 days and only for you):\n{link}\n",
    ),
    INTERVIEW_CONFIRMATION: (
        "Your interview is booked",
        "Hello,\n\nYour interview is booked for {when}.\n\nTo see it or to cancel it, "
        "open (this link works for 14 days and only for you):\n{link}\n",
    ),
    INTERVIEW_REMINDER: (
        "Reminder: your interview tomorrow",
        "Hello,\n\nThis is a reminder of your interview on {when}.\n\nTo see it or to "
        "cancel it, open (this link works for 14 days and only for you):\n{link}\n",
    ),
}


class WordingError(ValueError):
    """A deployment's wording names a kind or a placeholder that does not exist."""


def check_wording(overrides: Mapping[str, object]) -> dict[str, tuple[str, str]]:
    """The wording in force: the defaults with a deployment's overrides, each checked."""
    wording = dict(DEFAULT_WORDING)
    for kind, value in overrides.items():
        if kind not in DEFAULT_WORDING:
            raise WordingError(f"names no message kind {kind!r} (kinds: {', '.join(KINDS)})")
        if not (
            isinstance(value, Mapping)
            and set(value) == {"subject", "body"}
            and all(isinstance(v, str) and v.strip() for v in value.values())
        ):
            raise WordingError(f"{kind}: give a 'subject' and a 'body', both text")
        subject, body = str(value["subject"]), str(value["body"])
        for text in (subject, body):
            for _literal, name, _spec, _conv in string.Formatter().parse(text):
                if name is not None and name not in PLACEHOLDERS[kind]:
                    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS[kind])
                    raise WordingError(f"{kind}: {{{name}}} is not known (use {allowed})")
        if "\n" in subject or "\r" in subject:
            raise WordingError(f"{kind}: the subject is one line")
        wording[kind] = (subject, body)
    return wording


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(wording: Mapping[str, tuple[str, str]], kind: str, **values: str) -> Rendered:
    """A message's subject and body with its values filled in."""
    subject, body = wording[kind]
    return Rendered(subject.format(**values), body.format(**values))


def retry_delay(
    attempts: int, base_seconds: float, cap_seconds: float, rng: random.Random
) -> float:
    """Seconds to wait before the next try: exponential, capped, with full jitter over its
    upper half, so that workers retrying together after an outage do not stay in step."""
    ceiling = min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + rng.random() * ceiling / 2)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    """'24h', '90m', '30s', '2d' as a time span (ValueError otherwise)."""
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"must be a number and a unit (s, m, h, d), e.g. 24h, not {text!r}")
    return dt.timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def describe_duration(span: dt.timedelta) -> str:
    """A time span as a person reads it: '24 hours', '90 minutes'."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@dataclass(frozen=True)
class ReminderDays:
    """The first reminder, days after a timepoint opens; the last, days before it closes."""

    after_opening: int
    before_closing: int


def parse_reminder_days(text: str) -> ReminderDays:
    """'7,3': a reminder 7 days after opening, another 3 days before closing (ValueError)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"must be two whole numbers of days, e.g. 7,3, not {text!r}")
    first, last = int(parts[0]), int(parts[1])
    if first < 1:
        raise ValueError("the first reminder comes at least 1 day after the invitation")
    return ReminderDays(first, last)


def reminder_due(
    opens: dt.date, closes: dt.date, today: dt.date, days: ReminderDays, invite: bool
) -> str | None:
    """The latest participant message due by ``today`` for a window, or None.

    Only the latest is queued: a scheduler that runs late (a worker down for a week) sends
    one message, not an invitation and two reminders at once. The invitation is left out for
    a window that opens on the day of enrolment, whose letter is the invitation.
    """
    if today < opens or today > closes:
        return None
    due: str | None = INVITATION if invite else None
    first = opens + dt.timedelta(days=days.after_opening)
    last = closes - dt.timedelta(days=days.before_closing)
    if first <= today and first < last:
        due = FIRST_REMINDER
    if last <= today and last > opens:
        due = LAST_REMINDER
    return due


def dedupe_key(kind: str, study_id: str, timepoint: str) -> str:
    """The unique key of a participant message: one per (participant, timepoint, kind)."""
    return f"{kind}:{study_id}:{timepoint}"
