"""The instrument catalogue: syncing definition files into the database and reading it back."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import NotFoundError
from service.domain.i18n import negotiate
from service.domain.instruments import Instrument, in_language, parse_instrument, version_key
from service.domain.protocol import Protocol, parse_protocol, protocol_in_force
from service.models import InstrumentVersion, ProtocolVersion
from service.services.audit import Trail
from service.services.definitions import DefinitionSet


@dataclass(frozen=True)
class Changed:
    """A published version whose file no longer matches what was published."""

    name: str
    version: str
    stored_sha256: str
    file_sha256: str

    def __str__(self) -> str:
        return (
            f"{self.name} {self.version} is published with sha256 {self.stored_sha256} "
            f"but its file now hashes to {self.file_sha256}; a change needs a new version"
        )


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[Changed] = field(default_factory=list)


def sync_definitions(
    session: Session, definitions: DefinitionSet, *, trail: Trail | None = None
) -> SyncReport:
    """Publish new versions; refuse everything if any published version's file has changed.

    All or nothing: a catalogue half-synced from a tree with an edited published file would
    leave it unclear which files are in force. With a ``trail`` a sync that publishes
    something is one access-log event in its transaction; one that finds nothing new (every
    start of a container runs it) changes nothing and writes nothing. Commits.
    """
    report = SyncReport()
    now = utcnow()
    stored = {
        (row.instrument_id, row.version): row.sha256
        for row in session.scalars(select(InstrumentVersion))
    }
    for inst in definitions.instruments:
        _publish(
            report,
            inst.id,
            inst.version,
            stored.get((inst.id, inst.version)),
            inst.sha256,
            lambda inst=inst: InstrumentVersion(  # type: ignore[misc]
                instrument_id=inst.id,
                version=inst.version,
                kind=inst.kind,
                title=inst.title,
                sha256=inst.sha256,
                definition=dict(inst.definition),
                published_at=now,
            ),
            session,
        )
    published = {row.version: row.sha256 for row in session.scalars(select(ProtocolVersion))}
    for protocol in definitions.protocols:
        _publish(
            report,
            "protocol",
            protocol.version,
            published.get(protocol.version),
            protocol.sha256,
            lambda protocol=protocol: ProtocolVersion(  # type: ignore[misc]
                version=protocol.version,
                sha256=protocol.sha256,
                definition=dict(protocol.definition),
                published_at=now,
            ),
            session,
        )
    if report.refused:
        session.rollback()
        report.added.clear()
        return report
    if trail is not None and report.added:
        trail.record(
            session, "instruments.sync", filters={"added": report.added}, rows=len(report.added)
        )
    session.commit()
    return report


def _publish(
    report: SyncReport,
    name: str,
    version: str,
    stored_sha256: str | None,
    file_sha256: str,
    make_row: Callable[[], object],
    session: Session,
) -> None:
    """Add a version never published; note one unchanged; refuse one whose file changed."""
    label = f"{name} {version}"
    if stored_sha256 is None:
        session.add(make_row())
        report.added.append(label)
    elif stored_sha256 != file_sha256:
        report.refused.append(Changed(name, version, stored_sha256, file_sha256))
    else:
        report.unchanged.append(label)


def list_versions(session: Session) -> list[InstrumentVersion]:
    """Every published version, grouped by instrument, oldest version first."""
    rows = list(session.scalars(select(InstrumentVersion)))
    return sorted(rows, key=lambda r: (r.instrument_id, version_key(r.version)))


def get_version(session: Session, instrument_id: str, version: str) -> InstrumentVersion:
    """One published version, or NotFoundError."""
    row = session.scalars(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == instrument_id,
            InstrumentVersion.version == version,
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"There is no instrument {instrument_id} version {version}.")
    return row


def current_consent_form(session: Session) -> InstrumentVersion:
    """The consent form in force: the highest published version of kind ``consent``."""
    rows = list(
        session.scalars(select(InstrumentVersion).where(InstrumentVersion.kind == "consent"))
    )
    if not rows:
        raise NotFoundError("No consent form has been published yet.")
    return max(rows, key=lambda r: version_key(r.version))


# --- the catalogue in force, parsed once per process ----------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """Every published version, parsed: what the service checks answers and consent against.

    Published versions never change (sync refuses a changed file) and are never removed, so a
    parsed catalogue stays right until a sync adds a version; ``fingerprint_columns`` tell
    when that has happened, and can ride along with a query the caller makes anyway.
    """

    fingerprint: tuple[Any, ...]
    instruments: Mapping[tuple[str, str], Instrument]
    consent_forms: Sequence[Instrument]  # oldest version first
    protocols: Sequence[Protocol]  # oldest version first
    # Versions with their texts in another language, parsed when first asked for.
    localised: dict[tuple[str, str, str], Instrument] = field(
        default_factory=dict, repr=False, compare=False
    )

    def instrument(
        self, instrument_id: str, version: str, language: str | None = None
    ) -> Instrument:
        """One published version, or NotFoundError; with ``language``, its texts in that
        language when the version has it (otherwise in its first)."""
        found = self.instruments.get((instrument_id, version))
        if found is None:
            raise NotFoundError(f"There is no instrument {instrument_id} version {version}.")
        return found if language is None else self._in(found, language)

    def _in(self, found: Instrument, language: str) -> Instrument:
        # Keyed by the language the version has that is chosen, not the tag asked for: the
        # cache lives as long as the catalogue, and a tag can be anything a client sends.
        chosen = negotiate([language], list(found.languages))
        key = (found.id, found.version, chosen)
        known = self.localised.get(key)
        if known is None:  # two threads may both parse it: the first one kept is the answer
            known = self.localised.setdefault(key, in_language(found, chosen))
        return known

    @property
    def consent_form(self) -> Instrument:
        """The consent form in force: the highest published version of kind ``consent``."""
        if not self.consent_forms:
            raise NotFoundError("No consent form has been published yet.")
        return self.consent_forms[-1]

    def consent_form_in(self, language: str | None) -> Instrument:
        """The consent form in force, its texts in ``language`` when it has it."""
        form = self.consent_form
        return form if language is None else self._in(form, language)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language a published version is in, versions' defaults first: what a
        ``lang`` parameter may ask for."""
        versions = [self.instruments[key] for key in sorted(self.instruments)]
        defaults = [found.languages[0] for found in versions]
        return tuple(dict.fromkeys(defaults + [t for f in versions for t in f.languages]))

    @property
    def reconsent_policies(self) -> dict[str, str | None]:
        """Each consent form version's rule for those who signed an earlier one."""
        return {form.version: form.reconsent for form in self.consent_forms}

    @property
    def protocol(self) -> Protocol:
        """The protocol in force today (UTC)."""
        return self.protocol_on(utcnow().date())

    def protocol_on(self, day: dt.date) -> Protocol:
        """The newest published protocol in force on a day: one whose ``effective_from``
        has come, or that has none (in force from its publication)."""
        found = protocol_in_force(self.protocols, day)
        if found is None:
            raise NotFoundError("No protocol has been published yet: run 'instruments sync'.")
        return found


