"""What readiness means: the database answers, is migrated, and holds a catalogue."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.migrate import current_revision, head_revision
from service.models import InstrumentVersion


def readiness_checks(session: Session) -> dict[str, str]:
    """Each check's name and ``ok`` or what is wrong (never a connection string)."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        session.rollback()
        return {"database": "unreachable"}
    at = current_revision(session.connection())
    checks["migrations"] = "ok" if at == head_revision() else "not at head: run 'db upgrade'"
    if checks["migrations"] == "ok":
        count = session.scalar(select(func.count()).select_from(InstrumentVersion))
        checks["catalogue"] = "ok" if count else "empty: run 'instruments sync'"
    session.rollback()
    return checks
