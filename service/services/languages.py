"""The language a participant chose for the pages: stored once they are signed in, so it
follows them to another device and to the next sitting."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.db import utcnow
from service.models import LanguageChoice


def choose_language(session: Session, study_id: str, language: str) -> None:
    """Record a participant's choice of language. Commits."""
    choice = session.get(LanguageChoice, study_id)
    if choice is None:
        session.add(LanguageChoice(study_id=study_id, language=language, chosen_at=utcnow()))
    elif choice.language != language:
        choice.language, choice.chosen_at = language, utcnow()
    session.commit()


def language_choice(session: Session, study_id: str) -> str | None:
    """The language the participant chose, if they ever chose one."""
    choice = session.get(LanguageChoice, study_id)
    return None if choice is None else choice.language
