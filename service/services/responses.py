"""The participant's questionnaires: tasks, starting, saving, submitting and reading responses."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain import consent as consent_rules
from service.domain.consent import ConsentState
from service.domain.errors import (
    ConflictError,
    ConsentRequiredError,
    InvalidInputError,
    NotFoundError,
    ReconsentRequiredError,
    WithdrawnError,
)
from service.domain.instruments import Instrument, validate_answers
from service.domain.protocol import Timepoint
from service.domain.scoring import AlertResult, score_answers, triggered_alerts
from service.domain.tasks import ResponseSummary, Task, build_tasks, find_timepoint, window
from service.metrics import count_submission
from service.models import Response
from service.services.alerts import raise_alerts
from service.services.catalogue import catalogue
from service.services.context import ParticipantContext, participant_context
from service.services.keyring import KeyringSource
from service.services.vault import Vault

IN_PROGRESS = "in-progress"
SUBMITTED = "submitted"
_RESPONSES = cast(Table, Response.__table__)
_INSERT_RESPONSE = insert(_RESPONSES)  # built once: its compiled form is cached


@dataclass(frozen=True)
class ResponseView:
    id: str
    status: str
    instrument: str
    version: str
    instrument_hash: str
    timepoint: str
    started_at: dt.datetime
    submitted_at: dt.datetime | None
    answers: dict[str, Any]
    scores: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    language: str | None = None


def instrument(
    session: Session, instrument_id: str, version: str, language: str | None = None
) -> Instrument:
    """A published instrument version, parsed (from the catalogue in force), its texts in
    ``language`` when it has them (otherwise in its first language): what a page shows."""
    return catalogue(session).instrument(instrument_id, version, language)


def require_consent(consent: ConsentState) -> None:
    """Refuse new data unless consent is in force under the current consent form."""
    if consent.state == consent_rules.CONSENTED:
        return
    if consent.state == consent_rules.NEEDS_RECONSENT:
        raise ReconsentRequiredError(
            "A new consent form is in force: sign it (POST /api/v1/me/consent) to continue."
        )
    if consent.state in (consent_rules.WITHDRAWN, consent_rules.ERASED):
        raise WithdrawnError("You have withdrawn from the study: no new answers are accepted.")
    raise ConsentRequiredError("Sign the consent form (POST /api/v1/me/consent) first.")


def tasks_for(
    session: Session, context: ParticipantContext, today: dt.date | None = None
) -> list[Task]:
    """The participant's tasks, given their consent state; an outstanding consent (or a newer
    form they are offered while they continue) comes first."""
    today = today or utcnow().date()
    rows = session.execute(
        select(
            Response.timepoint,
            Response.instrument_id,
            Response.id,
            Response.status,
            Response.version,
        ).where(Response.study_id == context.study_id)
    )
    summaries = {
        (t, i): ResponseSummary(str(rid), status, version) for t, i, rid, status, version in rows
    }
    protocol = context.catalogue.protocol
    tasks = build_tasks(protocol, context.enrolled_at.date(), today, summaries)
    consent = context.consent
    outstanding = (consent_rules.NOT_CONSENTED, consent_rules.NEEDS_RECONSENT)
    if consent.state in outstanding or consent.offered_version is not None:
        form = context.catalogue.consent_form
        tasks.insert(0, Task("consent", form.id, form.version, "open", today, today))
    return tasks


def _check_window(context: ParticipantContext, timepoint_id: str, today: dt.date) -> Timepoint:
    """The timepoint, if it exists and is open today for this participant."""
    timepoint = find_timepoint(context.catalogue.protocol, timepoint_id)
    if timepoint is None:
        raise InvalidInputError({"timepoint": [f"no timepoint {timepoint_id!r} in the protocol"]})
    opens, closes = window(timepoint, context.enrolled_at.date())
    if today < opens:
        raise InvalidInputError(
            {"timepoint": [f"the {timepoint_id} questionnaires open on {opens}"]}
        )
    if today > closes:
        raise InvalidInputError({"timepoint": [f"the {timepoint_id} window closed on {closes}"]})
    return timepoint


def _answer_errors(errors: Mapping[str, list[str]]) -> InvalidInputError:
    return InvalidInputError({f"answers.{item}": msgs for item, msgs in errors.items()})


def _writable(
    session: Session, keys: KeyringSource, study_id: str
) -> tuple[ParticipantContext, Vault]:
    """The participant, locked for writing, with consent in force; and a vault holding their
    data key (read in the same query)."""
    context = participant_context(session, study_id, for_writing=True)
    require_consent(context.consent)
    vault = Vault(session, keys)
    if context.data_key is not None:
        vault.adopt(study_id, context.data_key.kek_id, context.data_key.wrapped)
    return context, vault


def start_response(
    session: Session,
    keys: KeyringSource,
    study_id: str,
    *,
    instrument_id: str,
    version: str,
    timepoint: str,
    answers: Mapping[str, Any],
    submit: bool,
    language: str | None = None,
) -> ResponseView:
    """Start a response to a task (or submit it in one go), recording the language it is
    answered in: ``language`` if the version has it, else its first. Commits."""
    context, vault = _writable(session, keys, study_id)
    point = _check_window(context, timepoint, utcnow().date())
    if (instrument_id, version) not in point.instruments:
        asked = ", ".join(f"{i} {v}" for i, v in point.instruments)
        raise InvalidInputError(
            {"instrument": [f"{instrument_id} {version} is not asked for at {timepoint} ({asked})"]}
        )
    inst = context.catalogue.instrument(instrument_id, version)
    shown = context.catalogue.instrument(instrument_id, version, language).language
    errors = validate_answers(inst, answers, complete=submit)
    if errors:
        raise _answer_errors(errors)
    now = utcnow()
    row = Response(
        id=uuid.uuid4(),
        study_id=study_id,
        timepoint=timepoint,
        instrument_id=instrument_id,
        version=version,
        instrument_hash=inst.sha256,
        status=IN_PROGRESS,
        started_at=now,
        updated_at=now,
        submitted_at=None,
        consent_version=None,
        language=shown,
    )
    row.answers = vault.encrypt(dict(answers), "responses", "answers", row.id, study_id)
    raised = (
        _finalise(vault, row, inst, answers, context.consent.form_version)
        if submit
        else triggered_alerts(inst, answers, draft=True)
    )
    stored = {c.key: getattr(row, c.key) for c in _RESPONSES.c}
    try:  # one Core INSERT; the unique task index refuses a second response
        session.connection().execute(_INSERT_RESPONSE, stored)
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            _existing_message(session, study_id, timepoint, instrument_id)
        ) from None
    raise_alerts(session, vault, row, raised)
    session.commit()
    if submit:
        count_submission(instrument_id)
    return _view(row, inst, dict(answers), raised)


def _existing_message(session: Session, study_id: str, timepoint: str, instrument_id: str) -> str:
    existing = session.scalars(
        select(Response).where(
            Response.study_id == study_id,
            Response.timepoint == timepoint,
            Response.instrument_id == instrument_id,
        )
    ).one_or_none()
    if existing is None:  # gone again already (erased): the task was taken all the same
        return f"A response to {instrument_id} at {timepoint} already exists."
    if existing.status == SUBMITTED:
        return f"This task is already completed (response {existing.id})."
    return f"A response to this task is in progress: continue response {existing.id}."


def _own(session: Session, study_id: str, response_id: uuid.UUID) -> Response:
    row = session.get(Response, response_id)
    if row is None or row.study_id != study_id:  # another's response is not found, never 403
        raise NotFoundError(f"There is no response {response_id}.")
    return row


def _open_draft(
    session: Session, keys: KeyringSource, study_id: str, response_id: uuid.UUID
) -> tuple[Response, Vault, dict[str, Any], Instrument, ParticipantContext]:
    """A draft the participant may still change now, with its answers decrypted."""
    row = _own(session, study_id, response_id)
    if row.status == SUBMITTED:
        raise ConflictError("This response is submitted: it can no longer be changed.")
    context, vault = _writable(session, keys, study_id)
    _check_window(context, row.timepoint, utcnow().date())
    answers = vault.decrypt(row.answers, "responses", "answers", row.id, study_id)
    inst = context.catalogue.instrument(row.instrument_id, row.version)
    return row, vault, answers, inst, context


def save_answers(
    session: Session,
    keys: KeyringSource,
    study_id: str,
    response_id: uuid.UUID,
    patch: Mapping[str, Any],
) -> ResponseView:
    """Merge partial answers into a draft (JSON merge patch: null clears an answer). Commits."""
    row, vault, answers, inst, _ = _open_draft(session, keys, study_id, response_id)
    for item, value in patch.items():
        if value is None:
            answers.pop(item, None)
        else:
            answers[item] = value
    errors = validate_answers(inst, answers, complete=False)
    if errors:
        raise _answer_errors(errors)
    row.answers = vault.encrypt(answers, "responses", "answers", row.id, study_id)
    row.updated_at = utcnow()
    raised = triggered_alerts(inst, answers, draft=True)
    raise_alerts(session, vault, row, raised)
    session.commit()
    return _view(row, inst, answers, raised)


def submit_response(
    session: Session, keys: KeyringSource, study_id: str, response_id: uuid.UUID
) -> ResponseView:
    """Validate everything, score, raise alerts; the response is then immutable. Commits."""
    row, vault, answers, inst, context = _open_draft(session, keys, study_id, response_id)
    errors = validate_answers(inst, answers, complete=True)
    if errors:
        raise _answer_errors(errors)
    raised = _finalise(vault, row, inst, answers, context.consent.form_version)
    session.flush()
    raise_alerts(session, vault, row, raised)
    session.commit()
    count_submission(row.instrument_id)
    return _view(row, inst, answers, raised)


def _finalise(
    vault: Vault,
    row: Response,
    inst: Instrument,
    answers: Mapping[str, Any],
    consent_version: str | None,
) -> list[AlertResult]:
    """Score and mark submitted under the consent version in force; the alerts the answers
    raise (added once the row is stored)."""
    scores = [asdict(s) for s in score_answers(inst, answers)]
    row.scores = vault.encrypt(scores, "responses", "scores", row.id, row.study_id)
    row.status = SUBMITTED
    row.consent_version = consent_version
    row.submitted_at = row.updated_at = utcnow()
    return triggered_alerts(inst, answers)


def get_response(
    session: Session, keys: KeyringSource, study_id: str, response_id: uuid.UUID
) -> ResponseView:
    """A participant's own response, decrypted."""
    row = _own(session, study_id, response_id)
    vault = Vault(session, keys)
    answers = vault.decrypt(row.answers, "responses", "answers", row.id, study_id)
    inst = instrument(session, row.instrument_id, row.version)
    raised = triggered_alerts(inst, answers) if row.status == SUBMITTED else []
    return _view(row, inst, answers, raised, vault)


def _view(
    row: Response,
    inst: Instrument,
    answers: dict[str, Any],
    raised: list[AlertResult],
    vault: Vault | None = None,
) -> ResponseView:
    scores: list[dict[str, Any]] = []
    if row.status == SUBMITTED:
        if vault is not None and row.scores is not None:
            stored = vault.decrypt(row.scores, "responses", "scores", row.id, row.study_id)
        else:
            stored = [asdict(s) for s in score_answers(inst, answers)]
        scores = [
            {k: s[k] for k in ("id", "label", "value", "band")}
            for s in stored
            if s["participant_visible"]
        ]
    return ResponseView(
        id=str(row.id),
        status=row.status,
        instrument=row.instrument_id,
        version=row.version,
        instrument_hash=row.instrument_hash,
        timepoint=row.timepoint,
        started_at=row.started_at,
        submitted_at=row.submitted_at,
        answers=answers,
        scores=scores,
        alerts=[asdict(a) for a in raised],
        language=row.language,
    )
