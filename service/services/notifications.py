"""The outbox: notification rows written in the caller's transaction, claimed and recorded
by the worker, and read by people (admins, researchers, the participant's own choice).

A row is written in the same transaction as the event that causes it (an alert raised, the
scheduler finding a reminder due), so no event lacks its message and no message outlives a
rolled-back event. Only the worker sends (service/worker.py): it claims rows (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; SQLite's write lock, taken at BEGIN, on the embedded default),
holds each for a lease, sends, and records the outcome. A worker that dies holding a lease
leaves its rows to be claimed again once the lease ends: delivery is at least once.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain import notifications as rules
from service.domain.consent import CONSENTED, NEEDS_RECONSENT, ConsentState
from service.domain.errors import ConflictError, NotFoundError
from service.domain.interviews import SCHEDULED, describe_slot
from service.domain.tasks import window
from service.domain.tokens import TokenKind, generate_token, hash_token, token_hint
from service.models import (
    Alert,
    IdentityValue,
    Interview,
    InterviewSlot,
    Notification,
    Participant,
    ParticipantToken,
    ReminderChoice,
    Response,
)
from service.services.catalogue import catalogue
from service.services.consent import states_of
from service.services.keyring import KeyringSource
from service.services.vault import Vault

EMAIL = "email"
# How long the sign-in link in a reminder works (docs/notifications.md weighs this).
LINK_LIFETIME = dt.timedelta(days=14)
RETRY_CAP_SECONDS = 3600.0
_OUTBOX = cast(Table, Notification.__table__)


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping any whose dedupe key exists; how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_OUTBOX).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = session.connection().execute(statement.returning(_OUTBOX.c.id), list(rows))
    return len(result.all())


def _row(kind: str, due_at: dt.datetime, **about: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "channel": EMAIL,
        "study_id": about.get("study_id"),
        "timepoint": about.get("timepoint"),
        "alert_id": about.get("alert_id"),
        "dedupe_key": about["dedupe_key"],
        "status": rules.PENDING,
        "attempts": 0,
        "created_at": utcnow(),
        "due_at": due_at,
        "lease_until": None,
        "sent_at": None,
        "last_error": None,
        "token_id": None,  # nosec B105
        "interview_id": about.get("interview_id"),
    }


def queue_safety_alerts(session: Session, alerts: Sequence[dict[str, Any]]) -> int:
    """Queue the safety team's message for each urgent alert, in the caller's transaction
    (the one that creates the alerts). ``alerts`` are the alert rows as inserted."""
    rows = [
        _row(
            rules.SAFETY_ALERT,
            alert["raised_at"],
            study_id=alert["study_id"],
            alert_id=alert["id"],
            dedupe_key=f"{rules.SAFETY_ALERT}:{alert['id']}",
        )
        for alert in alerts
        if alert["severity"] == "urgent"
    ]
    return _insert_new(session, rows)


def queue_interview_message(
    session: Session, kind: str, interview: Interview, due_at: dt.datetime
) -> int:
    """Queue an interview's invitation, confirmation or reminder in the caller's transaction.

    One of each kind per interview and slot: booking another time queues a new confirmation
    and reminder, and the worker cancels those of a time no longer booked.
    """
    key = f"{kind}:{interview.id}:{interview.slot_id or '-'}"
    row = _row(kind, due_at, study_id=interview.study_id, interview_id=interview.id, dedupe_key=key)
    return _insert_new(session, [row])


# --- the scheduler ---------------------------------------------------------------------------


def queue_escalations(session: Session, now: dt.datetime, after: dt.timedelta) -> int:
    """Queue an escalation for each urgent alert still open ``after`` it was raised."""
    overdue = session.execute(
        select(Alert.id, Alert.study_id).where(
            Alert.severity == "urgent", Alert.status == "open", Alert.raised_at <= now - after
        )
    ).all()
    rows = [
        _row(
            rules.SAFETY_ESCALATION,
            now,
            study_id=study_id,
            alert_id=alert_id,
            dedupe_key=f"{rules.SAFETY_ESCALATION}:{alert_id}",
        )
        for alert_id, study_id in overdue
    ]
    return _insert_new(session, rows)


def may_remind(state: ConsentState) -> bool:
    """Consent in force and no withdrawal of contact: the only participants who are emailed."""
    return state.state in (CONSENTED, NEEDS_RECONSENT) and state.withdrawal is None


@dataclass(frozen=True)
class Reach:
    """Whether email reminders can reach a participant, and if not, why (researcher view)."""

    channel: str | None
    reason: str | None


def reach_of(has_email: bool, by_email: bool | None, state: ConsentState) -> Reach:
    if not may_remind(state):
        return Reach(None, "consent not in force or contact withdrawn")
    if not has_email:
        return Reach(None, "no email address")
    if by_email is False:
        return Reach(None, "opted out")
    return Reach(EMAIL, None)


def reminder_reach(session: Session, study_id: str, state: ConsentState) -> Reach:
    """How reminders reach this participant now (email, or none and why)."""
    has_email = (
        session.scalar(
            select(func.count())
            .select_from(IdentityValue)
            .where(IdentityValue.study_id == study_id, IdentityValue.kind == "email")
        )
        or 0
    ) > 0
    choice = session.get(ReminderChoice, study_id)
    return reach_of(has_email, None if choice is None else choice.by_email, state)


def schedule_reminders(
    session: Session, today: dt.date, days: rules.ReminderDays, now: dt.datetime
) -> int:
    """Queue the invitation or reminder due ``today`` for every participant it may reach;
    running it again for the same day queues nothing new (the dedupe keys are unique)."""
    protocol = catalogue(session).protocol
    people = session.execute(
        select(Participant.study_id, Participant.enrolled_at).where(Participant.erased_at.is_(None))
    ).all()
    if not people:
        return 0
    with_email = set(
        session.scalars(select(IdentityValue.study_id).where(IdentityValue.kind == "email"))
    )
    opted_out = set(
        session.scalars(select(ReminderChoice.study_id).where(ReminderChoice.by_email.is_(False)))
    )
    submitted: dict[tuple[str, str], int] = {
        (sid, tp): n
        for sid, tp, n in session.execute(
            select(Response.study_id, Response.timepoint, func.count())
            .where(Response.status == "submitted")
            .group_by(Response.study_id, Response.timepoint)
        )
    }
    candidates = [
        (sid, enrolled) for sid, enrolled in people if sid in with_email and sid not in opted_out
    ]
    states = states_of(session, [sid for sid, _ in candidates])
    rows = []
    for study_id, enrolled_at in candidates:
        if not may_remind(states[study_id]):
            continue
        for point in protocol.timepoints:
            if submitted.get((study_id, point.id), 0) >= len(point.instruments):
                continue
            opens, closes = window(point, enrolled_at.date())
            kind = rules.reminder_due(opens, closes, today, days, invite=opens > enrolled_at.date())
            if kind is not None:
                key = rules.dedupe_key(kind, study_id, point.id)
                rows.append(_row(kind, now, study_id=study_id, timepoint=point.id, dedupe_key=key))
    return _insert_new(session, rows)


# --- the worker's side -----------------------------------------------------------------------


def claim(
    session: Session,
    now: dt.datetime,
    batch: int,
    lease: dt.timedelta,
    max_attempts: int | None = None,
) -> list[uuid.UUID]:
    """Take up to ``batch`` due messages for this worker, for ``lease``. Commits.

    A message whose lease ran out with its tries used up is marked failed instead: a message
    that makes every worker die while sending it must not stop the queue for ever.
    """
    if max_attempts is not None:
        session.execute(
            update(Notification)
            .where(
                Notification.status == rules.SENDING,
                Notification.lease_until < now,
                Notification.attempts >= max_attempts,
            )
            .values(
                status=rules.FAILED,
                lease_until=None,
                last_error="no outcome recorded: a worker stopped while sending it, every try",
            )
        )
    due = (
        select(Notification.id)
        .where(
            or_(
                and_(Notification.status == rules.PENDING, Notification.due_at <= now),
                and_(Notification.status == rules.SENDING, Notification.lease_until < now),
            )
        )
        .order_by(Notification.due_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Other workers skip the rows this one holds, rather than wait for them.
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(
                status=rules.SENDING,
                lease_until=now + lease,
                attempts=Notification.attempts + 1,
            )
        )
    session.commit()
    return ids


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, rendered: where it goes and what it says (never stored)."""

    id: uuid.UUID
    to: str
    rendered: rules.Rendered


