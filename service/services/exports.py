"""Analyst exports: consent-aware, decrypted row by row, streamed, with a manifest."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.consent import ERASED
from service.domain.errors import InvalidInputError, NotFoundError
from service.domain.export import (
    Column,
    csv_line,
    header,
    merged_columns,
    ndjson_line,
    row_values,
)
from service.domain.instruments import Instrument, version_key
from service.models import ExportManifest, InstrumentVersion, Participant, Response
from service.services.audit import record_access
from service.services.consent import consent_form, states_of
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.responses import instrument
from service.services.tokens import Principal
from service.services.vault import Vault

BATCH = 500
FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8"}


@dataclass(frozen=True)
class ExportRequest:
    instrument: str
    versions: Sequence[str] = ()
    timepoint: str | None = None
    submitted_since: dt.datetime | None = None
    submitted_until: dt.datetime | None = None
    consent_clause: str | None = None
    format: str = "csv"
    labels: bool = False
    include_free_text: bool = False
    pseudonyms: str = "study-id"  # or "per-export"

    def as_filters(self) -> dict[str, Any]:
        filters = {
            "instrument": self.instrument,
            "version": list(self.versions) or None,
            "timepoint": self.timepoint,
            "submitted_since": _iso(self.submitted_since),
            "submitted_until": _iso(self.submitted_until),
            "consent_clause": self.consent_clause,
            "format": self.format,
            "labels": self.labels,
            "include_free_text": self.include_free_text,
            "pseudonyms": self.pseudonyms,
        }
        return {k: v for k, v in filters.items() if v is not None}


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def versions_for(session: Session, request: ExportRequest) -> list[Instrument]:
    """The instrument versions an export covers, oldest first."""
    rows = list(
        session.scalars(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == request.instrument)
        )
    )
    if not rows:
        raise NotFoundError(f"There is no instrument {request.instrument}.")
    if rows[0].kind != "questionnaire":
        raise InvalidInputError({"instrument": ["only questionnaires are exported"]})
    known = {r.version for r in rows}
    unknown = [v for v in request.versions if v not in known]
    if unknown:
        raise InvalidInputError(
            {"version": [f"no version {v} of {request.instrument}" for v in unknown]}
        )
    chosen = sorted(set(request.versions) or known, key=version_key)
    return [instrument(session, request.instrument, v) for v in chosen]


@dataclass
class Export:
    """An export under way: its manifest id, columns, and what has been sent so far."""

    id: uuid.UUID
    request: ExportRequest
    versions: list[Instrument]
    columns: list[Column]
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0

    @property
    def media_type(self) -> str:
        return FORMATS[self.request.format]


def begin_export(
    session: Session, writer: LedgerWriter, principal: Principal, request: ExportRequest
) -> Export:
    """Check the request, record the manifest as started and log the access. Commits."""
    clause = request.consent_clause
    if clause is not None and clause not in consent_form(session).by_id:
        raise InvalidInputError({"consent_clause": ["not a clause of the consent form"]})
    versions = versions_for(session, request)
    writer.lock("access")
    manifest = ExportManifest(
        id=uuid.uuid4(),
        actor=principal.actor(),
        created_at=utcnow(),
        completed_at=None,
        status="streaming",
        filters=request.as_filters(),
        versions=[{"version": v.version, "sha256": v.sha256} for v in versions],
        format=request.format,
        row_count=None,
        sha256=None,
    )
    session.add(manifest)
    record_access(
        writer,
        principal,
        "export.responses.start",
        filters={"export": str(manifest.id), **request.as_filters()},
    )
    session.commit()
    columns = merged_columns(versions, include_free_text=request.include_free_text)
    return Export(manifest.id, request, versions, columns)


def export_chunks(session: Session, keys: KeyringSource, export: Export) -> Iterator[bytes]:
    """The export's bytes, a batch of rows at a time, hashed as they go."""
    request = export.request
    names = header(export.columns)
    first = csv_line(names) if request.format == "csv" else ""
    yield _count(export, first.encode("utf-8"))
    vault = Vault(session, keys)
    rows = session.scalars(_responses_query(export).execution_options(yield_per=BATCH))
    for batch in rows.partitions(BATCH):
        study_ids = {response.study_id for response in batch}
        vault.preload(study_ids)
        allowed = _consenting(session, study_ids, request.consent_clause)
        lines = []
        for response in batch:
            if response.study_id not in allowed:
                continue
            lines.append(_line(keys, vault, export, names, response))
            export.rows += 1
        if lines:
            yield _count(export, "".join(lines).encode("utf-8"))


