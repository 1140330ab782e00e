"""What a participant's request needs to know about them, read in one query.

A submit needs the participant's enrolment date, their consent state (folded from their
events in the consent log), their wrapped data key and the catalogue in force. Reading each
on its own costs a round trip and an ORM query apiece; here one statement joins them, and the
catalogue's fingerprint rides along so that the parsed catalogue is reused until a sync
publishes something new. Nothing here is cached across requests except that catalogue, which
never changes under a fingerprint: consent is read from the log every time, so a withdrawal
takes effect at once.

A request that will write for the participant first takes a share lock on their row
(PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers). A withdrawal takes the
row's update lock before it reads anything, so the two cannot interleave: a submit either
commits before the withdrawal reads (and an erasure then reaches its rows), or reads the
consent state after the withdrawal has committed (and is refused).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from service.domain.consent import ConsentState, consent_state
from service.domain.errors import NotFoundError
from service.models import ConsentLogEntry, DataKeyRecord, Participant
from service.services.catalogue import Catalogue, catalogue, fingerprint_columns


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    wrapped: bytes


@dataclass(frozen=True)
class ParticipantContext:
    study_id: str
    enrolled_at: dt.datetime
    consent: ConsentState
    catalogue: Catalogue
    data_key: WrappedKey | None  # None once erased


# Built once: these run on every participant request, as plain Core statements.
_PEOPLE, _KEYS, _LOG = (
    cast(Table, Participant.__table__),
    cast(Table, DataKeyRecord.__table__),
    cast(Table, ConsentLogEntry.__table__),
)
_ROW = select(_PEOPLE.c.id).where(_PEOPLE.c.study_id == bindparam("study_id"))
_SHARE, _UPDATE = _ROW.with_for_update(read=True), _ROW.with_for_update()
_CONTEXT = (
    select(
        _PEOPLE.c.enrolled_at,
        _KEYS.c.kek_id,
        _KEYS.c.wrapped,
        _LOG.c.event,
        *fingerprint_columns(),
    )
    .select_from(
        _PEOPLE.outerjoin(_KEYS, _KEYS.c.study_id == _PEOPLE.c.study_id).outerjoin(
            _LOG, _LOG.c.study_id == _PEOPLE.c.study_id
        )
    )
    .where(_PEOPLE.c.study_id == bindparam("study_id"))
    .order_by(_LOG.c.seq)
)


def lock_for_writing(session: Session, study_id: str) -> None:
    """Share-lock the participant's row until commit, so no withdrawal interleaves."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_SHARE, {"study_id": study_id})


def lock_for_withdrawal(session: Session, study_id: str) -> None:
    """Take the participant's row for update: in-flight writes for them finish first."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_UPDATE, {"study_id": study_id})


def participant_context(
    session: Session, study_id: str, *, for_writing: bool = False
) -> ParticipantContext:
    """The participant, their consent state, data key and the catalogue: one query."""
    if for_writing:
        lock_for_writing(session, study_id)
    rows = session.connection().execute(_CONTEXT, {"study_id": study_id}).all()
    if not rows:
        raise NotFoundError(f"There is no participant {study_id}.")
    first = rows[0]
    found = catalogue(session, tuple(first[4:]))
    form = found.consent_form
    contact = frozenset(i.id for i in form.items if i.contact)
    events = [json.loads(row.event) for row in rows if row.event is not None]
    return ParticipantContext(
        study_id=study_id,
        enrolled_at=first.enrolled_at,
        consent=consent_state(events, form.version, contact, found.reconsent_policies),
        catalogue=found,
        data_key=None if first.kek_id is None else WrappedKey(first.kek_id, first.wrapped),
    )
