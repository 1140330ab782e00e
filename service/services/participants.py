"""Enrolment: a new participant with a random study ID, a data key and optional contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import ContactNotPermittedError
from service.domain.pseudonyms import new_study_id
from service.models import Participant
from service.services.audit import record_access
from service.services.context import participant_context
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal, issue_participant_token
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
    session: Session,
    keys: KeyringSource,
    contact: Mapping[str, str] | None = None,
    site: str | None = None,
) -> Participant:
    """Add one participant with a data key; contact details go only to the identity vault.

    The caller commits (with the token and the access-log entry, in one transaction).
    """
    participant = Participant(study_id=unused_study_id(session), enrolled_at=utcnow(), site=site)
    session.add(participant)
    session.flush()
    vault = Vault(session, keys)
    vault.create_data_key(participant.study_id)
    for kind, value in (contact or {}).items():
        vault.store_identity(participant.study_id, kind, value)
    session.flush()
    return participant


@dataclass(frozen=True)
class Enrolment:
    study_id: str
    token: str
    enrolled_at: dt.datetime


def enrol_by_researcher(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    contact: Mapping[str, str] | None = None,
    site: str | None = None,
) -> Enrolment:
    """Enrol a participant and issue their token (shown once); logged as access. Commits."""
    writer.lock("access")
    participant = enrol_participant(session, keys, contact, site)
    token = issue_participant_token(session, participant.study_id)
    record_access(
        writer,
        principal,
        "participant.enrol",
        study_id=participant.study_id,
        # Which kinds of contact were given, never the site: this log outlives an erasure,
        # and a site beside a study ID would survive it (docs/erasure.md).
        filters={"contact": sorted(contact or {})},
        rows=1,
    )
    session.commit()
    return Enrolment(participant.study_id, token, participant.enrolled_at)


def self_enrol(
    session: Session,
    keys: KeyringSource,
    contact: Mapping[str, str] | None = None,
    site: str | None = None,
) -> Enrolment:
    """Enrol someone who found the study themselves (the caller checked the code). Commits."""
    participant = enrol_participant(session, keys, contact, site)
    token = issue_participant_token(session, participant.study_id)
    session.commit()
    return Enrolment(participant.study_id, token, participant.enrolled_at)


def give_contact_details(
    session: Session, keys: KeyringSource, study_id: str, contact: Mapping[str, str]
) -> list[str]:
    """A participant gives (or updates) how to reach them, into the identity vault only, and
    only under consent in force that includes being contacted about an interview. Returns the
    kinds stored. Commits."""
    context = participant_context(session, study_id, for_writing=True)
    if not context.consent.allows_contact:
        raise ContactNotPermittedError(
            "Your consent does not include being contacted about an interview, so the study "
            "does not keep your contact details."
        )
    vault = Vault(session, keys)
    if context.data_key is not None:
        vault.adopt(study_id, context.data_key.kek_id, context.data_key.wrapped)
    stored = [kind for kind, value in contact.items() if value]
    for kind in stored:
        vault.store_identity(study_id, kind, contact[kind])
    session.commit()
    return stored
