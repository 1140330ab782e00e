"""Analyst exports: values round-trip, consent and erasure rules, pseudonyms, manifests."""

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Participant, Response
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from tests.conftest import ask_also, valid_signature

Headers = dict[str, str]

ALL_TYPES = {
    "id": "all-types",
    "version": "1.0.0",
    "kind": "questionnaire",
    "title": "Every item type",
    "language": "en-GB",
    "source": "test",
    "choice_sets": {
        "yn3": [
            {"code": 0, "label": "No"},
            {"code": 1, "label": "Maybe"},
            {"code": 2, "label": "Yes"},
        ],
        "kinds": [
            {"code": 1, "label": "Phone"},
            {"code": 2, "label": "Group"},
            {"code": 3, "label": "Forum"},
        ],
    },
    "items": [
        {"id": "t_choice", "text": "Choice", "type": "choice", "choices": "yn3", "required": True},
        {
            "id": "t_multi",
            "text": "Multi",
            "type": "multi_choice",
            "choices": "kinds",
            "required": True,
        },
        {
            "id": "t_int",
            "text": "Integer",
            "type": "integer",
            "min": 0,
            "max": 99,
            "required": True,
        },
        {
            "id": "t_dec",
            "text": "Decimal",
            "type": "decimal",
            "min": 0,
            "max": 10,
            "required": True,
        },
        {"id": "t_text", "text": "Free text", "type": "text", "required": False},
        {"id": "t_date", "text": "Date", "type": "date", "required": True},
        {"id": "t_bool", "text": "Boolean", "type": "boolean", "required": True},
        {"id": "t_email", "text": "Email", "type": "text", "required": False, "identifying": True},
    ],
    "scores": [
        {
            "id": "t_sum",
            "label": "Sum",
            "method": "sum",
            "items": ["t_choice", "t_int"],
            "participant_visible": False,
        }
    ],
    "alerts": [],
}
V1_ANSWERS = {
    "t_choice": 2,
    "t_multi": [1, 3],
    "t_int": 7,
    "t_dec": 2.5,
    "t_text": 'Kind, "quoted"\nwords',
    "t_date": "2026-01-02",
    "t_bool": True,
    "t_email": "x@example.org",
}
V2_ANSWERS = {**V1_ANSWERS, "t_choice": 0, "t_multi": [2], "t_bool": False, "t_new": 4}


@pytest.fixture
def two_versions(session: Session, instruments_copy: Path) -> None:
    """all-types 1.0.0 asked at baseline, 1.1.0 (one more item) at 3 months."""
    folder = instruments_copy / "all-types"
    folder.mkdir()
    (folder / "1.0.0.json").write_text(json.dumps(ALL_TYPES))
    v2 = json.loads(json.dumps(ALL_TYPES))
    v2["version"] = "1.1.0"
    v2["items"].append({"id": "t_new", "text": "New", "type": "integer", "required": False})
    (folder / "1.1.0.json").write_text(json.dumps(v2))
    ask_also(instruments_copy, (0, "all-types", "1.0.0"), (1, "all-types", "1.1.0"))
    report = sync_definitions(session, load_definitions(instruments_copy))
    assert "all-types 1.1.0" in report.added and not report.refused


@pytest.fixture
def people(client: FlaskClient, auth, session: Session, two_versions) -> dict:
    """Four consented participants: A (future research yes), B (no, answers v1.1.0 at three
    months), C (erased), D (stopped). Each submits all-types."""
    researcher = auth("researcher")
    out = {}
    for name, future in (("A", True), ("B", False), ("C", True), ("D", True)):
        made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
        me = {"Authorization": f"Bearer {made['token']}"}
        body = valid_signature(client)
        body["clauses"]["c_future_research"] = future
        assert client.post("/api/v1/me/consent", json=body, headers=me).status_code == 201
        out[name] = (made["study_id"], me)
    submit = {
        "instrument": "all-types",
        "version": "1.0.0",
        "timepoint": "baseline",
        "answers": V1_ANSWERS,
        "submit": True,
    }
    for name in ("A", "C", "D"):
        assert (
            client.post("/api/v1/me/responses", json=submit, headers=out[name][1]).status_code
            == 201
        )
    b_id, b_me = out["B"]
    person = session.scalars(select(Participant).where(Participant.study_id == b_id)).one()
    person.enrolled_at -= dt.timedelta(days=90)
    session.commit()
    later = {**submit, "version": "1.1.0", "timepoint": "month-3", "answers": V2_ANSWERS}
    assert client.post("/api/v1/me/responses", json=later, headers=b_me).status_code == 201
    client.post("/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=out["C"][1])
    client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=out["D"][1])
    return out


