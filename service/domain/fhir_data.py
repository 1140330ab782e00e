"""Answers, scores and consent events as FHIR R4 resources: pure functions of decrypted values.

A QuestionnaireResponse carries what an analyst export's row carries, under the same rules:
the subject is the study ID or the export's pseudonym, identifying items never appear, free
text only when asked for, the submission time as the export gives it (the exact time, the
day, or nothing). Each score is an Observation ``derivedFrom`` its response. A Consent is
one consent-log event: who (the study ID, never a name), which form version and hash, each
clause as a permit or deny, and whether it is still the consent in force.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.fhir import (
    EXT_CONSENT_FORM,
    EXT_CONSENT_VERSION,
    EXT_SHA256,
    EXT_TIMEPOINT,
    EXT_WITHDRAWAL,
    FhirBase,
    choice_systems,
    coding,
)
from service.domain.instruments import Instrument, Item

# Observation ids are derived from the response's id and the score's, so the same export
# names the same score alike, and no id says anything the response id does not.
_OBSERVATION_IDS = uuid.UUID("6f1c1e52-7f4b-4d0e-9a34-3c1b2f0e8d17")
SURVEY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CONSENT_SCOPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "research",
            "display": "Research",
        }
    ]
}
CONSENT_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
                "code": "research",
                "display": "Research Information Access",
            }
        ]
    }
]


@dataclass(frozen=True)
class ResponseRow:
    """One submitted response as an export hands it over, already decrypted."""

    id: str  # the response id, or its per-export pseudonym
    subject: str  # the study ID, or the per-export pseudonym
    subject_system: str
    timepoint: str
    instrument_hash: str
    authored: str | None  # an ISO time, an ISO day, or None
    answers: Mapping[str, Any]
    scores: Sequence[Mapping[str, Any]]
    consent_version: str | None = None  # the consent form in force at submission, if known


@dataclass(frozen=True)
class ResponseMapping:
    """What mapping the responses of one instrument version needs, worked out once."""

    instrument: Instrument
    at: FhirBase
    include_free_text: bool
    systems: Mapping[str, str]  # choice item id -> its code system

    @classmethod
    def of(
        cls, instrument: Instrument, at: FhirBase, *, include_free_text: bool
    ) -> ResponseMapping:
        return cls(instrument, at, include_free_text, choice_systems(instrument, at))


def questionnaire_response(mapping: ResponseMapping, row: ResponseRow) -> dict[str, Any]:
    """A submitted response as a completed QuestionnaireResponse."""
    instrument, at = mapping.instrument, mapping.at
    items = []
    for item in instrument.items:
        if item.identifying or (item.type == "text" and not mapping.include_free_text):
            continue
        answers = _answers(mapping, item, row.answers.get(item.id))
        if answers:
            items.append({"linkId": item.id, "answer": answers})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": row.id,
        "extension": [
            {"url": at.extension(EXT_TIMEPOINT), "valueString": row.timepoint},
            {"url": at.extension(EXT_SHA256), "valueString": row.instrument_hash},
        ],
        "questionnaire": f"{at.questionnaire_url(instrument.id)}|{instrument.version}",
        "status": "completed",
        "subject": _subject(row),
    }
    if row.consent_version is not None:
        resource["extension"].append(
            {"url": at.extension(EXT_CONSENT_VERSION), "valueString": row.consent_version}
        )
    if row.authored is not None:
        resource["authored"] = row.authored
    resource["item"] = items
    return resource


def _subject(row: ResponseRow) -> dict[str, Any]:
    return {"identifier": {"system": row.subject_system, "value": row.subject}}


def _answers(mapping: ResponseMapping, item: Item, value: Any) -> list[dict[str, Any]]:
    """An answer as FHIR answers: none when unanswered (FHIR has no empty answer, so a
    multi_choice answered with no option is left out too)."""
    if value is None:
        return []
    if item.type in ("choice", "multi_choice"):
        labels = {c.code: c.label for c in item.choices}
        system, version = mapping.systems[item.id], mapping.instrument.version
        codes = value if isinstance(value, list) else [value]
        return [{"valueCoding": coding(system, version, c, labels.get(c, str(c)))} for c in codes]
    if item.type == "decimal":
        return [{"valueDecimal": value}]
    key = {
        "integer": "valueInteger",
        "text": "valueString",
        "date": "valueDate",
        "boolean": "valueBoolean",
    }[item.type]
    return [{key: value}]


def score_observations(mapping: ResponseMapping, row: ResponseRow) -> list[dict[str, Any]]:
    """One Observation per score of a response, each derived from the response."""
    instrument, at = mapping.instrument, mapping.at
    out = []
    for score in row.scores:
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": str(uuid.uuid5(_OBSERVATION_IDS, f"{row.id}/{score['id']}")),
            "status": "final",
            "category": [SURVEY],
            "code": {
                "coding": [
                    {
                        "system": at.score_system(instrument.id),
                        "code": score["id"],
                        "display": score["label"],
                    }
                ],
                "text": score["label"],
            },
            "subject": _subject(row),
        }
        if row.authored is not None:
            resource["effectiveDateTime"] = row.authored
        value = score.get("value")
        if isinstance(value, bool):
            resource["valueBoolean"] = value
        elif isinstance(value, int):
            resource["valueInteger"] = value
        elif isinstance(value, float):
            resource["valueQuantity"] = {"value": value}
        else:  # an item the score needs was not answered
            resource["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}
        if score.get("band"):
            resource["interpretation"] = [{"text": score["band"]}]
        resource["derivedFrom"] = [{"reference": f"QuestionnaireResponse/{row.id}"}]
        out.append(resource)
    return out


def fhir_lines(
    at: FhirBase,
    versions: Sequence[Instrument],
    *,
    columns: Sequence[str],
    subject_system: str,
    include_free_text: bool,
) -> Callable[[list[list[Any]]], str]:
    """A writer of export rows as NDJSON: each response, then its scores' Observations.

    A row is what the analyst export builds (``service.services.exports``): the values of
    its fixed columns, named by ``columns`` (``service.domain.export.fixed_columns``), then
    the answers and the scores. Values are taken by column name, never by position, so a
    new fixed column cannot shift one into another's place."""
    mappings = {
        v.version: ResponseMapping.of(v, at, include_free_text=include_free_text) for v in versions
    }
    missing = {"study_id", "timepoint", "version", "instrument_hash", "response_id"} - set(columns)
    if missing:
        raise ValueError(f"an export row for FHIR needs the columns {sorted(missing)}")

    def write(records: list[list[Any]]) -> str:
        lines = []
        for record in records:
            *values, answers, scores = record
            if len(values) != len(columns):
                raise ValueError(f"{len(values)} fixed values for {len(columns)} columns")
            fixed = dict(zip(columns, values, strict=True))
            row = ResponseRow(
                id=fixed["response_id"],
                subject=fixed["study_id"],
                subject_system=subject_system,
                timepoint=fixed["timepoint"],
                instrument_hash=fixed["instrument_hash"],
                authored=fixed.get("submitted_at", fixed.get("submitted_on")),
                answers=answers,
                scores=scores,
                consent_version=fixed.get("consent_version"),
            )
            mapping = mappings[fixed["version"]]
            for resource in (
                questionnaire_response(mapping, row),
                *score_observations(mapping, row),
            ):
                lines.append(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        return "\n".join(lines) + "\n"

    return write


# --- consent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentEvent:
    """One consent-log event, with the form in force for it and whether it still is."""

    seq: int
    hash: str
    recorded_at: str
    study_id: str
    type: str  # consent or withdrawal
    form: Instrument | None  # the form signed (for a withdrawal: the one it withdraws from)
    clauses: Mapping[str, bool]  # the clauses in force after the event
    scope: str | None  # a withdrawal's scope
    in_force: bool  # no later signing or withdrawal has replaced it


def consent_resource_id(seq: int) -> str:
    return f"consent-log-{seq}"


def consent(event: ConsentEvent, at: FhirBase) -> dict[str, Any]:
    """A consent-log event as a Consent: 'active' while it is the consent in force."""
    stops = event.type == "withdrawal" and event.scope != "no-further-contact"
    extensions: list[dict[str, Any]] = []
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_resource_id(event.seq),
        "identifier": [
            {"system": f"{at.base}/consent-log/seq", "value": str(event.seq)},
            {"system": f"{at.base}/consent-log/hash", "value": event.hash},
        ],
        "status": "active" if event.in_force and not stops else "inactive",
        "scope": CONSENT_SCOPE,
        "category": CONSENT_CATEGORY,
        "patient": {"identifier": {"system": at.study_id_system, "value": event.study_id}},
        "dateTime": event.recorded_at,
    }
    if event.scope is not None:
        extensions.append({"url": at.extension(EXT_WITHDRAWAL), "valueCode": event.scope})
    form = event.form
    if form is not None:
        canonical = f"{at.questionnaire_url(form.id)}|{form.version}"
        resource["policy"] = [{"uri": canonical}]  # what was agreed to: this form version
        extensions.append({"url": at.extension(EXT_CONSENT_FORM), "valueCanonical": canonical})
        resource["sourceReference"] = {
            "identifier": {"system": at.sha256_system, "value": form.sha256},
            "display": f"{form.title}, version {form.version} ({canonical})",
        }
    if extensions:
        resource["extension"] = extensions
    else:  # a Consent names a policy or a rule (invariant ppc-1)
        resource["policyRule"] = {"text": "the consent form in force when the event was logged"}
    if stops:
        resource["provision"] = {"type": "deny"}
    elif form is not None:
        system = at.questionnaire_url(form.id)
        resource["provision"] = {
            "type": "permit",
            "provision": [
                {
                    "type": "permit" if event.clauses.get(clause.id) is True else "deny",
                    "code": [
                        {"coding": [{"system": system, "code": clause.id, "display": clause.text}]}
                    ],
                }
                for clause in form.items
            ],
        }
    return resource
