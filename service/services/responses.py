"""The participant's questionnaires: tasks, starting, saving, submitting and reading responses."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
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
from service.domain.instruments import Instrument, parse_instrument, validate_answers, version_key
from service.domain.protocol import Protocol, parse_protocol
from service.domain.scoring import AlertResult, score_answers, triggered_alerts
from service.domain.tasks import ResponseSummary, Task, build_tasks, find_timepoint, window
from service.models import Alert, InstrumentVersion, Participant, ProtocolVersion, Response
from service.services.catalogue import get_version
from service.services.consent import consent_form, participant, state_of
from service.services.keyring import KeyringSource
from service.services.vault import Vault

IN_PROGRESS = "in-progress"
SUBMITTED = "submitted"
_INSTRUMENTS: dict[str, Instrument] = {}  # published versions never change
_PROTOCOLS: dict[str, Protocol] = {}
_BY_VERSION: dict[tuple[str, str], Instrument] = {}


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


def instrument(session: Session, instrument_id: str, version: str) -> Instrument:
    """A published instrument version, parsed; cached, since a published version never
    changes (sync refuses a changed file)."""
    key = (instrument_id, version)
    if key not in _BY_VERSION:
        _BY_VERSION[key] = _parsed(get_version(session, instrument_id, version))
    return _BY_VERSION[key]


def _parsed(row: InstrumentVersion) -> Instrument:
    if row.sha256 not in _INSTRUMENTS:
        _INSTRUMENTS[row.sha256] = parse_instrument(row.definition)
    return _INSTRUMENTS[row.sha256]


def current_protocol(session: Session) -> Protocol:
    """The newest published protocol."""
    rows = list(session.scalars(select(ProtocolVersion)))
    if not rows:
        raise NotFoundError("No protocol has been published yet: run 'instruments sync'.")
    row = max(rows, key=lambda r: version_key(r.version))
    if row.sha256 not in _PROTOCOLS:
        published = session.execute(
            select(InstrumentVersion.instrument_id, InstrumentVersion.version).where(
                InstrumentVersion.kind == "questionnaire"
            )
        )
        _PROTOCOLS[row.sha256] = parse_protocol(row.definition, {(i, v) for i, v in published})
    return _PROTOCOLS[row.sha256]


def require_consent(session: Session, study_id: str) -> None:
    """Refuse new data unless consent is in force under the current consent form."""
    state = state_of(session, study_id).state
    if state == consent_rules.CONSENTED:
        return
    if state == consent_rules.NEEDS_RECONSENT:
        raise ReconsentRequiredError(
            "A new consent form is in force: sign it (POST /api/v1/me/consent) to continue."
        )
    if state in (consent_rules.WITHDRAWN, consent_rules.ERASED):
        raise WithdrawnError("You have withdrawn from the study: no new answers are accepted.")
    raise ConsentRequiredError("Sign the consent form (POST /api/v1/me/consent) first.")


def tasks_for(
    session: Session, person: Participant, consent: ConsentState, today: dt.date | None = None
) -> list[Task]:
    """The participant's tasks, given their consent state; an outstanding consent comes first."""
    today = today or utcnow().date()
    rows = session.execute(
        select(Response.timepoint, Response.instrument_id, Response.id, Response.status).where(
            Response.study_id == person.study_id
        )
    )
    summaries = {(t, i): ResponseSummary(str(rid), status) for t, i, rid, status in rows}
    tasks = build_tasks(current_protocol(session), person.enrolled_at.date(), today, summaries)
    if consent.state in (consent_rules.NOT_CONSENTED, consent_rules.NEEDS_RECONSENT):
        form = consent_form(session)
        tasks.insert(0, Task("consent", form.id, form.version, "open", today, today))
    return tasks


def _check_window(
    session: Session,
    study_id: str,
    timepoint_id: str,
    today: dt.date,
    protocol: Protocol | None = None,
) -> None:
    timepoint = find_timepoint(protocol or current_protocol(session), timepoint_id)
    if timepoint is None:
        raise InvalidInputError({"timepoint": [f"no timepoint {timepoint_id!r} in the protocol"]})
    opens, closes = window(timepoint, participant(session, study_id).enrolled_at.date())
    if today < opens:
        raise InvalidInputError(
            {"timepoint": [f"the {timepoint_id} questionnaires open on {opens}"]}
        )
    if today > closes:
        raise InvalidInputError({"timepoint": [f"the {timepoint_id} window closed on {closes}"]})


