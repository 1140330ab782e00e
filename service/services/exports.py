"""Analyst exports: consent-aware, decrypted row by row, streamed, with a manifest.

A row that cannot be decrypted (an altered ciphertext, a missing or unusable data key) is
left out, counted and named by response id in the manifest and the access log; the rest of
the export goes out whole.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, LargeBinary, Row, Text, cast, func, literal, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.db import utcnow
from service.domain.consent import ERASED
from service.domain.crypto import (
    ContextMismatchError,
    CryptoError,
    FormatError,
    Keyring,
    KeyUnavailableError,
    TamperedError,
    decrypt_field_at,
)
from service.domain.errors import InvalidInputError, NotFoundError
from service.domain.export import (
    LAST_COLUMNS,
    Column,
    boolean_positions,
    csv_line,
    csv_lines,
    fixed_columns,
    header,
    labels_by_version,
    merged_columns,
    ndjson_lines,
    row_values,
    text_positions,
)
from service.domain.fhir import FhirBase
from service.domain.fhir_data import fhir_lines
from service.domain.instruments import Instrument, version_key
from service.metrics import count_export
from service.models import (
    DataKeyRecord,
    ExportManifest,
    InstrumentVersion,
    Participant,
    Response,
)
from service.services.audit import Trail, record_access
from service.services.consent import consent_form, states_of
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.responses import instrument
from service.services.tokens import Principal
from service.services.vault import ErasedError, Vault

log = logging.getLogger(__name__)

BATCH = 500
# Data keys kept unwrapped during an export. A participant's rows are spread over the file,
# so a larger cache saves unwrapping their key again; each costs about 2.5 KB (an AES-GCM
# context), so this bounds the cache at about 40 MB however many participants there are.
EXPORT_KEY_CACHE = 16_384
# How many skipped rows a manifest names one by one (all are counted), so that an export
# whose every row fails (a destroyed KEK) still has a manifest and a log event of fair size.
SKIPPED_NAMED = 1_000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson; charset=utf-8",
    # FHIR resources, one a line: each QuestionnaireResponse followed by its scores'
    # Observations (service/api/fhir.py); rows are counted as responses.
    "fhir": "application/fhir+ndjson; charset=utf-8",
}


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
    submitted: str | None = None  # "time", "day" or "none"; default by pseudonyms
    lang: str | None = None  # with labels: the language of the labels (else each version's first)

    @property
    def per_export(self) -> bool:
        return self.pseudonyms == "per-export"

    @property
    def submitted_as(self) -> str:
        """How much of the submission time goes out: the exact time with study IDs, the
        day with per-export pseudonyms (unless the analyst asks for less)."""
        if self.submitted is not None:
            return self.submitted
        return "day" if self.per_export else "time"

    def as_filters(self) -> dict[str, Any]:
        filters = {
            "instrument": self.instrument,
            "version": list(self.versions) or None,
            "timepoint": self.timepoint,
            "submitted_since": iso_utc(self.submitted_since),
            "submitted_until": iso_utc(self.submitted_until),
            "consent_clause": self.consent_clause,
            "format": self.format,
            "labels": self.labels,
            "include_free_text": self.include_free_text,
            "pseudonyms": self.pseudonyms,
            "submitted": self.submitted_as,
            "lang": self.lang,
        }
        return {k: v for k, v in filters.items() if v is not None}


def iso_utc(moment: dt.datetime | None) -> str | None:
    """A time as ISO 8601 in UTC with a ``Z``, to the microsecond (None stays None)."""
    if moment is None:
        return None
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


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
    return [instrument(session, request.instrument, v, request.lang) for v in chosen]


@dataclass(frozen=True)
class ReadPoint:
    """Where an export's rows are read, and the time up to which every committed change is
    in them: on a standby its last replayed commit (None until it has replayed one), on the
    primary the reading transaction's start. The rows query runs after this is taken, so
    the export holds at least everything committed by then."""

    source: str  # "primary" or "replica"
    as_of: dt.datetime | None


_STANDBY_STATE = text(
    "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(), transaction_timestamp()"
)


def read_point(reading: Session) -> ReadPoint:
    """The ``ReadPoint`` of a session about to read an export's rows (``finish_export``
    records it in the manifest)."""
    if reading.get_bind().dialect.name != "postgresql":
        return ReadPoint("primary", utcnow())  # SQLite's snapshot starts at the first read
    standby, replayed, started = reading.execute(_STANDBY_STATE).one()
    if standby:
        return ReadPoint("replica", replayed)
    return ReadPoint("primary", started)


@dataclass
class Export:
    """An export under way: its manifest id, columns, and what has been sent so far."""

    id: uuid.UUID
    request: ExportRequest
    versions: list[Instrument]
    fixed: list[Column]
    columns: list[Column]
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    skipped_count: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    fhir: FhirBase | None = None  # where the FHIR face lives, for a "fhir" export
    labels: dict[str, dict[str, dict[int, str]]] = field(default_factory=dict)
    point: ReadPoint | None = None  # where the rows are read, once reading has begun

    def skip(self, response_id: uuid.UUID, error: CryptoError) -> None:
        """Leave a row out: count it and, up to ``SKIPPED_NAMED``, name it and say why."""
        self.skipped_count += 1
        if len(self.skipped) < SKIPPED_NAMED:
            self.skipped.append({"response_id": str(response_id), "reason": _reason(error)})

    @property
    def media_type(self) -> str:
        return FORMATS[self.request.format]


def begin_export(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    request: ExportRequest,
    *,
    fhir: FhirBase | None = None,
) -> Export:
    """Check the request, record the manifest as started and log the access. Commits.

    ``fhir`` is where the FHIR face lives, which a "fhir" export's resources point at."""
    clause = request.consent_clause
    if clause is not None and clause not in consent_form(session).by_id:
        raise InvalidInputError({"consent_clause": ["not a clause of the consent form"]})
    if request.per_export and request.submitted_as == "time":
        raise InvalidInputError(
            {
                "submitted": [
                    "the exact submission time would let two pseudonymised exports be "
                    "joined: ask for day or none"
                ]
            }
        )
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
    columns += LAST_COLUMNS
    fixed = fixed_columns(request.pseudonyms, request.submitted_as)
    return Export(
        manifest.id,
        request,
        versions,
        fixed,
        columns,
        fhir=fhir,
        labels=labels_by_version(versions),
    )


