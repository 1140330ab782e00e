"""The participant journey over HTTP: enrol, consent, tasks, save and resume, submit, alerts."""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Participant, RateLimitWindow, Response
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from tests.conftest import ask_all_required, asked_version, valid_signature

Headers = dict[str, str]
PHQ9_FIRST_HALF = {"phq9_1": 2, "phq9_2": 2, "phq9_3": 1, "phq9_4": 2}
PHQ9_SECOND_HALF = {"phq9_5": 1, "phq9_6": 1, "phq9_7": 2, "phq9_8": 0, "phq9_9": 1, "phq9_10": 1}


@pytest.fixture
def researcher(auth) -> Headers:
    return auth("researcher")


@pytest.fixture
def participant(client: FlaskClient, researcher: Headers) -> Callable[..., tuple[str, Headers]]:
    def make(consent: bool = True, **body: object) -> tuple[str, Headers]:
        made = client.post("/api/v1/participants", json=body, headers=researcher).get_json()
        me = {"Authorization": f"Bearer {made['token']}"}
        if consent:
            signed = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
            assert signed.status_code == 201
        return made["study_id"], me

    return make


def start(client: FlaskClient, me: Headers, instrument: str = "phq-9", **body: object):
    timepoint = str(body.pop("timepoint", "baseline"))
    version = asked_version(client, me, instrument, timepoint)
    payload = {"instrument": instrument, "version": version, "timepoint": timepoint, **body}
    return client.post("/api/v1/me/responses", json=payload, headers=me)


def test_the_whole_journey(client: FlaskClient, participant, researcher: Headers) -> None:
    study_id, me = participant(consent=False)
    tasks = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    assert tasks[0]["instrument"] == "consent"  # consent comes first
    form = client.get("/api/v1/consent/form").get_json()
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
        == 201
    )
    assert form["version"] == tasks[0]["version"]

    me_view = client.get("/api/v1/me", headers=me).get_json()
    assert me_view["study_id"] == study_id and me_view["consent"]["state"] == "consented"
    baseline = [t for t in me_view["tasks"] if t["timepoint"] == "baseline"]
    assert {t["instrument"] for t in baseline} == {
        "about-you",
        "phq-9",
        "gad-7",
        "pcl-5",
        "epds",
        "peer-support",
    }
    assert all(t["status"] == "open" for t in baseline)
    later = [t for t in me_view["tasks"] if t["timepoint"] == "month-3"]
    assert all(t["status"] == "not-yet-open" for t in later)
    today = dt.datetime.now(dt.UTC).date()
    assert later[0]["opens"] == str(today + dt.timedelta(days=76))
    assert later[0]["closes"] == str(today + dt.timedelta(days=104))

    started = start(client, me, answers=PHQ9_FIRST_HALF)
    assert started.status_code == 201 and started.get_json()["status"] == "in-progress"
    response_id = started.get_json()["id"]
    in_progress = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    phq9_task = next(t for t in in_progress if t["instrument"] == "phq-9")
    assert phq9_task["status"] == "in-progress" and phq9_task["response_id"] == response_id

    # Later, on another device: read what was saved, add the rest, submit.
    resumed = client.get(f"/api/v1/me/responses/{response_id}", headers=me).get_json()
    assert resumed["answers"] == PHQ9_FIRST_HALF
    saved = client.patch(
        f"/api/v1/me/responses/{response_id}", json={"answers": PHQ9_SECOND_HALF}, headers=me
    )
    assert saved.status_code == 200
    submitted = client.post(f"/api/v1/me/responses/{response_id}/submit", headers=me)
    assert submitted.status_code == 200
    result = submitted.get_json()
    assert result["status"] == "submitted" and result["submitted_at"].endswith("Z")
    assert result["scores"] == [
        {"id": "phq9_total", "label": result["scores"][0]["label"], "value": 12, "band": "moderate"}
    ]
    assert result["alerts"][0]["id"] == "phq9_item9"
    assert "116 123" in result["alerts"][0]["signposting"]
    done = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    assert next(t for t in done if t["instrument"] == "phq-9")["status"] == "completed"

    alerts = client.get("/api/v1/alerts?status=open", headers=researcher).get_json()["alerts"]
    mine = [a for a in alerts if a["study_id"] == study_id]
    assert len(mine) == 1 and mine[0]["rule"] == "phq9_item9" and mine[0]["severity"] == "urgent"
    acked = client.post(
        f"/api/v1/alerts/{mine[0]['id']}/ack", json={"note": "Phoned; safe."}, headers=researcher
    )
    assert acked.status_code == 200 and acked.get_json()["status"] == "acknowledged"
    still_open = client.get("/api/v1/alerts?status=open", headers=researcher).get_json()["alerts"]
    assert all(a["study_id"] != study_id for a in still_open)
    again = client.post(
        f"/api/v1/alerts/{mine[0]['id']}/ack", json={"note": "twice"}, headers=researcher
    )
    assert again.status_code == 409


