"""Every endpoint against every kind of caller: one table, and a check that none is missing.

Callers: no token, a malformed token, each staff role, the participant who owns the thing
asked about, and another participant. Exactly the allowed ones get through; another
participant asking for someone's response gets 404, never 403.
"""

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.services.tokens import create_staff_token
from tests.conftest import asked_version, shipped_version, valid_signature
from tests.interviews import scheduled_interview

STAFF = ("researcher", "analyst", "auditor", "admin")
CALLERS = (None, "bad-token", *STAFF, "owner", "other")
EVERYONE = set(CALLERS)
PARTICIPANTS = {"owner", "other"}
GAD7 = {f"gad7_{i}": 1 for i in range(1, 8)}
PHQ9 = {**{f"phq9_{i}": 1 for i in range(1, 10)}, "phq9_10": 1}


@dataclass
class World:
    """An owner with a consented, submitted PHQ-9 (raising an alert) and a draft GAD-7."""

    owner: str
    owner_token: str
    other_token: str
    draft_id: str
    alert_id: str
    researcher: dict[str, str]


@pytest.fixture
def world(client: FlaskClient, make_token: Callable[..., str]) -> World:
    researcher = {"Authorization": f"Bearer {make_token('researcher')}"}
    people = []
    for _ in range(2):
        made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
        own = {"Authorization": f"Bearer {made['token']}"}
        assert (
            client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
            == 201
        )
        people.append((made["study_id"], made["token"], own))
    (owner, owner_token, own), (_, other_token, _) = people
    submitted = {
        "instrument": "phq-9",
        "version": asked_version(client, own, "phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9,
        "submit": True,
    }
    assert client.post("/api/v1/me/responses", json=submitted, headers=own).status_code == 201
    gad7 = asked_version(client, own, "gad-7")
    draft = {"instrument": "gad-7", "version": gad7, "timepoint": "baseline", "answers": GAD7}
    draft_id = client.post("/api/v1/me/responses", json=draft, headers=own).get_json()["id"]
    alerts = client.get("/api/v1/alerts", headers=researcher).get_json()["alerts"]
    alert_id = next(a["id"] for a in alerts if a["study_id"] == owner)
    return World(owner, owner_token, other_token, draft_id, alert_id, researcher)


START_EPDS = {"instrument": "epds", "version": shipped_version("epds"), "timepoint": "baseline"}

# (method, path, body, who gets in, what "other" gets when it is not in)
TABLE: list[tuple[str, str, object, set, int]] = [
    ("GET", "/healthz", None, EVERYONE, 0),
    ("GET", "/readyz", None, EVERYONE, 0),
    ("GET", "/api/v1/instruments", None, EVERYONE, 0),
    ("GET", "/api/v1/instruments/phq-9/versions/1.0.0", None, EVERYONE, 0),
    ("GET", "/api/v1/consent/form", None, EVERYONE, 0),
    ("GET", "/api/v1/problems", None, EVERYONE, 0),
    ("GET", "/api/v1/problems/not-found", None, EVERYONE, 0),
    ("GET", "/api/v1/openapi.json", None, EVERYONE, 0),
    ("GET", "/api/v1/docs", None, EVERYONE, 0),
    ("GET", "/api/v1/docs/init.js", None, EVERYONE, 0),
    ("GET", "/api/v1/docs/assets/swagger-ui.css", None, EVERYONE, 0),
    # Only PSAM_METRICS_TOKEN, which no caller here holds: API tokens get 403.
    ("GET", "/metrics", None, set(), 403),
    ("POST", "/api/v1/enrolments", {"code": "open-sesame"}, EVERYONE, 0),
    ("GET", "/api/v1/tokens", None, {"admin"}, 403),
    ("POST", "/api/v1/tokens", {"label": "t", "roles": ["analyst"]}, {"admin"}, 403),
    ("POST", "/api/v1/tokens/{token_id}/revoke", None, {"admin"}, 403),
    ("POST", "/api/v1/participants", {}, {"researcher"}, 403),
    ("GET", "/api/v1/participants", None, {"researcher"}, 403),
    ("GET", "/api/v1/participants/{owner}", None, {"researcher"}, 403),
    ("GET", "/api/v1/participants/{owner}/contact", None, {"researcher"}, 403),
    ("GET", "/api/v1/participants/{owner}/messages", None, {"researcher"}, 403),
    ("POST", "/api/v1/participants/{owner}/token", None, {"researcher"}, 403),
    ("POST", "/api/v1/participants/{owner}/withdrawal", {"scope": "stop"}, {"researcher"}, 403),
    ("GET", "/api/v1/alerts", None, {"researcher"}, 403),
    ("POST", "/api/v1/alerts/{alert_id}/ack", {"note": "called"}, {"researcher"}, 403),
    ("GET", "/api/v1/me", None, PARTICIPANTS, 0),
    ("GET", "/api/v1/me/consent", None, PARTICIPANTS, 0),
    ("POST", "/api/v1/me/consent", "signature", PARTICIPANTS, 0),
    ("POST", "/api/v1/me/withdrawal", {"scope": "no-further-contact"}, PARTICIPANTS, 0),
    ("POST", "/api/v1/me/responses", START_EPDS, PARTICIPANTS, 0),
    ("GET", "/api/v1/me/responses/{draft_id}", None, {"owner"}, 404),
    ("PATCH", "/api/v1/me/responses/{draft_id}", {"answers": {"gad7_1": 2}}, {"owner"}, 404),
    ("POST", "/api/v1/me/responses/{draft_id}/submit", None, {"owner"}, 404),
    ("GET", "/api/v1/exports/responses?instrument=phq-9", None, {"analyst"}, 403),
    ("GET", "/api/v1/exports/codebook?instrument=phq-9", None, {"analyst"}, 403),
    ("GET", "/api/v1/exports", None, {"analyst"}, 403),
    ("GET", "/api/v1/exports/{export_id}", None, {"analyst"}, 403),
    ("GET", "/api/v1/exports/quotes", None, {"analyst"}, 403),
    ("PUT", "/api/v1/interviews/{interview_id}/audio", "audio", {"researcher"}, 403),
    ("GET", "/api/v1/interviews/{interview_id}/audio", None, {"researcher"}, 403),
    ("PUT", "/api/v1/interviews/{interview_id}/transcript", "transcript", {"researcher"}, 403),
    ("GET", "/api/v1/interviews/{interview_id}/transcript", None, {"researcher"}, 403),
    ("POST", "/api/v1/interviews/{interview_id}/transcript/verify", None, {"researcher"}, 403),
    ("GET", "/api/v1/audit/consent-log", None, {"auditor"}, 403),
    ("GET", "/api/v1/audit/consent-log/verify", None, {"auditor"}, 403),
    ("GET", "/api/v1/audit/access-log", None, {"auditor"}, 403),
    ("GET", "/api/v1/audit/access-log/verify", None, {"auditor"}, 403),
    ("GET", "/api/v1/audit/checkpoints", None, {"auditor"}, 403),
    ("GET", "/api/v1/audit/public-key", None, {"auditor"}, 403),
    ("POST", "/api/v1/audit/checkpoints/{checkpoint_id}/cosign", "cosign", {"auditor"}, 403),
    ("POST", "/api/v1/audit/witnesses", "witness", {"auditor"}, 403),
    ("GET", "/api/v1/audit/witnesses", None, {"auditor", "admin"}, 403),
    ("POST", "/api/v1/audit/witnesses/{witness_id}/approve", None, {"admin"}, 403),
    ("GET", "/fhir/r4/metadata", None, EVERYONE, 0),
    ("GET", "/fhir/r4/Questionnaire", None, EVERYONE, 0),
    ("GET", "/fhir/r4/Questionnaire/phq-9", None, EVERYONE, 0),
    ("GET", "/fhir/r4/Questionnaire/phq-9/_history/1.0.0", None, EVERYONE, 0),
    ("GET", "/fhir/r4/QuestionnaireResponse/$export?instrument=phq-9", None, {"analyst"}, 403),
    ("GET", "/fhir/r4/Consent", None, {"auditor"}, 403),
    ("GET", "/fhir/r4/Consent/consent-log-1", None, {"auditor"}, 403),
    # Participant pages (service/web/): a participant's session cookie or bearer token.
    ("GET", "/p/start", None, EVERYONE, 0),
    ("POST", "/p/start", None, EVERYONE, 0),
    ("GET", "/p/help", None, EVERYONE, 0),
    ("POST", "/p/sign-out", None, EVERYONE, 0),
    ("GET", "/p/language/cy/help", None, EVERYONE, 0),
    ("GET", "/p/language/cy", None, EVERYONE, 0),
    ("GET", "/p/assets/init.mjs", None, EVERYONE, 0),
    ("GET", "/p/", None, PARTICIPANTS, 0),
    ("GET", "/p/welcome", None, PARTICIPANTS, 0),
    ("GET", "/p/consent", None, PARTICIPANTS, 0),
    ("GET", "/p/reminders", None, PARTICIPANTS, 0),
    ("POST", "/p/reminders", None, PARTICIPANTS, 0),
    ("POST", "/p/consent", None, PARTICIPANTS, 0),
    ("GET", "/p/consent/receipt", None, PARTICIPANTS, 0),
    ("GET", "/p/consent/receipt.pdf", None, PARTICIPANTS, 0),
    ("GET", "/p/questionnaires/baseline/phq-9", None, PARTICIPANTS, 0),
    ("POST", "/p/questionnaires/baseline/phq-9", None, PARTICIPANTS, 0),
    ("GET", "/p/answers/{draft_id}", None, {"owner"}, 404),
    ("GET", "/p/answers/{draft_id}/page/1", None, {"owner"}, 404),
    ("POST", "/p/answers/{draft_id}/page/1", None, {"owner"}, 404),
    ("GET", "/p/answers/{draft_id}/page/1/change", None, {"owner"}, 404),
    ("GET", "/p/answers/{draft_id}/check", None, {"owner"}, 404),
    ("POST", "/p/answers/{draft_id}/check", None, {"owner"}, 404),
    ("GET", "/p/answers/{draft_id}/done", None, {"owner"}, 404),
    ("GET", "/p/contact", None, PARTICIPANTS, 0),
    ("POST", "/p/contact", None, PARTICIPANTS, 0),
    ("GET", "/p/withdraw", None, PARTICIPANTS, 0),
    ("POST", "/p/withdraw", None, PARTICIPANTS, 0),
    ("POST", "/p/withdraw/confirm", None, PARTICIPANTS, 0),
    ("GET", "/staff/", None, EVERYONE, 0),
    ("GET", "/staff/sign-in", None, EVERYONE, 0),
    ("POST", "/staff/sign-in", None, EVERYONE, 0),
    ("POST", "/staff/sign-out", None, EVERYONE, 0),
    ("GET", "/staff/alerts", None, {"researcher"}, 0),
    ("GET", "/staff/dashboard", None, {"researcher"}, 0),
    ("POST", "/staff/alerts/{alert_id}/ack", None, {"researcher"}, 0),
    ("GET", "/staff/participants", None, {"researcher"}, 0),
    ("GET", "/staff/participants/{owner}", None, {"researcher"}, 0),
    ("GET", "/staff/participants/{owner}/contact", None, {"researcher"}, 0),
    ("POST", "/staff/participants/{owner}/link", None, {"researcher"}, 0),
    ("POST", "/staff/participants/{owner}/withdrawal", None, {"researcher"}, 0),
    ("GET", "/staff/enrol", None, {"researcher"}, 0),
    ("POST", "/staff/enrol", None, {"researcher"}, 0),
    ("GET", "/staff/tokens", None, {"admin"}, 0),
    ("POST", "/staff/tokens", None, {"admin"}, 0),
    ("POST", "/staff/tokens/{token_id}/revoke", None, {"admin"}, 0),
    ("GET", "/staff/keys", None, {"admin"}, 0),
    ("GET", "/staff/notifications", None, {"admin"}, 0),
    ("POST", "/staff/notifications/{message_id}/retry", None, {"admin"}, 0),
    ("GET", "/staff/participants/{owner}/messages", None, {"researcher"}, 0),
    ("GET", "/staff/exports", None, {"analyst"}, 0),
    ("GET", "/staff/exports/download", None, {"analyst"}, 0),
    ("GET", "/staff/exports/codebook?instrument=phq-9", None, {"analyst"}, 0),
    ("GET", "/staff/exports/quotes", None, {"analyst"}, 0),
    ("GET", "/staff/interviews/{interview_id}/files", None, {"researcher"}, 0),
    ("GET", "/staff/interviews/{interview_id}/files/audio", None, {"researcher"}, 0),
    ("POST", "/staff/interviews/{interview_id}/files/transcript", None, {"researcher"}, 0),
    ("POST", "/staff/interviews/{interview_id}/files/transcript/verify", None, {"researcher"}, 0),
    ("GET", "/staff/exports/{export_id}", None, {"analyst"}, 0),
    ("GET", "/staff/audit", None, {"auditor"}, 0),
    ("GET", "/staff/audit/consent", None, {"auditor"}, 0),
    ("GET", "/staff/audit/consent/checkpoints", None, {"auditor"}, 0),
    ("GET", "/staff/audit/consent/export", None, {"auditor"}, 0),
    ("GET", "/staff/audit/public-key", None, {"auditor"}, 0),
    # Interviews (docs/interviews.md): the researcher's calls, the participant's own.
    ("POST", "/api/v1/participants/{owner}/interviews", {"channel": "phone"}, {"researcher"}, 403),
    ("GET", "/api/v1/interviews/eligible", None, {"researcher"}, 403),
    ("GET", "/api/v1/interviews", None, {"researcher"}, 403),
    ("POST", "/api/v1/interviews/{interview_id}/schedule", "schedule", {"researcher"}, 403),
    ("POST", "/api/v1/interviews/{interview_id}/done", None, {"researcher"}, 403),
    ("POST", "/api/v1/interviews/{interview_id}/cancel", None, {"researcher"}, 403),
    ("POST", "/api/v1/interview-slots", "slot", {"researcher"}, 403),
    ("GET", "/api/v1/interview-slots", None, {"researcher"}, 403),
    ("POST", "/api/v1/interview-slots/{slot_id}/cancel", None, {"researcher"}, 403),
    ("GET", "/api/v1/me/interviews", None, PARTICIPANTS, 0),
    ("POST", "/api/v1/me/interviews/{interview_id}/accept", {}, {"owner"}, 404),
    ("POST", "/api/v1/me/interviews/{interview_id}/decline", None, {"owner"}, 404),
    ("GET", "/p/interviews", None, PARTICIPANTS, 0),
    ("POST", "/p/interviews/{interview_id}", None, {"owner"}, 404),
    ("POST", "/p/interviews/{interview_id}/confirm", None, {"owner"}, 404),
    ("GET", "/staff/interviews", None, {"researcher"}, 0),
    ("POST", "/staff/interviews/invite", "invite-form", {"researcher"}, 0),
    ("POST", "/staff/interviews/slots", "slot-form", {"researcher"}, 0),
    ("POST", "/staff/interviews/slots/{slot_id}/cancel", None, {"researcher"}, 0),
    ("GET", "/staff/interviews/{interview_id}", None, {"researcher"}, 0),
    ("POST", "/staff/interviews/{interview_id}/schedule", "schedule-form", {"researcher"}, 0),
    ("POST", "/staff/interviews/{interview_id}/done", None, {"researcher"}, 0),
    ("POST", "/staff/interviews/{interview_id}/cancel", None, {"researcher"}, 0),
]


def witness_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode("ascii")


def witness_setup(
    app: Flask, client: FlaskClient, make_token: Callable[..., str], path: str, body: object
) -> tuple[str, object]:
    """Fill in a pending witness, or an approved one's co-signature on a fresh checkpoint."""
    if body == "witness":
        return path, {"name": "table.witness", "public_key": witness_key()[1]}
    if "{witness_id}" not in path and "{checkpoint_id}" not in path:
        return path, body
    auditor = {"Authorization": f"Bearer {make_token('auditor')}"}
    key, public = witness_key()
    made = client.post(
        "/api/v1/audit/witnesses",
        json={"name": "table.witness", "public_key": public},
        headers=auditor,
    ).get_json()
    if "{witness_id}" in path:
        return path.replace("{witness_id}", made["id"]), body
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    client.post(f"/api/v1/audit/witnesses/{made['id']}/approve", headers=admin)
    assert (
        app.test_cli_runner().invoke(args=["audit", "checkpoint", "--log", "consent"]).exit_code
        == 0
    )
    listed = client.get("/api/v1/audit/checkpoints?log=consent", headers=auditor).get_json()
    checkpoint = listed["checkpoints"][-1]
    note_body = checkpoint["note"].split("\n\n")[0] + "\n"
    signature = base64.b64encode(key.sign(note_body.encode("utf-8"))).decode("ascii")
    cosign = {"witness_id": made["id"], "signature": signature}
    return path.replace("{checkpoint_id}", checkpoint["id"]), cosign


SLOT_BODY = {"starts_at": "2031-03-04T09:30:00Z", "minutes": 60, "mode": "phone"}


def interview_setup(
    client: FlaskClient,
    researcher: dict[str, str],
    interviewer_id: str,
    owner: str,
    path: str,
    body: object,
) -> tuple[str, object]:
    """Fill in an interview of ``owner`` (in the state the path needs) and a free slot, and
    the bodies that name them: "slot" (a new slot), "schedule" (a free slot's id) and the
    console's forms ("slot-form", "schedule-form", "invite-form", given as form fields)."""
    if "{interview_id}" in path:
        made = client.post(
            f"/api/v1/participants/{owner}/interviews",
            json={"channel": "phone"},
            headers=researcher,
        ).get_json()
        path = path.replace("{interview_id}", made["id"])
        if path.endswith("/done"):
            slot = _new_slot(client, researcher, interviewer_id)
            booked = client.post(
                f"/api/v1/interviews/{made['id']}/schedule",
                json={"slot_id": slot},
                headers=researcher,
            )
            assert booked.status_code == 200, booked.get_json()
    if "{slot_id}" in path:
        path = path.replace("{slot_id}", _new_slot(client, researcher, interviewer_id))
    forms: dict[object, dict[str, str]] = {
        "slot-form": {
            "starts_on": "2031-03-04", "starts_time": "09:30", "minutes": "60", "mode": "video",
            "interviewer_id": interviewer_id,
        },
        "invite-form": {"study_id": owner, "channel": "phone"},
    }  # fmt: skip
    if body == "slot":
        body = {**SLOT_BODY, "interviewer_id": interviewer_id}
    elif body in ("schedule", "schedule-form"):
        slot = _new_slot(client, researcher, interviewer_id)
        body = {"slot_id": slot} if body == "schedule" else InterviewForm({"slot_id": slot})
    elif isinstance(body, str) and body in forms:
        body = InterviewForm(forms[body])
    return path, body


@dataclass
class InterviewForm:
    """A console form's fields, posted form-encoded."""

    fields: dict[str, str]


def _new_slot(client: FlaskClient, researcher: dict[str, str], interviewer_id: str) -> str:
    made = client.post(
        "/api/v1/interview-slots",
        json={**SLOT_BODY, "interviewer_id": interviewer_id},
        headers=researcher,
    )
    assert made.status_code == 201, made.get_json()
    return str(made.get_json()["id"])


# Routes about an interview's files: their interview is made with its files.
RECORDING_ENDS = ("/audio", "/transcript", "/transcript/verify")

# Bodies that are not JSON: a recording, a transcript.
RAW_BODIES = {
    "audio": {"Content-Type": "audio/ogg"},
    "transcript": {"Content-Type": "text/plain; charset=utf-8"},
}


def recorded_interview(client: FlaskClient, session: Session, world: World) -> str:
    """An interview of the owner's with a recording and a transcript stored."""
    interview = scheduled_interview(session, world.owner)
    for kind, media in RAW_BODIES.items():
        stored = client.put(
            f"/api/v1/interviews/{interview}/{kind}",
            data=b"stored",
            headers={**world.researcher, **media},
        )
        assert stored.status_code == 201, stored.get_json()
    return interview


def headers_for(caller: str | None, world: World, make_token: Callable[..., str]) -> dict:
    if caller is None:
        return {}
    token = {
        "bad-token": "psam_s_" + "A" * 49,
        "owner": world.owner_token,
        "other": world.other_token,
    }.get(caller) or make_token(caller)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "path", "body", "allowed", "other_gets"), TABLE)
