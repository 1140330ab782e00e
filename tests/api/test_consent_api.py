"""Consent over HTTP: signing, every refusal, receipts, withdrawal, state, the auditor's view."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import IdentityValue
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from tests.conftest import valid_signature

Headers = dict[str, str]


@pytest.fixture
def researcher(auth) -> Headers:
    return auth("researcher")


@pytest.fixture
def auditor(auth) -> Headers:
    return auth("auditor")


@pytest.fixture
def enrol(client: FlaskClient, researcher: Headers) -> Callable[..., tuple[str, Headers]]:
    def make(contact: dict | None = None) -> tuple[str, Headers]:
        body = {"contact": contact} if contact else {}
        response = client.post("/api/v1/participants", json=body, headers=researcher)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        return created["study_id"], {"Authorization": f"Bearer {created['token']}"}

    return make


def log_entry(client: FlaskClient, auditor: Headers, seq: int) -> dict:
    page = client.get(f"/api/v1/audit/consent-log?after_seq={seq - 1}&limit=1", headers=auditor)
    return page.get_json()["entries"][0]


def test_signing_returns_a_receipt_whose_hash_is_in_the_log(
    client: FlaskClient, enrol, auditor: Headers
) -> None:
    study_id, me = enrol()
    assert client.get("/api/v1/me", headers=me).get_json()["consent"]["state"] == "not-consented"
    response = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert response.status_code == 201
    receipt = response.get_json()
    entry = log_entry(client, auditor, receipt["seq"])
    assert entry["hash"] == receipt["hash"]
    assert entry["event"]["study_id"] == study_id
    assert entry["event"]["clauses"] == receipt["clauses"]
    assert entry["event"]["form"]["sha256"] == receipt["form_hash"]
    assert "Sam Participant" not in json.dumps(entry)  # only a commitment to the name
    assert len(entry["event"]["commitment"]) == 64
    state = client.get("/api/v1/me", headers=me).get_json()["consent"]
    assert state["state"] == "consented" and state["form_version"] == receipt["form_version"]
    assert client.get("/api/v1/me/consent", headers=me).get_json()["receipts"] == [receipt]


def test_the_typed_name_and_time_are_kept_encrypted_in_the_vault(
    client: FlaskClient, enrol, session: Session
) -> None:
    study_id, me = enrol()
    client.post(
        "/api/v1/me/consent", json=valid_signature(client, typed_name="  Rae Signer "), headers=me
    )
    (row,) = session.scalars(
        select(IdentityValue).where(
            IdentityValue.study_id == study_id, IdentityValue.kind == "signature"
        )
    )
    assert b"Rae Signer" not in row.value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"form_version": "0.9.0"}, "form_version"),
        ({"form_hash": "0" * 64}, "form_hash"),
        ({"typed_name": "   "}, "typed_name"),
        ({"typed_name": "x" * 201}, "typed_name"),
    ],
)
def test_a_signature_that_does_not_match_the_form_is_refused_naming_the_field(
    client: FlaskClient, enrol, changes: dict, field: str
) -> None:
    _, me = enrol()
    response = client.post(
        "/api/v1/me/consent", json=valid_signature(client, **changes), headers=me
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == [field]


def test_missing_unknown_and_refused_required_clauses_are_each_named(
    client: FlaskClient, enrol
) -> None:
    _, me = enrol()
    body = valid_signature(client)
    clauses = dict(body["clauses"])
    del clauses["c_voluntary"]
    clauses["c_take_part"] = False
    clauses["c_made_up"] = True
    clauses["c_future_research"] = False  # optional: refusing it is fine
    response = client.post("/api/v1/me/consent", json={**body, "clauses": clauses}, headers=me)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {
        "clauses.c_voluntary",
        "clauses.c_take_part",
        "clauses.c_made_up",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"clauses": {"c_take_part": "yes"}},
        {"extra": 1},
        {"typed_name": None},
    ],
)
def test_malformed_signing_bodies_are_422(client: FlaskClient, enrol, body: dict) -> None:
    _, me = enrol()
    response = client.post("/api/v1/me/consent", json=valid_signature(client, **body), headers=me)
    assert response.status_code == 422


def test_nothing_is_written_when_signing_is_refused(
    client: FlaskClient, enrol, auditor: Headers
) -> None:
    _, me = enrol()
    before = client.get("/api/v1/audit/consent-log/verify", headers=auditor).get_json()["length"]
    client.post("/api/v1/me/consent", json=valid_signature(client, form_hash="x"), headers=me)
    after = client.get("/api/v1/audit/consent-log/verify", headers=auditor).get_json()["length"]
    assert after == before


def test_no_further_contact_turns_off_only_the_contact_clauses(client: FlaskClient, enrol) -> None:
    _, me = enrol()
    client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    response = client.post(
        "/api/v1/me/withdrawal", json={"scope": "no-further-contact"}, headers=me
    )
    assert response.status_code == 201 and response.get_json()["scope"] == "no-further-contact"
    consent = client.get("/api/v1/me", headers=me).get_json()["consent"]
    assert consent["state"] == "consented"
    off = {k for k, v in consent["clauses"].items() if not v}
    assert off == {"c_contact_interview", "c_audio_recording"}


def test_after_stop_a_participant_cannot_consent_again_and_stop_is_final(
    client: FlaskClient, enrol
) -> None:
    _, me = enrol()
    client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert (
        client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=me).status_code == 201
    )
    again = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert again.status_code == 403
    assert again.get_json()["type"] == "/api/v1/problems/withdrawn"
    twice = client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=me)
    assert twice.status_code == 409
    assert client.get("/api/v1/me", headers=me).get_json()["consent"]["state"] == "withdrawn"


def test_stop_and_erase_shreds_identity_and_is_final(
    client: FlaskClient, enrol, session: Session, researcher: Headers
) -> None:
    study_id, me = enrol({"name": "Erase Me", "email": "erase@example.org"})
    client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=me)
    erased = client.post("/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=me)
    assert erased.status_code == 201
    left = session.scalars(select(IdentityValue).where(IdentityValue.study_id == study_id)).all()
    assert left == []
    assert client.get("/api/v1/me", headers=me).status_code == 401  # the token is revoked
    view = client.get(f"/api/v1/participants/{study_id}", headers=researcher).get_json()
    assert view["consent"]["state"] == "erased"
    assert [e["scope"] for e in view["events"]] == ["stop", "stop-and-erase"]
    assert view["tasks"] == [] and view["site"] is None
    again = client.post(
        f"/api/v1/participants/{study_id}/withdrawal",
        json={"scope": "stop-and-erase"},
        headers=researcher,
    )
    assert again.status_code == 409


def test_a_researcher_can_record_a_withdrawal_and_the_acting_token_is_logged(
    client: FlaskClient, enrol, researcher: Headers, auditor: Headers
) -> None:
    study_id, me = enrol()
    response = client.post(
        f"/api/v1/participants/{study_id.lower()}/withdrawal",
        json={"scope": "stop"},
        headers=researcher,
    )
    assert response.status_code == 201
    event = log_entry(client, auditor, response.get_json()["seq"])["event"]
    assert event["actor"]["kind"] == "staff" and set(event["actor"]) == {"kind", "token_id"}
    access = client.get(
        f"/api/v1/audit/access-log?study_id={study_id}", headers=auditor
    ).get_json()["entries"]
    actions = [e["event"]["action"] for e in access]
    assert actions == ["participant.enrol", "participant.withdraw"]
    assert client.get("/api/v1/me", headers=me).get_json()["consent"]["state"] == "withdrawn"


def test_a_mistyped_study_id_is_a_422_not_a_404(
    client: FlaskClient, enrol, researcher: Headers
) -> None:
    study_id, _ = enrol()
    wrong = study_id[:-1] + ("0" if study_id[-1] != "0" else "1")
    response = client.post(
        f"/api/v1/participants/{wrong}/withdrawal", json={"scope": "stop"}, headers=researcher
    )
    assert response.status_code == 422
    assert "check character" in response.get_json()["errors"]["study_id"][0]
    unknown = client.post(
        "/api/v1/participants/PSAM-00000000-0/withdrawal",
        json={"scope": "stop"},
        headers=researcher,
    )
    assert unknown.status_code == 404


def test_a_new_consent_form_version_asks_everyone_to_consent_again(
    app: Flask, client: FlaskClient, enrol, session: Session, instruments_copy: Path
) -> None:
    _, me = enrol()
    client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    publish_consent_form(session, instruments_copy, "1.2.0", "required")

    consent = client.get("/api/v1/me", headers=me).get_json()["consent"]
    assert consent["state"] == "needs-reconsent" and consent["form_version"] == "1.1.1"
    stale = client.post(
        "/api/v1/me/consent", json=valid_signature(client, form_version="1.1.1"), headers=me
    )
    assert stale.status_code == 422 and "form_version" in stale.get_json()["errors"]
    renewed = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert renewed.status_code == 201 and renewed.get_json()["form_version"] == "1.2.0"
    assert client.get("/api/v1/me", headers=me).get_json()["consent"]["state"] == "consented"


def publish_consent_form(session: Session, folder: Path, version: str, reconsent: str) -> None:
    """Publish a later consent form (the 1.1.0 text) with the given re-consent rule."""
    data = json.loads((folder / "consent" / "1.1.0.json").read_text())
    data.update(version=version, reconsent=reconsent, changes=[f"Version {version}."])
    (folder / "consent" / f"{version}.json").write_text(json.dumps(data))
    report = sync_definitions(session, load_definitions(folder))
    assert report.added == [f"consent {version}"], report


def test_a_version_that_lets_people_continue_offers_itself_and_takes_data_meanwhile(
    client: FlaskClient, enrol, session: Session, instruments_copy: Path
) -> None:
    _, me = enrol()
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
        == 201
    )
    publish_consent_form(session, instruments_copy, "1.2.0", "optional")

    view = client.get("/api/v1/me", headers=me).get_json()
    assert view["consent"]["state"] == "consented"
    assert view["consent"]["form_version"] == "1.1.1"
    assert view["consent"]["offered_version"] == "1.2.0"
    assert view["tasks"][0]["instrument"] == "consent" and view["tasks"][0]["version"] == "1.2.0"
    started = client.post(
        "/api/v1/me/responses",
        json={"instrument": "gad-7", "version": "1.0.0", "timepoint": "baseline", "answers": {}},
        headers=me,
    )
    assert started.status_code == 201, started.get_json()

    publish_consent_form(session, instruments_copy, "1.3.0", "required")
    assert client.get("/api/v1/me", headers=me).get_json()["consent"]["state"] == "needs-reconsent"


def test_every_auditor_call_is_itself_in_the_access_log(
    client: FlaskClient, auditor: Headers
) -> None:
    client.get("/api/v1/audit/consent-log?limit=5", headers=auditor)
    client.get("/api/v1/audit/consent-log/verify", headers=auditor)
    client.get("/api/v1/audit/checkpoints?log=consent", headers=auditor)
    client.get("/api/v1/audit/public-key", headers=auditor)
    page = client.get("/api/v1/audit/access-log?limit=1000", headers=auditor).get_json()
    actions = [e["event"]["action"] for e in page["entries"]][-4:]
    assert actions == [
        "audit.consent-log.read",
        "audit.consent-log.verify",
        "audit.checkpoints.read",
        "audit.public-key.read",
    ]
    assert page["entries"][-4]["event"]["filters"]["limit"] == 5


def test_the_log_pages_by_seq(client: FlaskClient, enrol, auditor: Headers) -> None:
    for _ in range(3):
        _, me = enrol()
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    first = client.get("/api/v1/audit/consent-log?limit=2", headers=auditor).get_json()
    assert [e["seq"] for e in first["entries"]] == [1, 2] and first["next_after_seq"] == 2
    rest = client.get("/api/v1/audit/consent-log?after_seq=2&limit=2", headers=auditor).get_json()
    assert [e["seq"] for e in rest["entries"]] == [3] and rest["next_after_seq"] is None


def test_checkpoints_are_signed_every_n_events_and_verify(
    app: Flask, client: FlaskClient, enrol, auditor: Headers, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "PSAM_CHECKPOINT_EVERY", 2)
    for _ in range(5):
        _, me = enrol()
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    listed = client.get("/api/v1/audit/checkpoints?log=consent", headers=auditor).get_json()
    assert [c["length"] for c in listed["checkpoints"]] == [2, 4]
    assert listed["public_key_id"].startswith("ed25519:")
    verdict = client.get("/api/v1/audit/consent-log/verify", headers=auditor).get_json()
    assert verdict == {
        "log": "consent",
        "ok": True,
        "length": 5,
        "head_hash": verdict["head_hash"],
        "first_bad_seq": None,
        "checkpoints_checked": 2,
        "unsigned_entries": 1,
        "problems": [],
    }
    pem = client.get("/api/v1/audit/public-key", headers=auditor)
    assert pem.mimetype == "application/x-pem-file"
    assert pem.data.startswith(b"-----BEGIN PUBLIC KEY-----")


def test_re_signing_is_bounded_per_day_and_the_refusal_adds_nothing_to_the_log(
    app: Flask,
    client: FlaskClient,
    enrol: Callable[..., tuple[str, Headers]],
    auditor: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "PSAM_CONSENT_SIGNINGS_PER_DAY", 3)
    _, me = enrol()
    codes = [
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
        for _ in range(3)
    ]
    assert codes == [201, 201, 201]
    before = client.get("/api/v1/audit/consent-log/verify", headers=auditor).get_json()["length"]
    refused = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert refused.status_code == 429
    assert refused.get_json()["type"].endswith("/too-many-requests")
    assert 86000 < int(refused.headers["Retry-After"]) <= 86400
    after = client.get("/api/v1/audit/consent-log/verify", headers=auditor).get_json()["length"]
    assert after == before
    assert len(client.get("/api/v1/me/consent", headers=me).get_json()["receipts"]) == 3