def export_chunks(
    session: Session,
    keys: KeyringSource,
    export: Export,
    *,
    primary: Callable[[], Session] | None = None,
) -> Iterator[bytes]:
    """The export's bytes, a batch of rows at a time, hashed as they go.

    Rows come as plain tuples from a server-side cursor (no ORM objects), with each row's
    wrapped data key joined in; a batch is decrypted and written out in one piece. A row
    that does not decrypt is skipped and recorded on ``export``.

    ``primary`` opens a session on the primary when ``session`` reads a standby: a standby
    lags, so each batch's consent (withdrawals and erasures) is checked on the primary,
    where a withdrawal made during the lag is already visible.
    """
    request = export.request
    names = header(export.fixed, export.columns)
    first = csv_line(names) if request.format == "csv" else ""
    yield _count(export, first.encode("utf-8"))
    render = _fhir_renderer(export) if request.format == "fhir" else None
    vault = Vault(session, keys, cache_size=EXPORT_KEY_CACHE)
    booleans = boolean_positions(export.fixed, export.columns)
    texts = text_positions(export.fixed, export.columns, labels=request.labels)
    connection = session.connection()
    query = _rows_query(export)
    secret = b""
    if request.per_export:
        secret = keys.current().mac("export-response-id", export.id.bytes)
        query = query.order_by(None).order_by(_pseudonym_order(connection, secret))
    for batch in _batches(connection, query):
        study_ids = {row.study_id for row in batch}
        allowed = (
            _consenting(session, study_ids, request.consent_clause)
            if primary is None
            else _consenting_on_primary(primary, study_ids, request.consent_clause)
        )
        keyring = keys.current()  # once a batch, not once a participant
        records = []
        for row in batch:
            if row.study_id not in allowed:
                continue
            try:
                records.append(_record(keyring, vault, export, row, secret))
            except CryptoError as error:
                export.skip(row.id, error)
        export.rows += len(records)
        if records:
            text = (
                render(records)
                if render is not None
                else csv_lines(records, booleans, texts)
                if request.format == "csv"
                else ndjson_lines(names, records)
            )
            yield _count(export, text.encode("utf-8"))


