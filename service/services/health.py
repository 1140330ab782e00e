"""What readiness means: the database answers, is migrated, and holds a catalogue."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.domain.crypto import KeyringError
from service.migrate import current_revision, head_revision
from service.models import InstrumentVersion
from service.services.keyring import KeyringSource


def readiness_checks(session: Session, keys: KeyringSource) -> dict[str, str]:
    """Each check's name and ``ok`` or what is wrong (never a connection string or key)."""
    checks: dict[str, str] = {}
    try:
        keys.current()
        checks["keyring"] = "ok"
    except KeyringError:
        checks["keyring"] = "unusable: see 'flask --app wsgi keys status'"
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        session.rollback()
        return {**checks, "database": "unreachable"}
    at = current_revision(session.connection())
    checks["migrations"] = "ok" if at == head_revision() else "not at head: run 'db upgrade'"
    if checks["migrations"] == "ok":
        count = session.scalar(select(func.count()).select_from(InstrumentVersion))
        checks["catalogue"] = "ok" if count else "empty: run 'instruments sync'"
    session.rollback()
    return checks
