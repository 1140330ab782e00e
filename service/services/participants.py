"""Enrolment: a new participant with a random study ID, a data key and optional contacts."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.pseudonyms import new_study_id
from service.models import Participant
from service.services.keyring import KeyringSource
from service.services.vault import Vault

_ATTEMPTS = 5


def unused_study_id(session: Session) -> str:
    """A fresh study ID that no participant has (collisions are rare: 40 random bits)."""
    for _ in range(_ATTEMPTS):
        candidate = new_study_id()
        taken = session.scalar(select(Participant.id).where(Participant.study_id == candidate))
        if taken is None:
            return candidate
    raise RuntimeError("could not find an unused study ID")


def enrol_participant(
    session: Session, keys: KeyringSource, contact: Mapping[str, str] | None = None
) -> Participant:
    """Enrol one participant; contact details go only to the identity vault. Commits."""
    participant = Participant(study_id=unused_study_id(session), enrolled_at=utcnow())
    session.add(participant)
    session.flush()
    vault = Vault(session, keys)
    vault.create_data_key(participant.study_id)
    for kind, value in (contact or {}).items():
        vault.store_identity(participant.study_id, kind, value)
    session.commit()
    return participant