@pytest.mark.parametrize("caller", CALLERS)
def test_caller_against_endpoint(
    app: Flask,
    client: FlaskClient,
    world: World,
    make_token: Callable[..., str],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    caller: str | None,
    method: str,
    path: str,
    body: object,
    allowed: set,
    other_gets: int,
) -> None:
    monkeypatch.setitem(app.config, "PSAM_ENROLMENT_CODE", "open-sesame")
    if "{token_id}" in path:
        victim = client.post(
            "/api/v1/tokens",
            json={"label": "victim", "roles": ["analyst"]},
            headers={"Authorization": f"Bearer {make_token('admin')}"},
        ).get_json()
        path = path.replace("{token_id}", victim["id"])
    if "{export_id}" in path:
        done = client.get(
            "/api/v1/exports/responses?instrument=phq-9",
            headers={"Authorization": f"Bearer {make_token('analyst')}"},
        )
        done.get_data()  # read to its end: the export completes inside the test's transaction
        path = path.replace("{export_id}", done.headers["X-Export-Id"])
    # No such message: the caller is let in (or not) before the lookup's 404.
    path = path.replace("{message_id}", str(uuid.uuid4()))
    path, body = witness_setup(app, client, make_token, path, body)
    if "{interview_id}" in path and (path.endswith(RECORDING_ENDS) or "/files" in path):
        path = path.replace("{interview_id}", recorded_interview(client, session, world))
    interviewer = str(create_staff_token(session, ["researcher"], "interviewer")[0].id)
    path, body = interview_setup(client, world.researcher, interviewer, world.owner, path, body)
    path = path.format(owner=world.owner, alert_id=world.alert_id, draft_id=world.draft_id)
    if body == "signature":
        body = valid_signature(client)
    headers = headers_for(caller, world, make_token)
    if isinstance(body, InterviewForm):
        response = client.open(path, method=method, data=body.fields, headers=headers)
    elif isinstance(body, str) and body in RAW_BODIES:
        response = client.open(
            path, method=method, data=b"raw body", headers={**headers, **RAW_BODIES[body]}
        )
    else:
        response = client.open(path, method=method, json=body, headers=headers)
    if caller in allowed and path.startswith(("/p/", "/staff/")):
        # A page lets the caller in and may then answer a form's faults (or a missing CSRF
        # token) on the page itself, or send them on with a redirect.
        assert response.status_code not in (401, 403), response.get_data(as_text=True)
    elif caller in allowed:
        assert response.status_code < 300, response.get_data(as_text=True)
    elif caller in (None, "bad-token"):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif caller == "other" and other_gets == 404:
        assert response.status_code == 404
    else:
        assert response.status_code == 403
        if path.startswith("/fhir/"):  # the FHIR face's errors are OperationOutcomes
            assert response.get_json()["issue"][0]["code"] == "forbidden"
        else:
            assert response.get_json()["type"] == "/api/v1/problems/forbidden"