def _consenting(session: Session, study_ids: set[str], clause: str | None) -> set[str]:
    """The participants whose rows may go out: not erased, and agreeing to the clause if any."""
    if clause is None:  # erased participants have no responses left, and the query skips them
        return study_ids
    states = states_of(session, study_ids)
    return {
        sid
        for sid, state in states.items()
        if state.state != ERASED and state.clauses.get(clause) is True
    }


def _line(
    keys: KeyringSource, vault: Vault, export: Export, names: list[str], response: Response
) -> str:
    request, study_id = export.request, response.study_id
    answers = vault.decrypt(response.answers, "responses", "answers", response.id, study_id)
    scores = (
        vault.decrypt(response.scores, "responses", "scores", response.id, study_id)
        if response.scores is not None
        else []
    )
    fixed = [
        _pseudonym(keys, export.id, study_id) if request.pseudonyms == "per-export" else study_id,
        response.timepoint,
        response.instrument_id,
        response.version,
        response.instrument_hash,
        str(response.id),
        _iso(response.submitted_at),
    ]
    values = fixed + row_values(export.columns, answers, scores, labels=request.labels)
    return csv_line(values) if request.format == "csv" else ndjson_line(names, values)


def count_rows(session: Session, export: Export) -> int:
    """How many responses the export's filters select (before the consent checks)."""
    query = _responses_query(export).order_by(None)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _count(export: Export, chunk: bytes) -> bytes:
    export.digest.update(chunk)
    return chunk


def _responses_query(export: Export) -> Any:
    request = export.request
    query = (
        select(Response)
        .join(Participant, Participant.study_id == Response.study_id)
        .where(
            Response.instrument_id == request.instrument,
            Response.status == "submitted",
            Response.version.in_([v.version for v in export.versions]),
            Participant.erased_at.is_(None),
        )
        .order_by(Response.submitted_at, Response.id)
    )
    if request.timepoint is not None:
        query = query.where(Response.timepoint == request.timepoint)
    if request.submitted_since is not None:
        query = query.where(Response.submitted_at >= request.submitted_since)
    if request.submitted_until is not None:
        query = query.where(Response.submitted_at < request.submitted_until)
    return query


def _pseudonym(keys: KeyringSource, export_id: uuid.UUID, study_id: str) -> str:
    """A pseudonym for this export only: an HMAC of the study ID under this export's id."""
    mac = keys.current().mac("export-pseudonym", f"{export_id}\n{study_id}".encode())
    return "PX-" + base64.b32encode(mac[:10]).decode("ascii").rstrip("=")


def finish_export(
    session: Session, writer: LedgerWriter, principal: Principal, export: Export, completed: bool
) -> ExportManifest:
    """Record how the export ended (complete, or aborted mid-stream) and log it. Commits."""
    writer.lock("access")
    manifest = session.get(ExportManifest, export.id)
    assert manifest is not None
    manifest.status = "complete" if completed else "aborted"
    manifest.completed_at = utcnow()
    manifest.row_count = export.rows
    manifest.sha256 = export.digest.hexdigest() if completed else None
    record_access(
        writer,
        principal,
        "export.responses",
        filters={"export": str(export.id), "status": manifest.status},
        rows=export.rows,
    )
    session.commit()
    return manifest


def list_manifests(session: Session, limit: int = 100) -> list[ExportManifest]:
    return list(
        session.scalars(
            select(ExportManifest).order_by(ExportManifest.created_at.desc()).limit(limit)
        )
    )


def get_manifest(session: Session, export_id: uuid.UUID) -> ExportManifest:
    manifest = session.get(ExportManifest, export_id)
    if manifest is None:
        raise NotFoundError(f"There is no export {export_id}.")
    return manifest
