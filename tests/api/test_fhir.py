"""The FHIR R4 face: every resource it produces is parsed and validated by fhir.resources.

fhir.resources (a test dependency only) ships FHIR R4B models and no R4 ones; R4B changed
none of the elements these resources use, so its models stand for R4 here. They check
structure, types and cardinality; value sets and invariants are not theirs to check, so the
tests below assert the codes that matter themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.fhir import SERVED
from service.domain.fhir import FhirBase, questionnaire
from service.domain.i18n import render
from service.domain.instruments import parse_instrument, version_key
from service.models import ExportManifest, Response
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from tests.api.test_exports import ALL_TYPES, V1_ANSWERS
from tests.conftest import ask_also, valid_signature

MODELS: dict[str, Any] = {
    "Questionnaire": Questionnaire,
    "QuestionnaireResponse": QuestionnaireResponse,
    "Observation": Observation,
    "Consent": Consent,
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "OperationOutcome": OperationOutcome,
}
# Every definition file, as (id, version): each is published by the suite's catalogue sync.
FILES = sorted((p.parent.name, p.stem) for p in Path("instruments").glob("*/*.json"))
CANARY_NAME = "Canary Fhir Person 5521"

# Every item type, with skip logic FHIR says natively ('>' on a choice as '=' codings, '!='
# as 'exists' and '!='), and one it cannot (a nested group), which goes by our extension.
COHORT = json.loads(json.dumps(ALL_TYPES))
COHORT["id"] = "fhir-cohort"
COHORT["preamble"] = "About the questions below."
COHORT["items"][0]["help"] = "Pick the closest."
COHORT["items"] += [
    {
        "id": "t_follow",
        "text": "How many?",
        "type": "integer",
        "required": False,
        "enable_when": {"item": "t_choice", "op": ">", "value": 0},
    },
    {
        "id": "t_note",
        "text": "Anything else?",
        "type": "decimal",
        "required": False,
        "enable_when": {
            "all": [
                {"item": "t_int", "op": "!=", "value": 3},
                {"item": "t_bool", "op": "==", "value": True},
            ]
        },
    },
    {
        "id": "t_nested",
        "text": "Nested",
        "type": "boolean",
        "required": False,
        "enable_when": {
            "any": [
                {"all": [{"item": "t_multi", "op": "includes", "value": 2}]},
                {"item": "t_date", "op": "answered"},
            ]
        },
    },
]
COHORT_ANSWERS = {**V1_ANSWERS, "t_follow": 3, "t_note": 1.5, "t_nested": False}


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse a resource with its fhir.resources model (raises on any structural fault)."""
    MODELS[resource["resourceType"]].model_validate(resource)
    return resource