def test_a_one_shot_submit_scores_at_once(client: FlaskClient, participant) -> None:
    _, me = participant()
    answers = {f"gad7_{i}": 3 for i in range(1, 8)} | {"gad7_8": 2}
    response = start(client, me, "gad-7", answers=answers, submit=True)
    assert response.status_code == 201
    body = response.get_json()
    assert body["scores"][0]["value"] == 21 and body["scores"][0]["band"] == "severe"
    assert body["alerts"] == []


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ("not-consented", "consent-required"),
        ("stop", "withdrawn"),
        ("stop-and-erase", None),  # erasure revokes the token itself
    ],
)
def test_no_answers_are_taken_without_consent_in_force(
    client: FlaskClient, participant, session: Session, state: str, problem: str | None
) -> None:
    study_id, me = participant(consent=state != "not-consented")
    if state != "not-consented":
        client.post("/api/v1/me/withdrawal", json={"scope": state}, headers=me)
    response = start(client, me, answers=PHQ9_FIRST_HALF)
    if problem is None:
        assert response.status_code == 401
    else:
        assert response.status_code == 403
        assert response.get_json()["type"] == f"/api/v1/problems/{problem}"
    assert session.scalars(select(Response).where(Response.study_id == study_id)).all() == []


def test_a_new_consent_form_blocks_answers_until_reconsent(
    client: FlaskClient, participant, session: Session, instruments_copy
) -> None:
    _, me = participant()
    data = json.loads((instruments_copy / "consent" / "1.0.0.json").read_text())
    data["version"] = "2.0.0"
    (instruments_copy / "consent" / "2.0.0.json").write_text(json.dumps(data))
    sync_definitions(session, load_definitions(instruments_copy))
    refused = start(client, me, answers=PHQ9_FIRST_HALF)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/api/v1/problems/reconsent-required"
    assert client.get("/api/v1/me", headers=me).get_json()["tasks"][0]["instrument"] == "consent"