def _batches(connection: Connection, query: Any) -> Iterator[Sequence[Any]]:
    """The rows, ``BATCH`` at a time. On PostgreSQL straight from a psycopg server-side
    cursor, the ids and times already text (see ``_TEXT_COLUMNS``): no per-row result
    processing in SQLAlchemy, no UUID or datetime objects made only to be printed."""
    if connection.dialect.name != "postgresql":
        yield from connection.execute(query.execution_options(yield_per=BATCH)).partitions()
        return
    columns = []
    for column in query.selected_columns:
        as_text = _TEXT_COLUMNS.get(column.key)
        columns.append(column if as_text is None else as_text(column).label(column.key))
    query = query.with_only_columns(*columns)
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("no PostgreSQL connection to export from")
    with driver.cursor(name=f"psam_export_{uuid.uuid4().hex}", row_factory=namedtuple_row) as cur:
        cur.itersize = BATCH
        cur.execute(str(compiled), compiled.params)
        while batch := cur.fetchmany(BATCH):
            yield batch


# In SQL, the text the export writes: a UUID as ``str(uuid)`` does, a time as ``_iso`` does.
_TEXT_COLUMNS: dict[str, Callable[[Any], ColumnElement[Any]]] = {
    "id": lambda column: cast(column, Text),
    "submitted_at": lambda column: func.to_char(
        func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    ),
}


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


def _consenting_on_primary(
    primary: Callable[[], Session], study_ids: set[str], clause: str | None
) -> set[str]:
    """``_consenting`` as the primary sees it now; one short transaction a batch, so a long
    export pins no primary connection (nor a PgBouncer server) between batches."""
    with primary() as session:
        erased = set(
            session.scalars(
                select(Participant.study_id).where(
                    Participant.study_id.in_(study_ids), Participant.erased_at.is_not(None)
                )
            )
        )
        allowed = _consenting(session, study_ids - erased, clause)
        session.rollback()
    return allowed


def _reason(error: CryptoError) -> str:
    """Why a row was skipped, in words an operator can act on (never key material)."""
    if isinstance(error, ErasedError):
        return "no data key"
    if isinstance(error, KeyUnavailableError):
        return f"key {error.key_id} unavailable"
    if isinstance(error, TamperedError):
        return "does not authenticate"
    if isinstance(error, ContextMismatchError):
        return "encrypted for another row or participant"
    if isinstance(error, FormatError):
        return "not a ciphertext"
    return "cannot be decrypted"


def _fhir_renderer(export: Export) -> Callable[[list[list[Any]]], str]:
    """Rows as FHIR NDJSON, each subject named in the system of this kind of export."""
    if export.fhir is None:
        raise RuntimeError("a FHIR export needs the FHIR base URL")
    at, request = export.fhir, export.request
    subjects = at.pseudonym_system(str(export.id)) if request.per_export else at.study_id_system
    return fhir_lines(
        at,
        export.versions,
        columns=[column.name for column in export.fixed],
        subject_system=subjects,
        include_free_text=request.include_free_text,
    )


