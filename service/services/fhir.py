"""What the FHIR face reads: published instrument versions and consent-log events.

Read-only: the only writes are the access-log events of staff reads, as on the JSON API.
The mapping to resources is pure (``service.domain.fhir``, ``service.domain.fhir_data``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.consent import consent_state
from service.domain.errors import NotFoundError
from service.domain.fhir import FhirBase
from service.domain.fhir_data import ConsentEvent
from service.domain.instruments import Instrument, version_key
from service.domain.ledger import Entry
from service.models import ConsentLogEntry, InstrumentVersion
from service.services import ledger
from service.services.audit import Trail
from service.services.catalogue import catalogue


@dataclass(frozen=True)
class Published:
    instrument: Instrument
    published_at: str


def published_versions(
    session: Session, instrument_id: str | None = None, version: str | None = None
) -> list[Published]:
    """Published versions (instruments and consent forms), by id then version, oldest first."""
    query = select(
        InstrumentVersion.instrument_id, InstrumentVersion.version, InstrumentVersion.published_at
    )
    if instrument_id is not None:
        query = query.where(InstrumentVersion.instrument_id == instrument_id)
    if version is not None:
        query = query.where(InstrumentVersion.version == version)
    rows = sorted(session.execute(query), key=lambda r: (r[0], version_key(r[1])))
    parsed = catalogue(session)
    return [Published(parsed.instrument(i, v), _iso(at)) for i, v, at in rows]


def search_versions(
    session: Session, at: FhirBase, url: str | None, version: str | None
) -> list[Published]:
    """The versions a Questionnaire search names: by canonical URL (a '|version' suffix
    honoured) and version; a URL not of this server names none."""
    instrument_id = None
    if url is not None:
        url, _, pinned = url.partition("|")
        prefix = at.questionnaire_url("")
        instrument_id = url.removeprefix(prefix) if url.startswith(prefix) else ""
        if not instrument_id or "/" in instrument_id:
            return []
        if pinned:
            if version not in (None, pinned):
                return []
            version = pinned
    return published_versions(session, instrument_id, version)


def newest_version(session: Session, instrument_id: str) -> Published:
    """The newest published version of an instrument, or NotFoundError."""
    found = published_versions(session, instrument_id)
    if not found:
        raise NotFoundError(f"There is no Questionnaire {instrument_id}.")
    return found[-1]


def one_version(session: Session, instrument_id: str, version: str) -> Published:
    """One published version, or NotFoundError."""
    found = published_versions(session, instrument_id, version)
    if not found:
        raise NotFoundError(f"There is no Questionnaire {instrument_id} version {version}.")
    return found[0]


def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def consent_events(
    session: Session, trail: Trail, *, after_seq: int, limit: int
) -> list[ConsentEvent]:
    """A page of consent-log events in seq order, each with what was in force. Logged;
    commits."""
    entries = ledger.read_entries(session, "consent", limit, after_seq=after_seq)
    events = _with_context(session, entries)
    trail.record(
        session,
        "fhir.consent.search",
        # As text: a seq past 2**53 is not an exact JSON number in the log's canonical form.
        filters={"after_seq": str(after_seq), "limit": limit},
        rows=len(events),
    )
    session.commit()
    return events


def consent_event(session: Session, trail: Trail, seq: int) -> ConsentEvent:
    """One consent-log event by seq, or NotFoundError. Logged; commits."""
    entries = ledger.read_entries(session, "consent", 1, after_seq=seq - 1)
    if not entries or entries[0].seq != seq:
        raise NotFoundError(f"There is no Consent consent-log-{seq}.")
    (event,) = _with_context(session, entries)
    trail.record(session, "fhir.consent.read", filters={"seq": str(seq)}, rows=1)
    session.commit()
    return event


def _with_context(session: Session, entries: Sequence[Entry]) -> list[ConsentEvent]:
    """Each event with the form and clauses in force after it, and whether a later event of
    the same participant has replaced it (read from their whole history in the log)."""
    parsed = catalogue(session)
    forms = {f.version: f for f in parsed.consent_forms}
    current = parsed.consent_form
    contact = frozenset(i.id for i in current.items if i.contact)
    study_ids = {str(e.event["study_id"]) for e in entries}
    history: dict[str, list[tuple[int, dict[str, Any]]]] = {sid: [] for sid in study_ids}
    rows = session.execute(
        select(ConsentLogEntry.seq, ConsentLogEntry.study_id, ConsentLogEntry.event)
        .where(ConsentLogEntry.study_id.in_(study_ids))
        .order_by(ConsentLogEntry.seq)
    )
    for seq, study_id, event in rows:
        history[str(study_id)].append((seq, json.loads(event)))
    out = []
    for entry in entries:
        own = history[str(entry.event["study_id"])]
        upto = [event for seq, event in own if seq <= entry.seq]
        state = consent_state(upto, current.version, contact)
        form = forms.get(state.form_version or "")
        out.append(
            ConsentEvent(
                seq=entry.seq,
                hash=entry.hash,
                recorded_at=str(entry.event["recorded_at"]),
                study_id=str(entry.event["study_id"]),
                type=str(entry.event["type"]),
                form=form,
                clauses=dict(state.clauses),
                scope=entry.event.get("scope"),
                in_force=own[-1][0] == entry.seq,
            )
        )
    return out