@pytest.mark.parametrize(
    ("answers", "field", "fragment"),
    [
        ({"phq9_1": 4}, "answers.phq9_1", "codes"),
        ({"phq9_1": True}, "answers.phq9_1", "codes"),
        ({"phq9_99": 1}, "answers.phq9_99", "unknown item"),
        ({"phq9_1": 0, "phq9_10": 1}, "answers.phq9_10", "not shown"),
    ],
)
def test_bad_answers_are_refused_naming_the_item_and_nothing_is_stored(
    client: FlaskClient, participant, session: Session, answers: dict, field: str, fragment: str
) -> None:
    study_id, me = participant()
    response = start(client, me, answers=answers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert fragment in response.get_json()["errors"][field][0]
    assert session.scalars(select(Response).where(Response.study_id == study_id)).all() == []


def test_a_submit_lists_every_missing_item_at_once(
    client: FlaskClient, participant, session: Session, instruments_copy: Path
) -> None:
    ask_all_required(instruments_copy, session)
    _, me = participant()
    response_id = start(client, me, "all-required", answers={"r_1": 1}).get_json()["id"]
    refused = client.post(f"/api/v1/me/responses/{response_id}/submit", headers=me)
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {f"answers.r_{i}" for i in range(2, 6)}
    assert client.get(f"/api/v1/me/responses/{response_id}", headers=me).get_json()["status"] == (
        "in-progress"
    )


def test_a_saved_answer_can_be_cleared_with_null(client: FlaskClient, participant) -> None:
    _, me = participant()
    response_id = start(client, me, answers={"phq9_1": 1, "phq9_2": 2}).get_json()["id"]
    cleared = client.patch(
        f"/api/v1/me/responses/{response_id}", json={"answers": {"phq9_2": None}}, headers=me
    )
    assert cleared.get_json()["answers"] == {"phq9_1": 1}


def test_a_submitted_response_is_immutable_and_a_task_is_done_once(
    client: FlaskClient, participant
) -> None:
    _, me = participant()
    answers = {f"gad7_{i}": 0 for i in range(1, 8)}
    response_id = start(client, me, "gad-7", answers=answers, submit=True).get_json()["id"]
    changed = client.patch(
        f"/api/v1/me/responses/{response_id}", json={"answers": {"gad7_1": 3}}, headers=me
    )
    assert changed.status_code == 409
    assert client.post(f"/api/v1/me/responses/{response_id}/submit", headers=me).status_code == 409
    assert start(client, me, "gad-7", answers=answers).status_code == 409


def test_outside_its_window_a_task_is_refused_and_shown_missed(
    client: FlaskClient, participant, session: Session
) -> None:
    study_id, me = participant()
    early = client.post(
        "/api/v1/me/responses",
        json={"instrument": "phq-9", "version": "1.0.0", "timepoint": "month-3"},
        headers=me,
    )
    assert early.status_code == 422 and "open on" in early.get_json()["errors"]["timepoint"][0]
    person = session.scalars(select(Participant).where(Participant.study_id == study_id)).one()
    person.enrolled_at -= dt.timedelta(days=20)
    session.commit()
    late = start(client, me, answers=PHQ9_FIRST_HALF)
    assert late.status_code == 422 and "closed on" in late.get_json()["errors"]["timepoint"][0]
    tasks = client.get("/api/v1/me", headers=me).get_json()["tasks"]
    assert {t["status"] for t in tasks if t["timepoint"] == "baseline"} == {"missed"}


def test_an_instrument_not_asked_for_at_a_timepoint_is_refused(
    client: FlaskClient, participant
) -> None:
    _, me = participant()
    response = client.post(
        "/api/v1/me/responses",
        json={"instrument": "about-you", "version": "1.0.0", "timepoint": "nowhere"},
        headers=me,
    )
    assert response.status_code == 422 and "timepoint" in response.get_json()["errors"]
    wrong_version = start(client, me, version="9.0.0")
    assert wrong_version.status_code == 422 and "instrument" in wrong_version.get_json()["errors"]


def test_another_participants_response_is_not_found(client: FlaskClient, participant) -> None:
    _, me = participant()
    _, other = participant()
    response_id = start(client, me, answers=PHQ9_FIRST_HALF).get_json()["id"]
    for method, path in (
        ("GET", f"/api/v1/me/responses/{response_id}"),
        ("PATCH", f"/api/v1/me/responses/{response_id}"),
        ("POST", f"/api/v1/me/responses/{response_id}/submit"),
    ):
        body = {"answers": {}} if method == "PATCH" else None
        assert client.open(path, method=method, json=body, headers=other).status_code == 404


def test_an_idempotent_retry_replays_the_first_answer_and_a_changed_body_is_422(
    client: FlaskClient, participant, session: Session
) -> None:
    study_id, me = participant()
    keyed = {**me, "Idempotency-Key": "3f1e2c7a-retry"}
    body = {
        "instrument": "gad-7",
        "version": asked_version(client, me, "gad-7", "baseline"),
        "timepoint": "baseline",
        "answers": {f"gad7_{i}": 1 for i in range(1, 8)},
        "submit": True,
    }
    first = client.post("/api/v1/me/responses", json=body, headers=keyed)
    second = client.post("/api/v1/me/responses", json=body, headers=keyed)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    stored = session.scalars(select(Response).where(Response.study_id == study_id)).all()
    assert len(stored) == 1
    changed = client.post("/api/v1/me/responses", json={**body, "submit": False}, headers=keyed)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.get_json()["errors"]
    bad_key = client.post(
        "/api/v1/me/responses", json=body, headers={**me, "Idempotency-Key": "a b"}
    )
    assert bad_key.status_code == 422


def test_researchers_see_status_without_identifiers_and_contact_only_with_consent(
    client: FlaskClient, participant, researcher: Headers
) -> None:
    contact = {"name": "Robin Contact", "email": "robin@example.org"}
    study_id, me = participant(contact=contact, site="leeds")
    listing = client.get("/api/v1/participants?site=leeds", headers=researcher)
    text = listing.get_data(as_text=True)
    assert study_id in text and "Robin" not in text and "robin@" not in text
    page = listing.get_json()["participants"]
    assert [p["study_id"] for p in page] == [study_id]
    assert page[0]["consent"]["state"] == "consented" and page[0]["task_counts"]["open"] == 6
    detail = client.get(f"/api/v1/participants/{study_id}", headers=researcher).get_json()
    own = client.get("/api/v1/me", headers=me).get_json()["tasks"]  # 16 under protocol 1.0
    assert len(detail["tasks"]) == len(own) >= 16 and detail["events"][0]["type"] == "consent"
    shown = client.get(f"/api/v1/participants/{study_id}/contact", headers=researcher)
    assert shown.status_code == 200 and shown.get_json()["name"] == "Robin Contact"
    client.post("/api/v1/me/withdrawal", json={"scope": "no-further-contact"}, headers=me)
    hidden = client.get(f"/api/v1/participants/{study_id}/contact", headers=researcher)
    assert hidden.status_code == 403
    assert hidden.get_json()["type"] == "/api/v1/problems/contact-not-permitted"
    by_state = client.get(
        "/api/v1/participants?consent_state=withdrawn&site=leeds", headers=researcher
    ).get_json()
    assert by_state["participants"] == []


def test_a_lost_link_gets_a_new_token_and_the_old_one_stops(
    client: FlaskClient, participant, researcher: Headers
) -> None:
    study_id, me = participant()
    fresh = client.post(f"/api/v1/participants/{study_id}/token", headers=researcher)
    assert fresh.status_code == 201
    assert client.get("/api/v1/me", headers=me).status_code == 401
    new = {"Authorization": f"Bearer {fresh.get_json()['token']}"}
    assert client.get("/api/v1/me", headers=new).get_json()["study_id"] == study_id


def test_self_enrolment_needs_the_code_and_is_off_without_one(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/api/v1/enrolments", json={"code": "x"}).status_code == 404
    monkeypatch.setitem(app.config, "PSAM_ENROLMENT_CODE", "join-2026")
    wrong = client.post("/api/v1/enrolments", json={"code": "guess"})
    assert wrong.status_code == 422 and "code" in wrong.get_json()["errors"]
    joined = client.post("/api/v1/enrolments", json={"code": "join-2026"})
    assert joined.status_code == 201 and joined.get_json()["token"].startswith("psam_p_")


def test_self_enrolment_is_rate_limited_per_address(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PSAM_ENROLMENT_CODE", "join-2026")
    monkeypatch.setitem(app.config, "PSAM_ENROLMENT_LIMIT", "3/hour")
    codes = [
        client.post("/api/v1/enrolments", json={"code": "wrong"}).status_code for _ in range(3)
    ]
    assert codes == [422, 422, 422]
    limited = client.post("/api/v1/enrolments", json={"code": "join-2026"})
    assert limited.status_code == 429
    assert 3000 < int(limited.headers["Retry-After"]) <= 3600
    elsewhere = client.post(
        "/api/v1/enrolments", json={"code": "join-2026"}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert elsewhere.status_code == 201


def test_the_rate_limit_stores_no_hash_an_address_could_be_recovered_from(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PSAM_ENROLMENT_CODE", "join-2026")
    address = "10.20.30.40"
    client.post("/api/v1/enrolments", json={"code": "x"}, environ_base={"REMOTE_ADDR": address})
    stored = set(session.scalars(select(RateLimitWindow.key)))
    assert len(stored) == 1
    bare = hashlib.sha256(f"enrolment\n{address}".encode()).hexdigest()
    assert bare not in stored
