"""Safety alerts for researchers: listing them and acknowledging them, both access-logged."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ConflictError, NotFoundError
from service.models import Alert
from service.services.audit import record_access
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal
from service.services.vault import Vault


def list_alerts(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    status: str | None,
    study_id: str | None = None,
) -> list[Alert]:
    """Alerts, newest first, optionally by status and participant. Commits the access entry."""
    writer.lock("access")
    query = select(Alert).order_by(Alert.raised_at.desc())
    if status is not None:
        query = query.where(Alert.status == status)
    if study_id is not None:
        query = query.where(Alert.study_id == study_id)
    found = list(session.scalars(query))
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
) -> Alert:
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
    alert.note = Vault(session, keys).encrypt(note, "alerts", "note", alert.id, alert.study_id)
    # Named by the alert's id alone, never its rule or the study ID: once the participant is
    # erased the alert row is gone, and this entry says nothing about who had an alert.
    record_access(writer, principal, "alert.ack", filters={"alert": str(alert_id)}, rows=1)
    session.commit()
    return alert


def notes_of(session: Session, keys: KeyringSource, found: list[Alert]) -> dict[uuid.UUID, str]:
    """The acknowledgement notes of these alerts, decrypted for the researcher reading them
    (the list they came from was access-logged)."""
    vault = Vault(session, keys)
    return {
        alert.id: vault.decrypt(alert.note, "alerts", "note", alert.id, alert.study_id)
        for alert in found
        if alert.note is not None
    }