@dataclass(frozen=True)
class Settings:
    """What the worker needs to render messages, from the app's settings."""

    public_url: str
    safety_email: str
    escalation_email: str
    escalate_after: dt.timedelta
    wording: dict[str, tuple[str, str]]


def prepare(
    session: Session, keys: KeyringSource, settings: Settings, message_id: uuid.UUID
) -> Outgoing | None:
    """Render a claimed message, or cancel it (None) when it should no longer go: an alert
    acknowledged, a participant who withdrew, opted out or finished. Commits."""
    row = session.get(Notification, message_id)
    if row is None or row.status != rules.SENDING:
        session.rollback()
        return None
    if row.kind in (rules.SAFETY_ALERT, rules.SAFETY_ESCALATION):
        outgoing = _safety_message(session, settings, row)
    elif row.interview_id is not None:
        outgoing = _interview_message(session, keys, settings, row)
    else:
        outgoing = _participant_message(session, keys, settings, row)
    session.commit()
    return outgoing


def _cancel(row: Notification, reason: str) -> None:
    row.status, row.lease_until, row.last_error = rules.CANCELLED, None, f"cancelled: {reason}"


def _safety_message(session: Session, settings: Settings, row: Notification) -> Outgoing | None:
    alert = session.get(Alert, row.alert_id)
    if alert is None or alert.status != "open":
        _cancel(row, "the alert was acknowledged")
        return None
    values = {
        "raised_at": alert.raised_at.strftime("%Y-%m-%d %H:%M UTC"),
        # The staff console's list of open alerts: a researcher signs in to see anything.
        "link": f"{settings.public_url}/staff/alerts",
        "after": rules.describe_duration(settings.escalate_after),
    }
    if row.kind == rules.SAFETY_ALERT:
        values.pop("after")
        to = settings.safety_email
    else:
        to = settings.escalation_email
    return Outgoing(row.id, to, rules.render(settings.wording, row.kind, **values))