def fingerprint_columns() -> list[ColumnElement[Any]]:
    """Scalar subqueries that change whenever a version is published (or a database is
    swapped for another): how many versions there are, and when the last one came."""
    columns: list[ColumnElement[Any]] = []
    for table in (InstrumentVersion.__table__, ProtocolVersion.__table__):
        columns.append(select(func.count()).select_from(table).scalar_subquery())
        columns.append(select(func.max(table.c.published_at)).scalar_subquery())
    return columns


_FINGERPRINT = select(*fingerprint_columns())
_LATEST: list[Catalogue] = []  # this process's parsed catalogue, if any
_LATEST_LOCK = threading.Lock()  # a gthread worker's threads share it


def catalogue(session: Session, fingerprint: Sequence[Any] | None = None) -> Catalogue:
    """The catalogue in force. Pass the values of ``fingerprint_columns`` when they came with
    another query; otherwise they are read here (one small query)."""
    if fingerprint is None:
        fingerprint = tuple(session.connection().execute(_FINGERPRINT).one())
    key = (str(session.get_bind().engine.url), *fingerprint)
    with _LATEST_LOCK:
        latest = _LATEST[0] if _LATEST else None
    if latest is not None and latest.fingerprint == key:
        return latest
    loaded = _load_catalogue(session, key)  # outside the lock: it reads the database
    with _LATEST_LOCK:
        _LATEST[:] = [loaded]
    return loaded


def _load_catalogue(session: Session, key: tuple[Any, ...]) -> Catalogue:
    parsed = {
        (row.instrument_id, row.version): parse_instrument(row.definition)
        for row in session.scalars(select(InstrumentVersion))
    }
    forms = sorted(
        (i for i in parsed.values() if i.kind == "consent"), key=lambda i: version_key(i.version)
    )
    questionnaires = {k for k, i in parsed.items() if i.kind == "questionnaire"}
    protocols = sorted(
        (
            parse_protocol(row.definition, questionnaires)
            for row in session.scalars(select(ProtocolVersion))
        ),
        key=lambda p: version_key(p.version),
    )
    return Catalogue(key, parsed, forms, protocols)
