"""The quotes export: verified interview transcripts, for analysts, only of participants
whose consent includes anonymised quotes, under pseudonyms drawn at random for this export.

Like every export it has a manifest (started, then completed with its row count and the
SHA-256 of the bytes sent) and access-log events at its start and end. The pseudonyms are
random, not derived from the study ID, so nothing links them to the study ID or to another
export's: the service keeps no table from one to the other.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.consent import CONSENTED, NEEDS_RECONSENT, WITHDRAWN
from service.domain.crypto import CryptoError
from service.metrics import count_export
from service.models import ExportManifest, Interview, InterviewFile
from service.services.audit import record_access
from service.services.consent import states_of
from service.services.exports import SKIPPED_NAMED, close_manifest
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.recordings import TRANSCRIPT, plaintext_of
from service.services.tokens import Principal
from service.services.vault import Vault

QUOTES_CLAUSE = "c_anonymised_quotes"
MEDIA_TYPE = "application/x-ndjson; charset=utf-8"
# "stop" keeps what was given under the consent it was given with, as in every export.
_AGREEING_STATES = (CONSENTED, NEEDS_RECONSENT, WITHDRAWN)
FILTERS = {"kind": "quotes", "consent_clause": QUOTES_CLAUSE, "pseudonyms": "per-export"}


@dataclass
class QuotesExport:
    id: uuid.UUID
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    skipped_count: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)


def begin_quotes_export(
    session: Session, writer: LedgerWriter, principal: Principal
) -> QuotesExport:
    """Record the manifest as started and log the access. Commits."""
    writer.lock("access")
    manifest = ExportManifest(
        id=uuid.uuid4(),
        actor=principal.actor(),
        created_at=utcnow(),
        completed_at=None,
        status="streaming",
        filters=dict(FILTERS),
        versions=[],
        format="ndjson",
        row_count=None,
        sha256=None,
    )
    session.add(manifest)
    record_access(
        writer, principal, "export.quotes.start", filters={"export": str(manifest.id), **FILTERS}
    )
    session.commit()
    return QuotesExport(manifest.id)


def quotes_lines(reading: Session, keys: KeyringSource, export: QuotesExport) -> Iterator[bytes]:
    """One NDJSON line per verified transcript of an agreeing participant. A transcript
    that does not authenticate whole is left out (never partly sent) and named."""
    found = reading.execute(
        select(InterviewFile, Interview.study_id)
        .join(Interview, Interview.id == InterviewFile.interview_id)
        .where(
            InterviewFile.kind == TRANSCRIPT,
            InterviewFile.verified_at.is_not(None),
            InterviewFile.destroyed_at.is_(None),
        )
        .order_by(InterviewFile.id)  # random ids: no order that follows the study IDs
    ).all()
    states = states_of(reading, {study_id for _row, study_id in found})
    agreeing = {
        sid
        for sid, state in states.items()
        if state.state in _AGREEING_STATES and state.clauses.get(QUOTES_CLAUSE) is True
    }
    vault = Vault(reading, keys)
    pseudonyms: dict[str, str] = {}
    for row, study_id in found:
        if study_id not in agreeing:
            continue
        try:
            with plaintext_of(reading, vault.data_key(study_id), row) as chunks:
                text = b"".join(chunks)
        except CryptoError as error:
            export.skipped_count += 1
            if len(export.skipped) < SKIPPED_NAMED:
                reason = f"does not authenticate ({type(error).__name__})"
                export.skipped.append({"interview_id": str(row.interview_id), "reason": reason})
            continue
        pseudonym = pseudonyms.setdefault(study_id, "PQ-" + secrets.token_hex(6).upper())
        line = {
            "participant": pseudonym,
            "interview": "IQ-" + secrets.token_hex(6).upper(),
            "transcript": text.decode("utf-8"),
        }
        chunk = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        export.digest.update(chunk)
        export.rows += 1
        yield chunk


def finish_quotes_export(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    export: QuotesExport,
    completed: bool,
) -> None:
    """Record how the export ended, and log it. Commits."""
    writer.lock("access")
    manifest = close_manifest(session, export, completed)
    filters = {"export": str(export.id), "status": manifest.status, "skipped": export.skipped_count}
    record_access(writer, principal, "export.quotes", filters=filters, rows=export.rows)
    session.commit()
    count_export(manifest.status, export.rows)