def export(client: FlaskClient, analyst: Headers, query: str):
    response = client.get(
        f"/api/v1/exports/responses?instrument=all-types&{query}", headers=analyst
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_values_round_trip_across_two_versions_in_one_export(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    response = export(client, analyst, "include_free_text=true")
    assert response.mimetype == "text/csv"
    rows = {r["study_id"]: r for r in rows_of(response)}
    a_id, b_id = people["A"][0], people["B"][0]
    assert rows[a_id]["version"] == "1.0.0" and rows[b_id]["version"] == "1.1.0"
    a = rows[a_id]
    assert (a["t_choice"], a["t_int"], a["t_dec"], a["t_date"], a["t_bool"]) == (
        "2",
        "7",
        "2.5",
        "2026-01-02",
        "1",
    )
    assert (a["t_multi___1"], a["t_multi___2"], a["t_multi___3"]) == ("1", "0", "1")
    assert a["t_text"] == V1_ANSWERS["t_text"] and a["t_sum"] == "9"
    assert a["t_new"] == ""  # a column of the later version only
    b = rows[b_id]
    assert (b["t_choice"], b["t_bool"], b["t_multi___2"], b["t_new"]) == ("0", "0", "1", "4")
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header[:8] == [
        "study_id",
        "timepoint",
        "instrument",
        "version",
        "instrument_hash",
        "consent_version",
        "response_id",
        "submitted_at",
    ]
    assert header.index("t_new") > header.index("t_bool") and "t_email" not in header

    ndjson = export(client, analyst, "format=ndjson&include_free_text=true&labels=true")
    records = {
        r["study_id"]: r for r in map(json.loads, ndjson.get_data(as_text=True).splitlines())
    }
    assert records[a_id]["t_choice"] == "Yes" and records[a_id]["t_dec"] == 2.5
    assert records[a_id]["t_bool"] is True and records[b_id]["t_new"] == 4


def test_erased_are_absent_stopped_remain_and_the_consent_filter_applies(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    everyone = {r["study_id"] for r in rows_of(export(client, analyst, ""))}
    assert everyone == {people["A"][0], people["B"][0], people["D"][0]}
    future = rows_of(export(client, analyst, "consent_clause=c_future_research"))
    assert {r["study_id"] for r in future} == {people["A"][0], people["D"][0]}
    only_v1 = rows_of(export(client, analyst, "version=1.0.0"))
    assert {r["version"] for r in only_v1} == {"1.0.0"}
    bad = client.get(
        "/api/v1/exports/responses?instrument=all-types&consent_clause=c_nope", headers=analyst
    )
    assert bad.status_code == 422 and "consent_clause" in bad.get_json()["errors"]


def test_free_text_only_on_request_and_identifying_items_never(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    plain = export(client, analyst, "").get_data(as_text=True)
    assert "t_text" not in plain.splitlines()[0] and "quoted" not in plain
    both = export(client, analyst, "include_free_text=true").get_data(as_text=True)
    assert "t_email" not in both and "x@example.org" not in both


def test_two_pseudonymised_exports_share_no_column_that_joins_them(
    client: FlaskClient, auth, people: dict, session: Session
) -> None:
    analyst = auth("analyst")
    first = rows_of(export(client, analyst, "pseudonyms=per-export"))
    second = rows_of(export(client, analyst, "pseudonyms=per-export"))
    assert len(first) == len(second) == 3
    # Shared by design: what was asked, when in the protocol. Nothing else may be.
    shared = {"timepoint", "instrument", "version", "instrument_hash"}
    for column in ("study_id", "response_id"):
        assert not {r[column] for r in first} & {r[column] for r in second}, column
    assert set(first[0]) & {"study_id", "response_id", "submitted_on"} == {
        "study_id",
        "response_id",
        "submitted_on",
    }
    assert "submitted_at" not in first[0]
    # The response ids a researcher sees map to study IDs: none may be in the file.
    real_ids = {str(r.id) for r in session.scalars(select(Response))}
    study_ids = {people[n][0] for n in "ABCD"}
    for rows in (first, second):
        text_of_fixed = {r[c] for r in rows for c in r if c not in shared}
        assert not text_of_fixed & (real_ids | study_ids)
        assert all(r["study_id"].startswith("PX-") for r in rows)
        assert all(r["response_id"].startswith("RX-") for r in rows)
        assert len({r["study_id"] for r in rows}) == 3  # one per participant here
        # The day only, and rows in the order of the response pseudonym, not of time.
        assert all(dt.date.fromisoformat(r["submitted_on"]) for r in rows)
        assert [r["response_id"] for r in rows] == sorted(r["response_id"] for r in rows)


def test_a_pseudonymised_export_refuses_the_exact_time_and_can_leave_the_day_out(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    refused = client.get(
        "/api/v1/exports/responses?instrument=all-types&pseudonyms=per-export&submitted=time",
        headers=analyst,
    )
    assert refused.status_code == 422 and "submitted" in refused.get_json()["errors"]
    no_time = export(client, analyst, "pseudonyms=per-export&submitted=none&format=ndjson")
    records = [json.loads(line) for line in no_time.get_data(as_text=True).splitlines()]
    assert len(records) == 3
    assert all(not {"submitted_at", "submitted_on"} & set(r) for r in records)
    by_study_id = rows_of(export(client, analyst, ""))
    assert all(r["submitted_at"].endswith("Z") and "." in r["submitted_at"] for r in by_study_id)
    a_day = rows_of(export(client, analyst, "submitted=day"))
    assert {r["submitted_on"] for r in a_day} == {r["submitted_at"][:10] for r in by_study_id}


def test_the_codebook_describes_the_fixed_columns_as_each_kind_of_export_writes_them(
    client: FlaskClient, auth, two_versions
) -> None:
    analyst = auth("analyst")
    url = "/api/v1/exports/codebook?instrument=all-types"
    plain = client.get(url, headers=analyst).get_json()
    names = [c["name"] for c in plain["fixed_columns"]]
    assert names[-2:] == ["response_id", "submitted_at"]
    pseudonymised = client.get(f"{url}&pseudonyms=per-export", headers=analyst).get_json()
    fixed = {c["name"]: c for c in pseudonymised["fixed_columns"]}
    assert fixed["submitted_on"]["type"] == "date" and "submitted_at" not in fixed
    assert "RX-" in fixed["response_id"]["note"] and "PX-" in fixed["study_id"]["note"]
    none = client.get(f"{url}&pseudonyms=per-export&submitted=none", headers=analyst).get_json()
    assert [c["name"] for c in none["fixed_columns"]][-1] == "response_id"
    as_csv = client.get(f"{url}&pseudonyms=per-export&format=csv", headers=analyst)
    table = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert "submitted_on" in {r["column"] for r in table if r["version"] == ""}


def test_the_manifest_records_the_exact_bytes_and_the_access_log_the_export(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    response = export(client, analyst, "format=csv")
    body = response.get_data()
    export_id = response.headers["X-Export-Id"]
    manifest = client.get(f"/api/v1/exports/{export_id}", headers=analyst).get_json()
    assert manifest["status"] == "complete" and manifest["row_count"] == 3
    assert manifest["skipped_count"] == 0 and manifest["skipped"] == []
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert [v["version"] for v in manifest["versions"]] == ["1.0.0", "1.1.0"]
    assert manifest["actor"]["kind"] == "staff" and set(manifest["actor"]) == {"kind", "token_id"}
    # Read from the primary (no standby set), complete up to a time the manifest and the
    # headers agree on, and no later than the export's end.
    assert manifest["read_from"] == response.headers["X-Export-Read-From"] == "primary"
    as_of = dt.datetime.fromisoformat(response.headers["X-Export-Data-As-Of"])
    assert dt.datetime.fromisoformat(manifest["data_as_of"]) == as_of.replace(microsecond=0)
    assert as_of.replace(microsecond=0) <= dt.datetime.fromisoformat(manifest["completed_at"])
    listed = client.get("/api/v1/exports", headers=analyst).get_json()["exports"]
    assert listed[0]["id"] == export_id
    log = client.get("/api/v1/audit/access-log?limit=1000", headers=auth("auditor")).get_json()
    ours = [e["event"] for e in log["entries"] if e["event"]["filters"].get("export") == export_id]
    assert [e["action"] for e in ours] == [
        "export.responses.start",
        "export.responses",
        "export.manifest.read",
    ]
    assert ours[1]["rows"] == 3


def test_an_abandoned_stream_is_recorded_as_aborted(
    client: FlaskClient, auth, people: dict
) -> None:
    analyst = auth("analyst")
    response = client.get("/api/v1/exports/responses?instrument=all-types", headers=analyst)
    chunks = iter(response.response)
    next(chunks)  # the header row, then the client goes away
    response.close()
    manifest = client.get(
        f"/api/v1/exports/{response.headers['X-Export-Id']}", headers=analyst
    ).get_json()
    assert manifest["status"] == "aborted" and manifest["sha256"] is None


def test_the_codebook_describes_every_column_per_version(
    client: FlaskClient, auth, two_versions
) -> None:
    analyst = auth("analyst")
    book = client.get("/api/v1/exports/codebook?instrument=all-types", headers=analyst).get_json()
    v1, v2 = book["versions"]
    assert (v1["version"], v2["version"]) == ("1.0.0", "1.1.0") and len(v1["sha256"]) == 64
    columns = {c["name"]: c for c in v1["columns"]}
    assert columns["t_choice"]["codes"] == [
        {"code": 0, "label": "No"},
        {"code": 1, "label": "Maybe"},
        {"code": 2, "label": "Yes"},
    ]
    assert columns["t_multi___3"]["type"] == "binary" and "t_email" not in columns
    assert "t_new" in {c["name"] for c in v2["columns"]}
    assert v1["scores"][0]["items"] == ["t_choice", "t_int"]
    as_csv = client.get("/api/v1/exports/codebook?instrument=all-types&format=csv", headers=analyst)
    table = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert {r["column"] for r in table if r["version"] == "1.1.0"} >= {"t_new", "t_sum"}


def test_unknown_instruments_and_versions_are_refused(client: FlaskClient, auth) -> None:
    analyst = auth("analyst")
    missing = client.get("/api/v1/exports/responses?instrument=nope", headers=analyst)
    assert missing.status_code == 404
    version = client.get(
        "/api/v1/exports/responses?instrument=phq-9&version=9.9.9", headers=analyst
    )
    assert version.status_code == 422 and "version" in version.get_json()["errors"]
    consent = client.get("/api/v1/exports/responses?instrument=consent", headers=analyst)
    assert consent.status_code == 422


def test_head_of_an_export_is_a_405_and_begins_nothing(
    client: FlaskClient, auth, session: Session
) -> None:
    """A HEAD's body is never read, so a stream begun for it would never end: no manifest,
    no access event, no transaction left open; GET is named instead."""
    from service.models import AccessLogEntry, ExportManifest

    analyst = auth("analyst")
    manifests = len(session.scalars(select(ExportManifest)).all())
    events = len(session.scalars(select(AccessLogEntry)).all())
    for path in (
        "/api/v1/exports/responses?instrument=phq-9",
        "/api/v1/exports/quotes",
        "/fhir/r4/QuestionnaireResponse/$export?instrument=phq-9",
    ):
        head = client.head(path, headers=analyst)
        assert head.status_code == 405, path
        assert head.headers["Allow"] == "GET", path
    assert len(session.scalars(select(ExportManifest)).all()) == manifests
    assert len(session.scalars(select(AccessLogEntry)).all()) == events
    assert (
        client.get("/api/v1/exports/responses?instrument=phq-9", headers=analyst).status_code == 200
    )