def fhir_json(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return validated(response.get_json())


@pytest.fixture
def cohort(client: FlaskClient, auth, session: Session, instruments_copy: Path) -> dict:
    """fhir-cohort asked at baseline; A and B answer it and PHQ-9 (A with phq9_10 skipped),
    B withdraws ('stop'), C answers and is erased, D signs, then says no further contact."""
    folder = instruments_copy / "fhir-cohort"
    folder.mkdir()
    (folder / "1.0.0.json").write_text(json.dumps(COHORT))
    ask_also(instruments_copy, (0, "fhir-cohort", "1.0.0"))
    report = sync_definitions(session, load_definitions(instruments_copy))
    assert "fhir-cohort 1.0.0" in report.added
    researcher = auth("researcher")
    people: dict[str, Any] = {}
    for name in "ABCD":
        made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
        me = {"Authorization": f"Bearer {made['token']}"}
        body = valid_signature(client, typed_name=CANARY_NAME)
        assert client.post("/api/v1/me/consent", json=body, headers=me).status_code == 201
        people[name] = (made["study_id"], me)
    for name in "ABC":
        me = people[name][1]
        for instrument, answers in (
            ("fhir-cohort", COHORT_ANSWERS),
            ("phq-9", {f"phq9_{i}": 0 for i in range(1, 10)} if name == "A" else None),
        ):
            if answers is None:
                answers = {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}
            submitted = {
                "instrument": instrument,
                "version": "1.0.0",
                "timepoint": "baseline",
                "answers": answers,
                "submit": True,
            }
            response = client.post("/api/v1/me/responses", json=submitted, headers=me)
            assert response.status_code == 201, response.get_data(as_text=True)
    for name, scope in (("B", "stop"), ("C", "stop-and-erase"), ("D", "no-further-contact")):
        withdrawn = client.post(
            "/api/v1/me/withdrawal", json={"scope": scope}, headers=people[name][1]
        )
        assert withdrawn.status_code in (200, 201), withdrawn.get_data(as_text=True)
    return {name: study_id for name, (study_id, _) in people.items()}


def export_lines(client: FlaskClient, analyst: dict[str, str], query: str) -> list[dict]:
    response = client.get(f"/fhir/r4/QuestionnaireResponse/$export?{query}", headers=analyst)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+ndjson"
    return [validated(json.loads(line)) for line in response.get_data(as_text=True).splitlines()]


def canonical(app: Flask, instrument_id: str) -> str:
    return f"{app.config['PSAM_PUBLIC_URL']}/fhir/r4/Questionnaire/{instrument_id}"


@pytest.mark.parametrize(("instrument_id", "version"), FILES)
def test_every_published_instrument_is_a_valid_questionnaire_that_imports_back_unchanged(
    client: FlaskClient, app: Flask, tmp_path: Path, instrument_id: str, version: str
) -> None:
    url = f"{canonical(app, instrument_id)}|{version}"
    found = fhir_json(client.get("/fhir/r4/Questionnaire", query_string={"url": url}))
    (entry,) = found["entry"]
    q = validated(entry["resource"])
    by_version = f"/fhir/r4/Questionnaire/{instrument_id}/_history/{version}"
    assert fhir_json(client.get(by_version)) == q
    definition = json.loads(Path(f"instruments/{instrument_id}/{version}.json").read_text())
    if "languages" in definition:  # FHIR carries the default language's texts only
        definition = render(definition, definition["languages"][0])
        del definition["translation"]
    assert (q["url"], q["version"], q["status"]) == (
        canonical(app, instrument_id),
        version,
        "active",
    )
    assert q["copyright"] == definition["source"]
    questions = [i for i in q["item"] if i["type"] != "display"]
    assert [i["linkId"] for i in questions] == [i["id"] for i in definition["items"]]
    assert [i["required"] for i in questions] == [i["required"] for i in definition["items"]]
    if definition.get("preamble"):
        assert q["item"][0] == {
            "linkId": "preamble-text",
            "type": "display",
            "text": definition["preamble"],
        }
    source = tmp_path / "q.json"
    source.write_text(json.dumps(q))
    out = tmp_path / "draft.json"
    result = app.test_cli_runner().invoke(
        args=["instruments", "import-fhir", str(source), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == definition  # items, codes, skip logic, scores


@pytest.mark.parametrize("instrument_id", sorted({i for i, _ in FILES}))
def test_reading_a_questionnaire_gives_its_newest_version(
    client: FlaskClient, instrument_id: str
) -> None:
    q = fhir_json(client.get(f"/fhir/r4/Questionnaire/{instrument_id}"))
    newest = max((v for i, v in FILES if i == instrument_id), key=version_key)
    assert (q["id"], q["version"]) == (instrument_id, newest)


def test_choices_are_codings_with_their_weight_and_skip_logic_is_enable_when() -> None:
    url = "https://study.example.org/fhir/r4/Questionnaire/phq-9|1.0.0"
    q = questionnaire(
        parse_instrument(json.loads(Path("instruments/phq-9/1.0.0.json").read_text())),
        FhirBase("https://study.example.org/fhir/r4"),
        "2026-11-26T00:00:00Z",
    )
    assert f"{q['url']}|{q['version']}" == url
    validated(q)
    first = next(i for i in q["item"] if i["linkId"] == "phq9_1")
    option = first["answerOption"][2]["valueCoding"]
    assert option["system"].endswith("/Questionnaire/phq-9/choices/freq4")
    assert (option["code"], option["display"]) == ("2", "More than half the days")
    assert option["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 2}
    ]
    last = next(i for i in q["item"] if i["linkId"] == "phq9_10")
    assert last["enableBehavior"] == "any"
    assert len(last["enableWhen"]) == 27  # 9 items x the 3 codes above 0
    assert {w["answerCoding"]["code"] for w in last["enableWhen"]} == {"1", "2", "3"}


def test_questionnaire_search_by_url_and_version(client: FlaskClient, app: Flask) -> None:
    url = canonical(app, "gad-7")
    found = fhir_json(client.get("/fhir/r4/Questionnaire", query_string={"url": url}))
    versions = sorted((v for i, v in FILES if i == "gad-7"), key=version_key)
    assert [e["resource"]["version"] for e in found["entry"]] == versions
    pinned = fhir_json(client.get("/fhir/r4/Questionnaire", query_string={"url": url + "|1.0.0"}))
    assert pinned["total"] == 1
    for query in ({"url": url, "version": "9.9.9"}, {"url": "https://elsewhere.example/x"}):
        none = fhir_json(client.get("/fhir/r4/Questionnaire", query_string=query))
        assert none["total"] == 0 and "entry" not in none
    everything = fhir_json(client.get("/fhir/r4/Questionnaire"))
    listed = sorted((e["resource"]["id"], e["resource"]["version"]) for e in everything["entry"])
    assert listed == FILES


def test_the_cohort_exports_as_valid_responses_and_observations_without_the_erased(
    client: FlaskClient, auth, cohort: dict, session: Session
) -> None:
    analyst = auth("analyst")
    q = fhir_json(client.get("/fhir/r4/Questionnaire/fhir-cohort"))
    by_link = {i["linkId"]: i for i in q["item"]}
    assert (
        by_link["t_multi"]["repeats"] is True
        and by_link["t_choice"]["item"][0]["type"] == "display"
    )
    assert by_link["t_note"]["enableBehavior"] == "all"
    assert [w["operator"] for w in by_link["t_note"]["enableWhen"]] == ["exists", "!=", "="]
    assert "enableWhen" not in by_link["t_nested"]  # nested: our extension carries it
    assert by_link["t_nested"]["extension"][0]["url"].endswith("psam-enable-when")

    lines = export_lines(client, analyst, "instrument=fhir-cohort&include_free_text=true")
    responses = [r for r in lines if r["resourceType"] == "QuestionnaireResponse"]
    subjects = {r["subject"]["identifier"]["value"] for r in responses}
    assert subjects == {cohort["A"], cohort["B"]}  # C erased, D never answered
    # Each fixed column lands in its own place: the response's id, its time, the consent form
    # version in force when it was submitted.
    stored = {str(i) for i in session.scalars(select(Response.id))}
    assert len({r["id"] for r in responses}) == 2 and {r["id"] for r in responses} <= stored
    assert all(len(r["authored"]) > 10 for r in responses)  # a time, not only a day
    in_force = client.get("/api/v1/consent/form").get_json()["version"]
    for r in responses:
        carried = {e["url"].rpartition("/")[2]: e["valueString"] for e in r["extension"]}
        assert carried["psam-consent-version"] == in_force
        assert carried["psam-timepoint"] == "baseline"
    answers = {i["linkId"]: i["answer"] for i in responses[0]["item"]}
    assert "t_email" not in answers  # identifying: never exported
    assert [a["valueCoding"]["code"] for a in answers["t_multi"]] == ["1", "3"]
    assert answers["t_dec"] == [{"valueDecimal": 2.5}] and answers["t_date"] == [
        {"valueDate": "2026-01-02"}
    ]
    assert answers["t_text"] == [{"valueString": V1_ANSWERS["t_text"]}]
    observations = [r for r in lines if r["resourceType"] == "Observation"]
    assert len(observations) == 2
    for observation in observations:
        derived = observation["derivedFrom"][0]["reference"]
        assert derived in {f"QuestionnaireResponse/{r['id']}" for r in responses}
        assert observation["valueInteger"] == 9  # t_choice 2 + t_int 7

    phq = export_lines(client, analyst, "instrument=phq-9")
    a_response = next(
        r for r in phq if r.get("subject", {}).get("identifier", {}).get("value") == cohort["A"]
    )
    assert "phq9_10" not in {i["linkId"] for i in a_response["item"]}  # skipped
    without_text = export_lines(client, analyst, "instrument=fhir-cohort")
    assert all(i["linkId"] != "t_text" for r in without_text for i in r.get("item", []))
    manifests = session.scalars(select(ExportManifest).where(ExportManifest.format == "fhir"))
    assert {m.status for m in manifests} == {"complete"}


def test_a_pseudonymised_export_names_no_study_id_and_no_exact_time(
    client: FlaskClient, auth, cohort: dict
) -> None:
    response = client.get(
        "/fhir/r4/QuestionnaireResponse/$export?instrument=fhir-cohort&pseudonyms=per-export",
        headers=auth("analyst"),
    )
    raw = response.get_data()
    for study_id in cohort.values():
        assert study_id.encode() not in raw
    lines = [validated(json.loads(line)) for line in raw.decode().splitlines()]
    assert {r["resourceType"] for r in lines} == {"QuestionnaireResponse", "Observation"}
    for resource in lines:
        if resource["resourceType"] == "QuestionnaireResponse":
            assert resource["id"].startswith("RX-")  # the response's pseudonym, not its id
        assert resource["subject"]["identifier"]["value"].startswith("PX-")
        when = resource.get("authored") or resource.get("effectiveDateTime")
        assert when is not None and len(when) == 10  # the day only


def test_consents_are_one_per_event_with_their_status_and_no_name(
    client: FlaskClient, auth, cohort: dict
) -> None:
    auditor = auth("auditor")
    response = client.get("/fhir/r4/Consent?_count=1000", headers=auditor)
    assert CANARY_NAME.encode() not in response.get_data()
    bundle = fhir_json(response)
    consents = [validated(e["resource"]) for e in bundle["entry"]]
    mine = {
        name: [c for c in consents if c["patient"]["identifier"]["value"] == sid]
        for name, sid in cohort.items()
    }
    (a,) = mine["A"]
    assert a["status"] == "active" and a["provision"]["type"] == "permit"
    assert {p["type"] for p in a["provision"]["provision"]} == {"permit"}
    assert (
        a["sourceReference"]["identifier"]["value"]
        == client.get("/api/v1/consent/form").get_json()["sha256"]
    )
    for name in "BC":
        signed, withdrawn = mine[name]
        assert signed["status"] == withdrawn["status"] == "inactive"
        assert withdrawn["provision"] == {"type": "deny"}
    signed, no_contact = mine["D"]
    assert (signed["status"], no_contact["status"]) == ("inactive", "active")
    # Everyone signed the form in force (1.1.0 since amendment 1.1), not the first one.
    in_force = client.get("/api/v1/consent/form").get_json()["version"]
    assert in_force != "1.0.0"
    assert all(
        c["policy"][0]["uri"].endswith(f"/Questionnaire/consent|{in_force}") for c in consents
    )
    denied = {
        p["code"][0]["coding"][0]["code"]
        for p in no_contact["provision"]["provision"]
        if p["type"] == "deny"
    }
    form = json.loads(Path("instruments/consent/1.0.0.json").read_text())
    assert denied == {c["id"] for c in form["items"] if c.get("contact")}
    one = fhir_json(client.get(f"/fhir/r4/Consent/{a['id']}", headers=auditor))
    assert one == a
    paged = fhir_json(client.get("/fhir/r4/Consent?_count=1", headers=auditor))
    assert paged["link"][1]["relation"] == "next" and len(paged["entry"]) == 1
    last = fhir_json(client.get(f"/fhir/r4/Consent?after_seq={2**63 - 2}", headers=auditor))
    assert last["total"] == 0 and "entry" not in last
    far = client.get(f"/fhir/r4/Consent/consent-log-{10**18 - 1}", headers=auditor)
    assert fhir_json(far, 404)["issue"][0]["code"] == "not-found"


def test_the_capability_statement_lists_exactly_what_is_served(
    client: FlaskClient, app: Flask
) -> None:
    statement = fhir_json(client.get("/fhir/r4/metadata"))
    listed = statement["rest"][0]["resource"]
    assert [r["type"] for r in listed] == [s.type for s in SERVED]
    served = {
        rule.rule.removeprefix("/fhir/r4/")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/fhir/r4/")
    }
    expected = {"metadata"}
    for resource in listed:
        codes = {i["code"] for i in resource.get("interaction", [])}
        if "read" in codes:
            reads = [r for r in served if r.startswith(resource["type"] + "/<")]
            expected.add(min(reads, key=len))
        if "vread" in codes:
            expected.add(f"{resource['type']}/<instrument_id>/_history/<version>")
        if "search-type" in codes:
            expected.add(resource["type"])
        for operation in resource.get("operation", []):
            expected.add(f"{resource['type']}/${operation['name']}")
    assert expected == served


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/fhir/r4/Questionnaire/no-such", None, 404, "not-found"),
        ("/fhir/r4/Questionnaire/phq-9/_history/9.9.9", None, 404, "not-found"),
        ("/fhir/r4/Patient", None, 404, "not-found"),
        ("/fhir/r4/Consent", None, 401, "login"),
        ("/fhir/r4/Consent", "analyst", 403, "forbidden"),
        ("/fhir/r4/Consent/consent-log-x", "auditor", 404, "not-found"),
        ("/fhir/r4/Consent?_count=0", "auditor", 422, "invalid"),
        ("/fhir/r4/Questionnaire?_sort=url", None, 422, "invalid"),
        ("/fhir/r4/QuestionnaireResponse/$export", "analyst", 422, "invalid"),
        ("/fhir/r4/QuestionnaireResponse/$export?instrument=consent", "analyst", 422, "invalid"),
    ],
)
def test_errors_are_operation_outcomes_naming_the_fault(
    client: FlaskClient, auth, path: str, headers: str | None, status: int, code: str
) -> None:
    response = client.get(path, headers=auth(headers) if headers else {})
    outcome = fhir_json(response, status)
    assert {i["code"] for i in outcome["issue"]} == {code}
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status == 422:
        assert all(i.get("expression") for i in outcome["issue"])