def _participant_message(
    session: Session, keys: KeyringSource, settings: Settings, row: Notification
) -> Outgoing | None:
    study_id = str(row.study_id)
    person = session.scalars(select(Participant).where(Participant.study_id == study_id)).one()
    state = states_of(session, [study_id])[study_id]
    reach = reminder_reach(session, study_id, state)
    if person.erased_at is not None or reach.channel is None:
        _cancel(row, reach.reason or "erased")
        return None
    point = next(t for t in catalogue(session).protocol.timepoints if t.id == row.timepoint)
    done = session.scalar(
        select(func.count())
        .select_from(Response)
        .where(
            Response.study_id == study_id,
            Response.timepoint == point.id,
            Response.status == "submitted",
        )
    )
    _opens, closes = window(point, person.enrolled_at.date())
    if (done or 0) >= len(point.instruments) or utcnow().date() > closes:
        _cancel(row, "nothing left to do in this window")
        return None
    emails = [value for kind, value in Vault(session, keys).identities(study_id) if kind == "email"]
    token = _mint_link_token(session, row)
    link = f"{settings.public_url}/p/start#token={token}"
    rendered = rules.render(settings.wording, row.kind, link=link, closes=closes.isoformat())
    return Outgoing(row.id, str(emails[-1]), rendered)


def _interview_message(
    session: Session, keys: KeyringSource, settings: Settings, row: Notification
) -> Outgoing | None:
    """An interview's message, unless the interview moved on, consent to contact ended or
    there is no address: then the message is cancelled."""
    study_id = str(row.study_id)
    interview = session.get(Interview, row.interview_id)
    state = states_of(session, [study_id])[study_id]
    emails = [value for kind, value in Vault(session, keys).identities(study_id) if kind == "email"]
    booked = str(interview.slot_id) if interview is not None and interview.slot_id else "-"
    if interview is None or not state.allows_contact or not emails:
        _cancel(row, "no consent to contact, or no email address")
        return None
    if row.kind == rules.INTERVIEW_INVITATION:
        if interview.status != "invited":
            _cancel(row, f"the invitation was {interview.status}")
            return None
        values = {}
    else:
        slot = session.get(InterviewSlot, interview.slot_id) if interview.slot_id else None
        if interview.status != SCHEDULED or slot is None or row.dedupe_key.split(":")[2] != booked:
            _cancel(row, "the interview is no longer booked for this time")
            return None
        values = {"when": describe_slot(slot.starts_at, slot.minutes, slot.mode)}
    link = f"{settings.public_url}/p/start#token={_mint_link_token(session, row)}"
    return Outgoing(
        row.id, str(emails[-1]), rules.render(settings.wording, row.kind, link=link, **values)
    )