def _answer_errors(errors: Mapping[str, list[str]]) -> InvalidInputError:
    return InvalidInputError({f"answers.{item}": msgs for item, msgs in errors.items()})


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
) -> ResponseView:
    """Start a response to a task (or submit it in one go). Commits."""
    require_consent(session, study_id)
    protocol = current_protocol(session)
    point = find_timepoint(protocol, timepoint)
    if point is None:
        raise InvalidInputError({"timepoint": [f"no timepoint {timepoint!r} in the protocol"]})
    if (instrument_id, version) not in point.instruments:
        asked = ", ".join(f"{i} {v}" for i, v in point.instruments)
        raise InvalidInputError(
            {"instrument": [f"{instrument_id} {version} is not asked for at {timepoint} ({asked})"]}
        )
    today = utcnow().date()
    _check_window(session, study_id, timepoint, today, protocol)
    existing = session.scalars(
        select(Response).where(
            Response.study_id == study_id,
            Response.timepoint == timepoint,
            Response.instrument_id == instrument_id,
        )
    ).one_or_none()
    if existing is not None:
        raise ConflictError(_existing_message(existing))
    inst = instrument(session, instrument_id, version)
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
    )
    vault = Vault(session, keys)
    row.answers = vault.encrypt(dict(answers), "responses", "answers", row.id, study_id)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another request started the same task a moment ago
        session.rollback()
        raise ConflictError(
            f"A response to {instrument_id} at {timepoint} already exists."
        ) from None
    raised = _finalise(session, vault, row, inst, answers) if submit else []
    session.commit()
    return _view(row, inst, dict(answers), raised)


def _existing_message(existing: Response) -> str:
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
) -> tuple[Response, Vault, dict[str, Any], Instrument]:
    """A draft the participant may still change now, with its answers decrypted."""
    row = _own(session, study_id, response_id)
    if row.status == SUBMITTED:
        raise ConflictError("This response is submitted: it can no longer be changed.")
    require_consent(session, study_id)
    _check_window(session, study_id, row.timepoint, utcnow().date())
    vault = Vault(session, keys)
    answers = vault.decrypt(row.answers, "responses", "answers", row.id, study_id)
    return row, vault, answers, instrument(session, row.instrument_id, row.version)


def save_answers(
    session: Session,
    keys: KeyringSource,
    study_id: str,
    response_id: uuid.UUID,
    patch: Mapping[str, Any],
) -> ResponseView:
    """Merge partial answers into a draft (JSON merge patch: null clears an answer). Commits."""
    row, vault, answers, inst = _open_draft(session, keys, study_id, response_id)
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
    session.commit()
    return _view(row, inst, answers, [])


def submit_response(
    session: Session, keys: KeyringSource, study_id: str, response_id: uuid.UUID
) -> ResponseView:
    """Validate everything, score, raise alerts; the response is then immutable. Commits."""
    row, vault, answers, inst = _open_draft(session, keys, study_id, response_id)
    errors = validate_answers(inst, answers, complete=True)
    if errors:
        raise _answer_errors(errors)
    raised = _finalise(session, vault, row, inst, answers)
    session.commit()
    return _view(row, inst, answers, raised)


def _finalise(
    session: Session, vault: Vault, row: Response, inst: Instrument, answers: Mapping[str, Any]
) -> list[AlertResult]:
    scores = [asdict(s) for s in score_answers(inst, answers)]
    row.scores = vault.encrypt(scores, "responses", "scores", row.id, row.study_id)
    row.status = SUBMITTED
    row.submitted_at = row.updated_at = utcnow()
    raised = triggered_alerts(inst, answers)
    session.flush()  # the response row first: alerts refer to it
    for alert in raised:
        session.add(
            Alert(
                study_id=row.study_id,
                response_id=row.id,
                rule_id=alert.id,
                severity=alert.severity,
                raised_at=row.submitted_at,
                status="open",
                acknowledged_at=None,
                acknowledged_by=None,
                note=None,
            )
        )
    return raised


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
    )
