"""What researchers see of participants: status and tasks without identifiers, contact
details only when consent allows, new tokens for lost links. Every call is access-logged."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.domain.consent import ERASED
from service.domain.dashboard import TimepointProgress, Week, progress, weekly
from service.domain.errors import ConflictError, ContactNotPermittedError
from service.models import Alert, Notification, Participant
from service.services import notifications
from service.services.alerts import AlertView, participant_alerts
from service.services.audit import record_access
from service.services.consent import history, participant, state_of
from service.services.context import participant_context
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.responses import tasks_for
from service.services.tokens import Principal, issue_participant_token
from service.services.vault import Vault

CONTACT_KINDS = ("name", "email", "phone")


@dataclass(frozen=True)
class ParticipantView:
    study_id: str
    site: str | None
    enrolled_at: dt.datetime
    consent: dict[str, Any]
    task_counts: dict[str, int]
    open_alerts: int
    tasks: list[Any] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    # How reminders reach them: {"channel": "email" or None, "reason": why not, or None}.
    reminders: dict[str, Any] | None = None


def _view(
    session: Session, person: Participant, keys: KeyringSource | None = None
) -> ParticipantView:
    """A participant as researchers see them; with ``keys``, in detail (tasks, alerts with
    their reasons decrypted, consent events)."""
    detail = keys is not None
    context = participant_context(session, person.study_id)
    state = context.consent
    erased = state.state == ERASED
    tasks = [] if erased else tasks_for(session, context)
    open_alerts = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.study_id == person.study_id, Alert.status == "open")
    )
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    events = history(session, person.study_id) if detail else []
    if erased:  # only the study ID and the withdrawal events remain to be shown
        events = [e for e in events if e.type == "withdrawal"]
    return ParticipantView(
        study_id=person.study_id,
        site=None if erased else person.site,
        enrolled_at=person.enrolled_at,
        consent=asdict(state),
        task_counts=counts,
        open_alerts=int(open_alerts or 0),
        tasks=tasks if detail else [],
        alerts=participant_alerts(session, keys, person.study_id) if keys is not None else [],
        events=events,
        reminders=asdict(notifications.reminder_reach(session, person.study_id, state))
        if detail
        else None,
    )


@dataclass(frozen=True)
class Dashboard:
    participants: int
    labels: dict[str, str]  # timepoint id -> the protocol's label
    weeks: list[Week]
    completion: list[TimepointProgress]
    open_alerts: int
    urgent_alerts: int
    open_tasks: int
    missed_tasks: int


def dashboard(
    session: Session, writer: LedgerWriter, principal: Principal, today: dt.date
) -> Dashboard:
    """Recruitment by week, completion by timepoint, open alerts and tasks. Counts only,
    no study ID. Commits the access entry."""
    writer.lock("access")
    people = list(session.scalars(select(Participant).order_by(Participant.study_id)))
    tasks = []
    labels: dict[str, str] = {}
    for person in people:
        context = participant_context(session, person.study_id)
        labels = labels or {t.id: t.label for t in context.catalogue.protocol.timepoints}
        if context.consent.state != ERASED:
            tasks.extend(tasks_for(session, context, today))
    completion = progress(tasks, labels)
    open_alerts = list(session.scalars(select(Alert).where(Alert.status == "open")))
    record_access(writer, principal, "dashboard.read", rows=len(people))
    session.commit()
    return Dashboard(
        participants=len(people),
        labels=labels,
        weeks=weekly([p.enrolled_at.date() for p in people], today),
        completion=completion,
        open_alerts=len(open_alerts),
        urgent_alerts=sum(1 for a in open_alerts if a.severity == "urgent"),
        open_tasks=sum(p.open for p in completion),
        missed_tasks=sum(p.missed for p in completion),
    )


def list_participants(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    *,
    consent_state: str | None = None,
    site: str | None = None,
    task_status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[ParticipantView], str | None]:
    """A page of participants in study-ID order, filtered; the next page starts after the
    returned study ID. Commits the access entry."""
    writer.lock("access")
    query = select(Participant).order_by(Participant.study_id)
    if site is not None:
        query = query.where(Participant.site == site)
    if after is not None:
        query = query.where(Participant.study_id > after)
    found: list[ParticipantView] = []
    last_seen: str | None = None
    for person in session.scalars(query):
        last_seen = person.study_id
        view = _view(session, person)
        if consent_state is not None and view.consent["state"] != consent_state:
            continue
        if task_status is not None and not view.task_counts.get(task_status):
            continue
        found.append(view)
        if len(found) == limit:
            break
    more = len(found) == limit and last_seen is not None
    record_access(
        writer,
        principal,
        "participants.list",
        filters={"consent_state": consent_state, "site": site, "task_status": task_status},
        rows=len(found),
    )
    session.commit()
    return found, (last_seen if more else None)


def participant_detail(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    study_id: str,
) -> ParticipantView:
    """One participant: consent state, tasks, alerts, consent events. Commits the access entry."""
    writer.lock("access")
    view = _view(session, participant(session, study_id), keys)
    record_access(writer, principal, "participant.read", study_id=study_id, rows=1)
    session.commit()
    return view


def participant_messages(
    session: Session, writer: LedgerWriter, principal: Principal, study_id: str
) -> list[Notification]:
    """What was sent, or is to be sent, to or about a participant: kind, timepoint, when,
    outcome; no address and no body (the outbox keeps neither). Commits the access entry."""
    writer.lock("access")
    participant(session, study_id)  # 404 for an unknown study ID
    rows = notifications.list_messages(session, study_id=study_id, limit=1000)
    record_access(writer, principal, "participant.messages.read", study_id=study_id, rows=len(rows))
    session.commit()
    return rows


def contact_details(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    study_id: str,
) -> dict[str, str | None]:
    """Name, email and phone, only while consent in force includes interview contact."""
    writer.lock("access")
    participant(session, study_id)
    if not state_of(session, study_id).allows_contact:
        raise ContactNotPermittedError(
            "This participant's consent in force does not include being contacted about an "
            "interview: their contact details are not shown."
        )
    values = dict(Vault(session, keys).identities(study_id))
    contact: dict[str, str | None] = {kind: values.get(kind) for kind in CONTACT_KINDS}
    record_access(
        writer,
        principal,
        "participant.contact.read",
        study_id=study_id,
        rows=sum(v is not None for v in contact.values()),
    )
    session.commit()
    return {"study_id": study_id, **contact}


def reissue_token(
    session: Session, writer: LedgerWriter, principal: Principal, study_id: str
) -> tuple[str, str]:
    """A new participant token for a lost link; the old one stops working. Commits."""
    writer.lock("access")
    participant(session, study_id)
    if state_of(session, study_id).state == ERASED:
        raise ConflictError("This participant's data has been erased: no new token is issued.")
    token = issue_participant_token(session, study_id)
    record_access(writer, principal, "participant.token.reissue", study_id=study_id, rows=1)
    session.commit()
    return study_id, token