def test_the_table_covers_every_route_the_app_serves(app: Flask) -> None:
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    replacements = {
        "<path:name>": "init.mjs",
        "<language>/<path:back>": "cy/help",
        "<language>": "cy",
        "<timepoint>": "baseline",
        "<int:number>": "1",
        "<instrument_id>": "phq-9",
        "<version>": "1.0.0",
        "<code>": "not-found",
        "<name>": "swagger-ui.css",
        "<uuid:token_id>": "{token_id}",
        "<study_id>": "{owner}",
        "<uuid:alert_id>": "{alert_id}",
        "<uuid:response_id>": "{draft_id}",
        "<uuid:export_id>": "{export_id}",
        "<uuid:witness_id>": "{witness_id}",
        "<uuid:checkpoint_id>": "{checkpoint_id}",
        "<uuid:message_id>": "{message_id}",
        "<uuid:interview_id>": "{interview_id}",
        "<uuid:slot_id>": "{slot_id}",
        "<kind>": "audio",
        "<log>": "consent",
        "/exports/responses": "/exports/responses?instrument=phq-9",
        "/exports/codebook": "/exports/codebook?instrument=phq-9",
        "<resource_id>": "consent-log-1",
        "/$export": "/$export?instrument=phq-9",
    }
    normalised = set()
    for method, rule in served:
        for old, new in replacements.items():
            rule = rule.replace(old, new)
        normalised.add((method, rule))
    assert normalised == {(method, path) for method, path, *_ in TABLE}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer psam_s_" + "A" * 49,  # right shape, wrong checksum
        "Bearer psam_p_" + "A" * 49,
        "Bearer not-a-token",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer ",
        "psam_s_xyz",
    ],
)
def test_a_bad_authorization_header_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/tokens", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_token_is_not_accepted_in_the_query_string(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    token = make_token("admin")
    assert client.get(f"/api/v1/tokens?access_token={token}").status_code == 401
    assert (
        client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
