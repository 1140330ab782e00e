"""One dataset whatever the language: a mixed-language cohort exports code for code as an
English-only one given the same answers; the language is the last column; labels and the
codebook in each language. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient

from tests.conftest import valid_signature

Headers = dict[str, str]
# Four answer sets to peer-support, each given twice: once in English, once in either language.
ANSWERS = [
    {"ps_kinds": [1, 2], "ps_contacts": 3, "ps_helpfulness": 4, "ps_recommend": True},
    {"ps_kinds": [3], "ps_contacts": 0, "ps_helpfulness": 1, "ps_recommend": False},
    {"ps_kinds": [1, 4, 5], "ps_contacts": 12, "ps_helpfulness": 5, "ps_recommend": True},
    {"ps_kinds": [2], "ps_contacts": 1, "ps_helpfulness": 2, "ps_recommend": False},
]
IDENTITY = ("study_id", "response_id", "submitted_at", "response_language")


def answer(client: FlaskClient, researcher: Headers, answers: dict, lang: str | None) -> str:
    made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
    me = {"Authorization": f"Bearer {made['token']}"}
    signing = valid_signature(client, **({"lang": lang} if lang else {}))
    assert client.post("/api/v1/me/consent", json=signing, headers=me).status_code == 201
    tasks = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    version = next(
        t["version"]
        for t in tasks
        if (t["instrument"], t["timepoint"]) == ("peer-support", "baseline")
    )
    body = {
        "instrument": "peer-support",
        "version": version,
        "timepoint": "baseline",
        "answers": answers,
        "submit": True,
        **({"lang": lang} if lang else {}),
    }
    sent = client.post("/api/v1/me/responses", json=body, headers=me)
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["language"] == (lang or "en-GB")
    return str(made["study_id"])


@pytest.fixture
def cohorts(client: FlaskClient, auth) -> dict[str, tuple[str, int]]:
    """study ID -> (cohort, answer set): 'english' all in English, 'mixed' alternately Welsh."""
    researcher = auth("researcher")
    who: dict[str, tuple[str, int]] = {}
    for index, answers in enumerate(ANSWERS):
        who[answer(client, researcher, answers, None)] = ("english", index)
        lang = "cy-GB" if index % 2 == 0 else "en-GB"
        who[answer(client, researcher, answers, lang)] = ("mixed", index)
    return who


def exported(client: FlaskClient, analyst: Headers, query: str = "") -> list[dict[str, str]]:
    response = client.get(
        f"/api/v1/exports/responses?instrument=peer-support&{query}", headers=analyst
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_mixed_language_cohort_exports_code_for_code_as_an_english_one(
    client: FlaskClient, auth, cohorts: dict[str, tuple[str, int]]
) -> None:
    rows = exported(client, auth("analyst"))
    assert list(rows[0])[-1] == "response_language"  # the language is the last column
    by_cohort: dict[str, dict[int, dict[str, str]]] = {"english": {}, "mixed": {}}
    languages: dict[str, set[str]] = {"english": set(), "mixed": set()}
    for row in rows:
        cohort, index = cohorts[row["study_id"]]
        by_cohort[cohort][index] = {k: v for k, v in row.items() if k not in IDENTITY}
        languages[cohort].add(row["response_language"])
    assert languages == {"english": {"en-GB"}, "mixed": {"en-GB", "cy-GB"}}
    assert len(by_cohort["english"]) == len(ANSWERS)
    assert by_cohort["mixed"] == by_cohort["english"]
    assert by_cohort["english"][0]["ps_helpfulness"] == "4"


def test_labels_come_in_the_language_asked_for_and_the_codebook_lists_each(
    client: FlaskClient, auth, cohorts: dict[str, tuple[str, int]]
) -> None:
    analyst = auth("analyst")
    welsh = exported(client, analyst, "labels=true&lang=cy-GB")
    english = exported(client, analyst, "labels=true")
    assert {r["ps_helpfulness"] for r in welsh} >= {"Llawer o help", "Dim help o gwbl"}
    assert {r["ps_helpfulness"] for r in english} >= {"Very helpful", "Not at all helpful"}
    refused = client.get(
        "/api/v1/exports/responses?instrument=peer-support&labels=true&lang=xx", headers=analyst
    )
    assert refused.status_code == 400 and "lang" in refused.get_json()["errors"]
    book = client.get("/api/v1/exports/codebook?instrument=peer-support", headers=analyst)
    versions = {v["version"]: v for v in book.get_json()["versions"]}
    welsh_version = versions["1.0.1"]
    assert welsh_version["languages"] == ["en-GB", "cy-GB"]
    column = next(c for c in welsh_version["columns"] if c["name"] == "ps_helpfulness")
    cy = column["translations"]["cy-GB"]
    assert [c["code"] for c in cy["codes"]] == [c["code"] for c in column["codes"]]
    assert cy["codes"][0]["label"] == "Dim help o gwbl"
    assert book.get_json()["last_columns"][0]["name"] == "response_language"
    table = client.get(
        "/api/v1/exports/codebook?instrument=peer-support&format=csv", headers=analyst
    ).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(table)))
    helpfulness = {
        r["language"]: r for r in rows if (r["version"], r["column"]) == ("1.0.1", "ps_helpfulness")
    }
    assert set(helpfulness) == {"en-GB", "cy-GB"}
    assert "1=Dim help o gwbl" in helpfulness["cy-GB"]["codes"]
