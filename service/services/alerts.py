"""Safety alerts: raising them from answers, and for researchers listing and acknowledging
them (both access-logged)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, NotFoundError
from service.domain.scoring import AlertResult
from service.models import Alert, Response
from service.services import notifications
from service.services.audit import record_access
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal
from service.services.vault import Vault

# What ``rule_id`` holds for alerts raised since revision 0008: the rules are in ``reasons``.
SEALED_RULE = "sealed"


@dataclass(frozen=True)
class AlertView:
    """An alert as researchers see it, its reasons decrypted."""

    id: uuid.UUID
    study_id: str
    response_id: uuid.UUID
    timepoint: str | None
    reasons: list[str]
    severity: str
    raised_at: dt.datetime
    status: str
    acknowledged_at: dt.datetime | None
    acknowledged_by: uuid.UUID | None = None
    note: str | None = None  # what was done, decrypted for the researcher reading it

    @property
    def rule_id(self) -> str:
        return self.reasons[0] if self.reasons else SEALED_RULE


def raise_alerts(
    session: Session, vault: Vault, response: Response, raised: Sequence[AlertResult]
) -> list[Alert]:
    """Record what a saved or submitted response's answers raise. The one place alerts are
    created (and changed by new reasons): whatever else an alert sets off hooks in here.

    Per participant, timepoint and severity: a reason any alert there already holds (open or
    acknowledged) is not raised again, so a draft save then its submit give one alert; a new
    reason joins the open alert, so PHQ-9 item 9 and EPDS item 10 at one timepoint are one
    alert with both reasons; with no open alert it starts a new one. The reasons are
    encrypted under the participant's data key: the row's plaintext does not say which
    answer fired. Returns the alerts created or changed (flushed, not committed).
    """
    touched: list[Alert] = []
    created: list[Alert] = []
    if not raised:
        return touched
    _serialise(session, response.study_id)
    now = utcnow()
    for severity in sorted({a.severity for a in raised}):
        wanted = [a.id for a in raised if a.severity == severity]
        existing = list(
            session.scalars(
                select(Alert)
                .join(Response, Response.id == Alert.response_id)
                .where(
                    Alert.study_id == response.study_id,
                    Alert.severity == severity,
                    Response.timepoint == response.timepoint,
                )
                .order_by(Alert.raised_at)
            )
        )
        held = {a.id: reasons_of(vault, a) for a in existing}
        known = {r for reasons in held.values() for r in reasons}
        new = [r for r in wanted if r not in known]
        if not new:
            continue
        alert = next((a for a in existing if a.status == "open"), None)
        if alert is None:
            alert = Alert(
                id=uuid.uuid4(),
                study_id=response.study_id,
                response_id=response.id,
                rule_id=SEALED_RULE,
                severity=severity,
                raised_at=now,
                status="open",
            )
            session.add(alert)
            created.append(alert)
        reasons = [*held.get(alert.id, []), *new]
        alert.reasons = vault.encrypt(reasons, "alerts", "reasons", alert.id, alert.study_id)
        touched.append(alert)
    session.flush()
    # In this same transaction: an urgent alert is never stored without its message to the
    # safety team (a new reason joining an open alert sends nothing new).
    notifications.queue_safety_alerts(
        session,
        [
            {"id": a.id, "study_id": a.study_id, "severity": a.severity, "raised_at": a.raised_at}
            for a in created
        ],
    )
    return touched


# Two 32-bit keys (a key space apart from the ledgers' 64-bit ones): this use, the study ID.
_ALERT_LOCK = text("SELECT pg_advisory_xact_lock(1347240257, hashtext(:study_id))")


def _serialise(session: Session, study_id: str) -> None:
    """One writer at a time reads and changes a participant's alerts (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), so two submits at once (PHQ-9 and EPDS)
    still give one alert per timepoint and severity. Taken after the participant's share
    lock, and nothing waits on the participant's row while holding it, so no deadlock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ALERT_LOCK, {"study_id": study_id})


def reasons_of(vault: Vault, alert: Alert) -> list[str]:
    """The rules an alert holds: decrypted, or the plaintext of a row from before 0008."""
    if alert.reasons is None:
        return [] if alert.rule_id == SEALED_RULE else [alert.rule_id]
    found = vault.decrypt(alert.reasons, "alerts", "reasons", alert.id, alert.study_id)
    return [str(r) for r in found]


def view_of(vault: Vault, alert: Alert, timepoint: str | None = None) -> AlertView:
    return AlertView(
        id=alert.id,
        study_id=alert.study_id,
        response_id=alert.response_id,
        timepoint=timepoint,
        reasons=reasons_of(vault, alert),
        severity=alert.severity,
        raised_at=alert.raised_at,
        status=alert.status,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        note=(
            None
            if alert.note is None
            else vault.decrypt(alert.note, "alerts", "note", alert.id, alert.study_id)
        ),
    )


_WITH_TIMEPOINT = select(Alert, Response.timepoint).join(Response, Response.id == Alert.response_id)


def alert_views(session: Session, keys: KeyringSource, query: Any) -> list[AlertView]:
    """Alerts with their reasons decrypted and their timepoint (``query`` selects
    ``Alert, Response.timepoint``, as ``participant_alerts`` and ``list_alerts`` build it)."""
    vault = Vault(session, keys)
    return [view_of(vault, alert, timepoint) for alert, timepoint in session.execute(query)]


def participant_alerts(session: Session, keys: KeyringSource, study_id: str) -> list[AlertView]:
    """One participant's alerts, oldest first."""
    query = _WITH_TIMEPOINT.where(Alert.study_id == study_id).order_by(Alert.raised_at)
    return alert_views(session, keys, query)


def list_alerts(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    status: str | None,
    study_id: str | None = None,
) -> list[AlertView]:
    """Alerts, newest first, optionally by status and participant. Commits the access entry."""
    writer.lock("access")
    query = _WITH_TIMEPOINT.order_by(Alert.raised_at.desc())
    if status is not None:
        query = query.where(Alert.status == status)
    if study_id is not None:
        query = query.where(Alert.study_id == study_id)
    found = alert_views(session, keys, query)
    # The logs are append-only and outlive an erasure: "N alerts for this study ID" would
    # be a health fact about that person kept for good, so a read for one participant is
    # logged without its count.
    record_access(
        writer,
        principal,
        "alerts.read",
        study_id=study_id,
        filters={"status": status},
        rows=len(found) if study_id is None else None,
    )
    session.commit()
    return found


def acknowledge(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    alert_id: uuid.UUID,
    note: str,
) -> AlertView:
    """Record that a researcher has acted on an alert; the note is encrypted. Commits."""
    writer.lock("access")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"There is no alert {alert_id}.")
    if alert.status == "acknowledged":
        raise ConflictError("This alert has already been acknowledged.")
    alert.status = "acknowledged"
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = principal.token_id
    vault = Vault(session, keys)
    alert.note = vault.encrypt(note, "alerts", "note", alert.id, alert.study_id)
    view = view_of(vault, alert)
    # Named by the alert's id alone, never its rule or the study ID: once the participant is
    # erased the alert row is gone, and this entry says nothing about who had an alert.
    record_access(writer, principal, "alert.ack", filters={"alert": str(alert_id)}, rows=1)
    session.commit()
    return view
