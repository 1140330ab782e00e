"""Languages through the JSON API: lang and Accept-Language, the consent receipt's language and
text hash, and the language a response records."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from service.domain.canonical import content_hash
from tests.conftest import valid_signature

Headers = dict[str, str]


@pytest.fixture
def me(client: FlaskClient, auth) -> Headers:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    return {"Authorization": f"Bearer {made['token']}"}


def test_the_consent_form_is_served_in_welsh_when_asked_and_in_english_otherwise(
    client: FlaskClient,
) -> None:
    english = client.get("/api/v1/consent/form").get_json()
    by_query = client.get("/api/v1/consent/form?lang=cy-GB")
    by_header = client.get(
        "/api/v1/consent/form", headers={"Accept-Language": "cy;q=0.9, en;q=0.5"}
    )
    welsh = by_query.get_json()
    assert english["language"] == "en-GB" and welsh["language"] == "cy-GB"
    assert by_query.headers["Content-Language"] == "cy-GB"
    assert by_header.get_json() == welsh
    assert welsh["title"] == "Ffurflen gydsynio" and english["title"] == "Consent form"
    assert [c["id"] for c in welsh["clauses"]] == [c["id"] for c in english["clauses"]]
    assert welsh["sha256"] == english["sha256"]  # one version, every language
    assert welsh["text_sha256"] != english["text_sha256"]
    full = client.get(f"/api/v1/instruments/consent/versions/{welsh['version']}").get_json()
    assert content_hash(full["definition"]) == welsh["sha256"]


def test_an_unsupported_lang_is_a_400_naming_lang(client: FlaskClient) -> None:
    for path in ("/api/v1/consent/form", "/api/v1/instruments/about-you/versions/1.0.1"):
        response = client.get(path, query_string={"lang": "xx-YY"})
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        assert list(response.get_json()["errors"]) == ["lang"]


def test_a_definition_keeps_every_language_and_gives_one_when_asked(client: FlaskClient) -> None:
    path = "/api/v1/instruments/about-you/versions/1.0.1"
    plain = client.get(path)
    body = plain.get_json()
    assert "localised" not in body and body["languages"] == ["en-GB", "cy-GB"]
    assert body["definition"]["title"] == {"en-GB": "About you", "cy-GB": "Amdanoch chi"}
    asked = client.get(path, query_string={"lang": "cy"})
    welsh = asked.get_json()
    assert welsh["language"] == "cy-GB" and welsh["localised"]["title"] == "Amdanoch chi"
    assert content_hash(welsh["localised"]) == welsh["text_sha256"]
    assert asked.headers["ETag"] != plain.headers["ETag"]
    assert (
        client.get(
            path, query_string={"lang": "cy"}, headers={"If-None-Match": asked.headers["ETag"]}
        ).status_code
        == 304
    )
    english_only = client.get("/api/v1/instruments/phq-9/versions/1.0.0?lang=cy-GB").get_json()
    assert english_only["language"] == "en-GB"  # a scale stays in English in a Welsh session


def test_a_consent_receipt_names_the_language_and_the_hash_of_the_text_shown(
    client: FlaskClient, me: Headers
) -> None:
    form = client.get("/api/v1/consent/form?lang=cy-GB").get_json()
    wrong = client.post(
        "/api/v1/me/consent",
        json=valid_signature(client, lang="cy-GB", text_hash="0" * 64),
        headers=me,
    )
    assert wrong.status_code == 422 and "text_hash" in wrong.get_json()["errors"]
    signed = client.post(
        "/api/v1/me/consent",
        json=valid_signature(client, lang="cy-GB", text_hash=form["text_sha256"]),
        headers=me,
    )
    assert signed.status_code == 201, signed.get_json()
    receipt = signed.get_json()
    assert receipt["language"] == "cy-GB" and receipt["text_sha256"] == form["text_sha256"]
    assert client.get("/api/v1/me/consent", headers=me).get_json()["receipts"][-1] == receipt


def test_a_response_records_the_language_it_was_answered_in(
    client: FlaskClient, me: Headers
) -> None:
    client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    tasks = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    asked = {t["instrument"]: t["version"] for t in tasks if t["timepoint"] == "baseline"}
    welsh = client.post(
        "/api/v1/me/responses",
        json={
            "instrument": "about-you",
            "version": asked["about-you"],
            "timepoint": "baseline",
            "lang": "cy-GB",
        },
        headers=me,
    )
    scale = client.post(
        "/api/v1/me/responses",
        json={"instrument": "phq-9", "version": asked["phq-9"], "timepoint": "baseline"},
        headers={**me, "Accept-Language": "cy-GB"},
    )
    assert welsh.status_code == scale.status_code == 201
    assert welsh.get_json()["language"] == "cy-GB"
    assert scale.get_json()["language"] == "en-GB"  # shown in English: no Welsh text
    bad = client.post(
        "/api/v1/me/responses",
        json={
            "instrument": "gad-7",
            "version": asked["gad-7"],
            "timepoint": "baseline",
            "lang": "tlh",
        },
        headers=me,
    )
    assert bad.status_code == 400 and "lang" in bad.get_json()["errors"]