def _record(
    keyring: Keyring, vault: Vault, export: Export, row: Row[Any], secret: bytes
) -> list[Any]:
    request, study_id, row_id = export.request, row.study_id, str(row.id)
    if row.kek_id is None:
        dek = vault.data_key(study_id)  # raises: their key is gone
    else:
        dek = vault.known_key(study_id, row.kek_id, row.wrapped, keyring)
    answers = decrypt_field_at(dek, row.answers, "responses", "answers", row_id, study_id)
    scores = (
        decrypt_field_at(dek, row.scores, "responses", "scores", row_id, study_id)
        if row.scores is not None
        else []
    )
    per_export = request.per_export
    fixed = [
        _pseudonym(keyring, export.id, study_id) if per_export else study_id,
        row.timepoint,
        row.instrument_id,
        row.version,
        row.instrument_hash,
        row.consent_version,
        _response_pseudonym(secret, row_id) if per_export else row_id,
    ]
    submitted = request.submitted_as
    if submitted == "time":
        fixed.append(_iso_text(row.submitted_at))
    elif submitted == "day":
        fixed.append(_iso_text(row.submitted_at)[:10])
    if request.format == "fhir":  # the renderer maps the values themselves
        return [*fixed, answers, scores]
    record = {"language": row.language}
    own = export.labels.get(row.version) if request.labels else None
    values = row_values(
        export.columns, answers, scores, labels=request.labels, record=record, own_labels=own
    )
    return fixed + values


def _iso_text(moment: dt.datetime | str) -> str:
    """A submission time as the export writes it (PostgreSQL gives the text already)."""
    return moment if isinstance(moment, str) else str(iso_utc(moment))


def count_rows(session: Session, export: Export) -> int:
    """How many responses the export's filters select (before the consent checks)."""
    query = _responses_query(export).order_by(None)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _count(export: Export, chunk: bytes) -> bytes:
    export.digest.update(chunk)
    return chunk


def _responses_query(export: Export) -> Any:
    """The export's responses, in order, as ORM entities (for counting)."""
    return _filtered(select(Response), export)


def _rows_query(export: Export) -> Any:
    """The columns an export writes, with each participant's wrapped data key."""
    responses, keys = Response.__table__.c, DataKeyRecord.__table__.c
    query = select(
        responses.id,
        responses.study_id,
        responses.timepoint,
        responses.instrument_id,
        responses.version,
        responses.instrument_hash,
        responses.consent_version,
        responses.language,
        responses.submitted_at,
        responses.answers,
        responses.scores,
        keys.kek_id,
        keys.wrapped,
    ).outerjoin(DataKeyRecord.__table__, keys.study_id == responses.study_id)
    return _filtered(query, export)


