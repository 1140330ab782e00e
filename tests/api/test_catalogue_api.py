"""The catalogue, instrument versions with ETags, and the consent form over HTTP."""

from flask.testing import FlaskClient

from service.domain.canonical import content_hash
from tests.conftest import SHIPPED_IDS

EXPECTED = SHIPPED_IDS
AMENDED = EXPECTED - {"follow-up"}  # 1.0.0 and, since amendment 1.1, 1.1.0
# The study's own texts in Welsh too: new versions, since published ones never change.
WELSH = {"about-you": ["1.0.1", "1.1.1"], "peer-support": ["1.0.1", "1.1.1"], "consent": ["1.1.1"]}


def test_the_catalogue_lists_every_instrument_with_version_and_hash(client: FlaskClient) -> None:
    response = client.get("/api/v1/instruments")
    assert response.status_code == 200
    entries = {i["id"]: i for i in response.get_json()["instruments"]}
    assert set(entries) == EXPECTED
    assert entries["consent"]["kind"] == "consent"
    assert entries["phq-9"]["title"].startswith("Patient Health Questionnaire")
    for name, entry in entries.items():
        versions = [v["version"] for v in entry["versions"]]
        expected = ["1.0.0", "1.1.0"] if name in AMENDED else ["1.0.0"]
        if name in WELSH:  # a Welsh version beside each of the study's own
            expected = sorted({*expected, *WELSH[name]})
        assert versions == expected
        for version in entry["versions"]:
            assert len(version["sha256"]) == 64 and version["published_at"].endswith("Z")


def test_a_definition_comes_with_its_hash_as_etag_and_the_hash_can_be_checked(
    client: FlaskClient,
) -> None:
    response = client.get("/api/v1/instruments/pcl-5/versions/1.0.0")
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["sha256"]}"'
    assert content_hash(body["definition"]) == body["sha256"]
    assert len(body["definition"]["items"]) == 20


def test_a_matching_if_none_match_gives_304_without_a_body(client: FlaskClient) -> None:
    etag = client.get("/api/v1/instruments/gad-7/versions/1.0.0").headers["ETag"]
    again = client.get("/api/v1/instruments/gad-7/versions/1.0.0", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    stale = client.get("/api/v1/instruments/gad-7/versions/1.0.0", headers={"If-None-Match": '"x"'})
    assert stale.status_code == 200


def test_an_unknown_instrument_or_version_is_a_404_problem(client: FlaskClient) -> None:
    for path in (
        "/api/v1/instruments/phq-9/versions/9.9.9",
        "/api/v1/instruments/nope/versions/1.0.0",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/api/v1/problems/not-found"


def test_the_consent_form_has_its_version_hash_and_clauses(client: FlaskClient) -> None:
    first = client.get("/api/v1/instruments/consent/versions/1.0.0").get_json()["definition"]
    items = first["items"]
    required = {c["id"] for c in items if c["required"]}
    optional = {c["id"] for c in items if not c["required"]}
    assert required == {"c_information_sheet", "c_voluntary", "c_audit", "c_take_part"}
    assert optional == {"c_contact_interview", "c_audio_recording", "c_future_research"}
    assert first["information_sheet_version"].startswith("1.0")
    assert "version 1.0" in items[0]["text"]

    form = client.get("/api/v1/consent/form").get_json()  # in force: 1.1 with Welsh
    assert form["id"] == "consent" and form["version"] == "1.1.1"
    assert form["language"] == "en-GB" and form["languages"] == ["en-GB", "cy-GB"]
    stored = client.get("/api/v1/instruments/consent/versions/1.1.1").get_json()
    assert form["sha256"] == stored["sha256"]
    required = {c["id"] for c in form["clauses"] if c["required"]}
    optional = {c["id"] for c in form["clauses"] if not c["required"]}
    assert required == {
        "c_information_sheet",
        "c_voluntary",
        "c_audit",
        "c_safety_contact",
        "c_retention",
        "c_take_part",
    }
    assert optional == {
        "c_contact_interview",
        "c_audio_recording",
        "c_anonymised_quotes",
        "c_future_research",
    }
    assert form["reconsent"] == "optional" and len(form["changes"]) >= 3
    assert "Welsh" in form["changes"][-1]
    assert "version 1.1" in form["clauses"][0]["text"]


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {
        "keyring": "ok",
        "database": "ok",
        "migrations": "ok",
        "catalogue": "ok",
    }