def _mint_link_token(session: Session, row: Notification) -> str:
    """A sign-in token for this one message, stored hashed, expiring; the letter's token is
    left as it is. A retry revokes the token an earlier try minted."""
    now = utcnow()
    if row.token_id is not None:
        earlier = session.get(ParticipantToken, row.token_id)
        if earlier is not None and earlier.revoked_at is None:
            earlier.revoked_at = now
    token = generate_token(TokenKind.PARTICIPANT)
    minted = ParticipantToken(
        id=uuid.uuid4(),
        study_id=row.study_id,
        token_sha256=hash_token(token),
        hint=token_hint(token),
        created_at=now,
        revoked_at=None,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(minted)
    row.token_id = minted.id
    return token


def record_sent(session: Session, message_id: uuid.UUID) -> None:
    """The message was handed over. Commits."""
    session.execute(
        update(Notification)
        .where(Notification.id == message_id)
        .values(status=rules.SENT, sent_at=utcnow(), lease_until=None, last_error=None)
    )
    session.commit()


def record_failure(
    session: Session,
    message_id: uuid.UUID,
    reason: str,
    *,
    permanent: bool,
    max_attempts: int,
    retry_seconds: float,
    rng: random.Random,
) -> str:
    """A try that failed: retried later with backoff, or ``failed`` once the tries are used
    up (or at once when retrying cannot help). Commits; the status it left."""
    row = session.get(Notification, message_id)
    if row is None:
        session.rollback()
        return rules.FAILED
    row.last_error, row.lease_until = reason[:200], None
    if permanent or row.attempts >= max_attempts:
        row.status = rules.FAILED
    else:
        delay = rules.retry_delay(row.attempts, retry_seconds, RETRY_CAP_SECONDS, rng)
        row.status, row.due_at = rules.PENDING, utcnow() + dt.timedelta(seconds=delay)
    if row.token_id is not None:  # the link in an unsent message must not stay valid
        minted = session.get(ParticipantToken, row.token_id)
        if minted is not None and minted.revoked_at is None:
            minted.revoked_at = utcnow()
    status = row.status
    session.commit()
    return status


# --- reading and admin -----------------------------------------------------------------------


def backlog(session: Session, now: dt.datetime) -> dict[str, int]:
    """Messages waiting to go (due now or held by a worker), failed ones, and the age in
    seconds of the oldest due message (0 when none waits)."""
    waiting = or_(
        and_(Notification.status == rules.PENDING, Notification.due_at <= now),
        Notification.status == rules.SENDING,
    )
    count, oldest = session.execute(
        select(func.count(), func.min(Notification.due_at)).where(waiting)
    ).one()
    failed = session.scalar(
        select(func.count()).select_from(Notification).where(Notification.status == rules.FAILED)
    )
    age = 0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        age = max(0, int((now - oldest).total_seconds()))
    return {"due": int(count), "failed": int(failed or 0), "oldest_due_seconds": age}


def list_messages(
    session: Session, *, status: str | None = None, study_id: str | None = None, limit: int = 200
) -> list[Notification]:
    """Outbox rows, newest first (no address, no body: there is none to show)."""
    query = select(Notification).order_by(Notification.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Notification.status == status)
    if study_id is not None:
        query = query.where(Notification.study_id == study_id)
    return list(session.scalars(query))


def retry(session: Session, message_id: uuid.UUID) -> Notification:
    """Put a failed or cancelled message back in the queue, due now, with its tries reset.
    The caller commits (with its access-log event)."""
    row = session.get(Notification, message_id)
    if row is None:
        raise NotFoundError(f"There is no message {message_id}.")
    if row.status not in (rules.FAILED, rules.CANCELLED):
        raise ConflictError(
            f"Message {message_id} is {row.status}: only a failed or cancelled one is retried."
        )
    row.status, row.attempts, row.due_at, row.last_error = rules.PENDING, 0, utcnow(), None
    return row


def choose_reminders(session: Session, study_id: str, by_email: bool) -> None:
    """Record a participant's choice of reminders. Commits."""
    choice = session.get(ReminderChoice, study_id)
    if choice is None:
        session.add(ReminderChoice(study_id=study_id, by_email=by_email, chosen_at=utcnow()))
    else:
        choice.by_email, choice.chosen_at = by_email, utcnow()
    session.commit()


def reminder_choice(session: Session, study_id: str) -> bool:
    """Whether the participant wants reminders by email (yes unless they said no)."""
    choice = session.get(ReminderChoice, study_id)
    return choice is None or choice.by_email