def _filtered(query: Any, export: Export) -> Any:
    request = export.request
    query = (
        query.join(Participant, Participant.study_id == Response.study_id)
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


def _pseudonym(keyring: Keyring, export_id: uuid.UUID, study_id: str) -> str:
    """A pseudonym for this export only: an HMAC of the study ID under this export's id."""
    mac = keyring.mac("export-pseudonym", f"{export_id}\n{study_id}".encode())
    return "PX-" + base64.b32encode(mac[:10]).decode("ascii").rstrip("=")


def _response_pseudonym(secret: bytes, response_id: str) -> str:
    """A response's id for this export only: a keyed hash under the export's secret.

    Base32hex keeps the digest's byte order, so sorting by this column is sorting by the
    digest, which is the order the rows come in (``_pseudonym_order``)."""
    digest = hashlib.sha256(secret + response_id.encode("ascii")).digest()
    return "RX-" + base64.b32hexencode(digest[:10]).decode("ascii")


def _sqlite_response_order(secret: bytes, stored_id: str) -> bytes:
    # SQLite stores a UUID as 32 hex digits; the hash is over its usual text form.
    return hashlib.sha256(secret + str(uuid.UUID(stored_id)).encode("ascii")).digest()


def _pseudonym_order(connection: Connection, secret: bytes) -> ColumnElement[Any]:
    """The SQL that orders a pseudonymised export by its response pseudonyms.

    Rows in submission or study-ID order would let two exports be joined by position, so
    a pseudonymised export comes out sorted by a hash keyed for it alone: a shuffle that
    differs between exports. The database sorts (spilling to disk if it must), so the
    service's memory stays bounded. The secret is bound as a parameter, never logged."""
    response_id = Response.__table__.c.id
    key = literal(secret, LargeBinary)
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("no SQLite connection to register the row order on")
        driver.create_function("psam_response_order", 2, _sqlite_response_order, deterministic=True)
        return func.psam_response_order(key, response_id)
    return func.sha256(key.op("||")(func.convert_to(cast(response_id, Text), "UTF8")))


class Streamed(Protocol):
    """What an export of any kind has counted by the time its stream ends."""

    id: uuid.UUID
    digest: Any
    rows: int
    skipped_count: int
    skipped: list[dict[str, str]]


def close_manifest(session: Session, export: Streamed, completed: bool) -> ExportManifest:
    """Write how a stream ended into its manifest: complete with the bytes' SHA-256, or
    aborted; the rows sent and those skipped. The caller holds the access log's lock."""
    manifest = session.get(ExportManifest, export.id)
    if manifest is None:
        raise RuntimeError(f"export manifest {export.id} is missing")
    manifest.status = "complete" if completed else "aborted"
    manifest.completed_at = utcnow()
    manifest.row_count = export.rows
    manifest.sha256 = export.digest.hexdigest() if completed else None
    manifest.skipped_count = export.skipped_count
    manifest.skipped = list(export.skipped)
    return manifest


def finish_export(
    session: Session, writer: LedgerWriter, principal: Principal, export: Export, completed: bool
) -> ExportManifest:
    """Record how the export ended (complete, or aborted mid-stream) and which rows it
    skipped, and log it. Commits."""
    writer.lock("access")
    manifest = close_manifest(session, export, completed)
    if export.point is not None:
        manifest.read_from, manifest.data_as_of = export.point.source, export.point.as_of
    filters: dict[str, Any] = {
        "export": str(export.id),
        "status": manifest.status,
        "skipped": export.skipped_count,
    }
    if export.skipped:
        filters["skipped_response_ids"] = [s["response_id"] for s in export.skipped]
        log.warning(
            "export %s skipped %d rows that could not be decrypted",
            export.id,
            export.skipped_count,
        )
    record_access(writer, principal, "export.responses", filters=filters, rows=export.rows)
    session.commit()
    count_export(manifest.status, export.rows)
    return manifest


def list_manifests(
    session: Session, limit: int = 100, *, trail: Trail | None = None
) -> list[ExportManifest]:
    """Manifests, newest first; with a ``trail`` the read is logged. Commits."""
    found = list(
        session.scalars(
            select(ExportManifest).order_by(ExportManifest.created_at.desc()).limit(limit)
        )
    )
    if trail is not None:
        trail.record(session, "export.manifests.read", rows=len(found))
        session.commit()
    return found


def get_manifest(
    session: Session, export_id: uuid.UUID, *, trail: Trail | None = None
) -> ExportManifest:
    """One manifest; with a ``trail`` the read is logged. Commits."""
    manifest = session.get(ExportManifest, export_id)
    if manifest is None:
        raise NotFoundError(f"There is no export {export_id}.")
    if trail is not None:
        trail.record(session, "export.manifest.read", filters={"export": str(export_id)}, rows=1)
        session.commit()
    return manifest


def codebook_versions(session: Session, request: ExportRequest, trail: Trail) -> list[Instrument]:
    """The versions a codebook describes; the read is logged like every staff call. Commits."""
    versions = versions_for(session, request)
    trail.record(
        session,
        "export.codebook.read",
        filters={"instrument": request.instrument, "versions": [v.version for v in versions]},
        rows=len(versions),
    )
    session.commit()
    return versions
