"""Scores, consent events and errors as FHIR resources, each validated by fhir.resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from service.domain.export import fixed_columns
from service.domain.fhir import FhirBase
from service.domain.fhir_data import (
    ConsentEvent,
    ResponseMapping,
    ResponseRow,
    consent,
    fhir_lines,
    questionnaire_response,
    score_observations,
)
from service.domain.fhir_server import operation_outcome
from service.domain.instruments import parse_instrument

AT = FhirBase("https://study.example.org/fhir/r4")
PCL5 = parse_instrument(json.loads(Path("instruments/pcl-5/1.0.0.json").read_text()))
FORM = parse_instrument(json.loads(Path("instruments/consent/1.0.0.json").read_text()))


def row(scores: list[dict[str, Any]], answers: dict[str, Any] | None = None) -> ResponseRow:
    return ResponseRow(
        id="5b7e3c1a-0d7e-4f53-9c44-0c7f3a0b9e21",
        subject="PSAM-7K3M9QXR-4",
        subject_system=AT.study_id_system,
        timepoint="baseline",
        instrument_hash=PCL5.sha256,
        authored="2026-11-25",
        answers=answers or {},
        scores=scores,
    )


@pytest.mark.parametrize(
    ("value", "element"),
    [(12, "valueInteger"), (1.75, "valueQuantity"), (True, "valueBoolean"), (None, None)],
)
def test_every_kind_of_score_value_is_a_valid_observation(value: Any, element: Any) -> None:
    score = {"id": "pcl5_total", "label": "PCL-5 total", "value": value, "band": None}
    (observation,) = score_observations(
        ResponseMapping.of(PCL5, AT, include_free_text=False), row([score])
    )
    Observation.model_validate(observation)
    if element is None:
        assert observation["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    else:
        assert element in observation
    assert observation["derivedFrom"] == [
        {"reference": "QuestionnaireResponse/5b7e3c1a-0d7e-4f53-9c44-0c7f3a0b9e21"}
    ]
    assert observation["effectiveDateTime"] == "2026-11-25"


def test_a_response_carries_codings_in_its_choice_set_and_leaves_unanswered_items_out() -> None:
    mapping = ResponseMapping.of(PCL5, AT, include_free_text=False)
    resource = questionnaire_response(mapping, row([], {"pcl5_1": 3}))
    QuestionnaireResponse.model_validate(resource)
    (item,) = resource["item"]
    coding = item["answer"][0]["valueCoding"]
    assert coding["system"] == AT.choice_system("pcl-5", "severity5")
    assert (coding["code"], coding["version"]) == ("3", "1.0.0")


@pytest.mark.parametrize(
    ("kind", "scope", "in_force", "status"),
    [
        ("consent", None, True, "active"),
        ("consent", None, False, "inactive"),
        ("withdrawal", "no-further-contact", True, "active"),
        ("withdrawal", "stop", True, "inactive"),
        ("withdrawal", "stop-and-erase", True, "inactive"),
    ],
)
def test_every_kind_of_consent_event_is_a_valid_consent(
    kind: str, scope: str | None, in_force: bool, status: str
) -> None:
    clauses = {c.id: not c.contact for c in FORM.items}
    event = ConsentEvent(
        7,
        "ab" * 32,
        "2026-11-25T10:00:00Z",
        "PSAM-7K3M9QXR-4",
        kind,
        FORM,
        clauses,
        scope,
        in_force,
    )
    resource = consent(event, AT)
    Consent.model_validate(resource)
    assert resource["status"] == status
    if scope in ("stop", "stop-and-erase"):
        assert resource["provision"] == {"type": "deny"}
    else:
        types = {
            p["code"][0]["coding"][0]["code"]: p["type"] for p in resource["provision"]["provision"]
        }
        assert types == {c: ("permit" if ok else "deny") for c, ok in clauses.items()}


def test_an_error_with_fields_is_one_issue_per_field() -> None:
    outcome = operation_outcome(
        422, "Validation failed", "Not acceptable", {"a": ["x"], "b": ["y", "z"]}
    )
    OperationOutcome.model_validate(outcome)
    assert [i["expression"] for i in outcome["issue"]] == [["a"], ["b"], ["b"]]


@pytest.mark.parametrize("pseudonyms", ["study-id", "per-export"])
@pytest.mark.parametrize("submitted", ["time", "day", "none"])
def test_export_rows_map_by_column_name_whatever_columns_the_export_has(
    pseudonyms: str, submitted: str
) -> None:
    columns = [c.name for c in fixed_columns(pseudonyms, submitted)]
    values = {
        "study_id": "PX-SUBJECT",
        "timepoint": "week-6",
        "instrument": PCL5.id,
        "version": PCL5.version,
        "instrument_hash": PCL5.sha256,
        "consent_version": "1.1.0",
        "response_id": "RX-RESPONSE",
        "submitted_at": "2026-11-25T10:11:12Z",
        "submitted_on": "2026-11-25",
    }
    score = {"id": "pcl5_total", "label": "PCL-5 total", "value": 3, "band": None}
    write = fhir_lines(
        AT, [PCL5], columns=columns, subject_system=AT.study_id_system, include_free_text=False
    )
    record = [values[name] for name in columns] + [{"pcl5_1": 3}, [score]]
    response, observation = (json.loads(line) for line in write([record]).splitlines())
    QuestionnaireResponse.model_validate(response)
    Observation.model_validate(observation)
    assert response["id"] == "RX-RESPONSE"
    assert response["subject"]["identifier"]["value"] == "PX-SUBJECT"
    assert observation["derivedFrom"] == [{"reference": "QuestionnaireResponse/RX-RESPONSE"}]
    carried = {e["url"].rpartition("/")[2]: e["valueString"] for e in response["extension"]}
    assert carried == {
        "psam-timepoint": "week-6",
        "psam-definition-sha256": PCL5.sha256,
        "psam-consent-version": "1.1.0",
    }
    when = {"time": "2026-11-25T10:11:12Z", "day": "2026-11-25", "none": None}[submitted]
    assert response.get("authored") == observation.get("effectiveDateTime") == when
    with pytest.raises(ValueError, match="fixed values"):
        write([[*record[1:]]])


def test_a_response_without_a_known_consent_version_names_none() -> None:
    response = questionnaire_response(
        ResponseMapping.of(PCL5, AT, include_free_text=False), row([])
    )
    assert not any(e["url"].endswith("psam-consent-version") for e in response["extension"])
