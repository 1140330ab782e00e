"""Signing consent, withdrawing, and the consent state that the log implies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.canonical import canonical_json
from service.domain.consent import (
    SIGNING_WINDOW,
    ConsentState,
    consent_state,
    recorded_clauses,
    signing_fault_for_state,
    signing_faults,
    signing_wait,
    withdrawal_fault,
)
from service.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    WithdrawnError,
)
from service.domain.instruments import Instrument
from service.domain.ledger import Entry
from service.metrics import count_consent_event
from service.models import ConsentLogEntry, Participant
from service.services.audit import record_access
from service.services.catalogue import catalogue
from service.services.context import lock_for_withdrawal, participant_context
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter, entries_of
from service.services.tokens import Principal, revoke_participant_tokens
from service.services.vault import Vault, shred_participant


@dataclass(frozen=True)
class Receipt:
    """What a participant keeps: where their event sits in the log, and what it says."""

    seq: int
    hash: str
    type: str
    recorded_at: str
    form_version: str | None
    form_hash: str | None
    clauses: Mapping[str, bool] | None
    scope: str | None
    # The language the form was shown in and the hash of that exact text (signed since
    # revision 0011; None on earlier receipts and on withdrawals).
    language: str | None = None
    text_sha256: str | None = None


def receipt_of(entry: Entry) -> Receipt:
    event = entry.event
    form = event.get("form") or {}
    return Receipt(
        seq=entry.seq,
        hash=entry.hash,
        type=event["type"],
        recorded_at=event["recorded_at"],
        form_version=form.get("version"),
        form_hash=form.get("sha256"),
        clauses=event.get("clauses"),
        scope=event.get("scope"),
        language=form.get("language"),
        text_sha256=form.get("text_sha256"),
    )


def consent_form(session: Session) -> Instrument:
    """The consent form in force, parsed."""
    return catalogue(session).consent_form


def _events(session: Session, study_id: str) -> list[Entry]:
    return entries_of(session, "consent", study_id)


def state_of(session: Session, study_id: str) -> ConsentState:
    """A participant's consent state now, derived from their events in the log."""
    return participant_context(session, study_id).consent


def states_of(session: Session, study_ids: Iterable[str]) -> dict[str, ConsentState]:
    """Many participants' consent states from one read of their events (for exports)."""
    found = catalogue(session)
    form = found.consent_form
    contact = frozenset(i.id for i in form.items if i.contact)
    events: dict[str, list[dict[str, Any]]] = {sid: [] for sid in study_ids}
    for row in session.scalars(
        select(ConsentLogEntry)
        .where(ConsentLogEntry.study_id.in_(list(events)))
        .order_by(ConsentLogEntry.seq)
    ):
        events[row.study_id or ""].append(json.loads(row.event))
    policies = found.reconsent_policies
    return {sid: consent_state(evs, form.version, contact, policies) for sid, evs in events.items()}


def history(session: Session, study_id: str) -> list[Receipt]:
    """A participant's receipts, oldest first."""
    return [receipt_of(e) for e in _events(session, study_id)]


def participant(session: Session, study_id: str) -> Participant:
    """A participant by study ID, or NotFoundError."""
    found = session.scalars(
        select(Participant).where(Participant.study_id == study_id)
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"There is no participant {study_id}.")
    return found


def sign_consent(
    session: Session,
    keys: KeyringSource,
    writer: LedgerWriter,
    principal: Principal,
    *,
    form_version: str,
    form_hash: str,
    clauses: Mapping[str, Any],
    typed_name: str,
    per_day: int,
    language: str | None = None,
    text_hash: str | None = None,
) -> Receipt:
    """Record a signature: evidence encrypted in the vault, an event in the log naming the
    language the form was shown in (``language``, or the closest the form has) and the hash
    of that text; ``text_hash``, when given, must be it. Commits."""
    study_id = principal.study_id
    if study_id is None:
        raise NotFoundError("Only a participant signs the consent form.")
    writer.lock("consent")  # before reading the state, so two signings cannot interleave
    _check_signing_rate(session, study_id, per_day)
    context = participant_context(session, study_id)
    fault = signing_fault_for_state(context.consent)
    if fault:
        raise WithdrawnError(fault)
    form = context.catalogue.consent_form_in(language)
    faults = signing_faults(form, form_version, form_hash, clauses, typed_name)
    if text_hash is not None and text_hash != form.text_sha256 and not faults:
        faults["text_hash"] = [f"does not match the {form.language} text of the form served"]
    if faults:
        raise InvalidInputError(faults)
    evidence = {"typed_name": typed_name.strip(), "signed_at": utcnow().isoformat()}
    stored = Vault(session, keys).store_identity(study_id, "signature", evidence)
    # The log holds a keyed commitment to the evidence, never the name: it can show that the
    # vault's record is the one signed, and still verifies after the vault row is erased.
    commitment = writer.keyring.mac(
        "signature-commitment",
        canonical_json({"study_id": study_id, "identity_value_id": str(stored.id), **evidence}),
    )
    entry = writer.append(
        "consent",
        {
            "type": "consent",
            "study_id": study_id,
            "form": {
                "id": form.id,
                "version": form.version,
                "sha256": form.sha256,
                "language": form.language,
                "text_sha256": form.text_sha256,
            },
            "clauses": recorded_clauses(form, clauses),
            "commitment": commitment.hex(),
            "actor": principal.actor(),
        },
    )
    session.commit()
    count_consent_event("consent")
    return receipt_of(entry)


def _check_signing_rate(session: Session, study_id: str, per_day: int) -> None:
    now = utcnow()
    recent = session.scalars(
        select(ConsentLogEntry.recorded_at).where(
            ConsentLogEntry.study_id == study_id,
            ConsentLogEntry.type == "consent",
            ConsentLogEntry.recorded_at > now - SIGNING_WINDOW,
        )
    ).all()
    wait = signing_wait(recent, now, per_day)
    if wait is not None:
        raise RateLimitedError(
            f"The consent form has been signed {per_day} times in the last day: "
            f"try again in {wait} seconds.",
            wait,
        )


def withdraw(
    session: Session,
    writer: LedgerWriter,
    principal: Principal,
    study_id: str,
    scope: str,
) -> Receipt:
    """Record a withdrawal (erasing first for ``stop-and-erase``). Commits."""
    acting_staff = principal.study_id is None
    writer.lock("consent", *(("access",) if acting_staff else ()))
    lock_for_withdrawal(session, study_id)  # in-flight submits for them commit first
    fault = withdrawal_fault(state_of(session, study_id), scope)
    if fault:
        raise ConflictError(fault)
    erased = None
    if scope == "stop-and-erase":
        erased = shred_participant(session, study_id)
        revoke_participant_tokens(session, study_id)
    entry = writer.append(
        "consent",
        {"type": "withdrawal", "study_id": study_id, "scope": scope, "actor": principal.actor()},
    )
    if acting_staff:
        record_access(
            writer,
            principal,
            "participant.withdraw",
            study_id=study_id,
            filters={"scope": scope},
            rows=sum(erased.rows_deleted.values()) if erased else 1,
        )
    session.commit()
    count_consent_event(f"withdrawal:{scope}")
    return receipt_of(entry)
