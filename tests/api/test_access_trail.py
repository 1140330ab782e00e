"""Every staff route writes exactly one access-log event naming the caller by token id.

The table is checked against the app's URL map: a new staff route without a row fails
``test_the_trail_table_covers_every_staff_route``. An analyst export is the one route with
two events (see docs/access-log.md): one before the first row leaves, one when it ends.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from service.api.access import view_access
from service.db import utcnow
from service.domain.tokens import STAFF_ROLES
from service.models import AccessLogEntry, Notification
from service.services.tokens import create_staff_token
from tests.api.test_access_table import InterviewForm, interview_setup, witness_setup
from tests.conftest import asked_version, valid_signature
from tests.interviews import scheduled_interview

CANARY = "Canary Jane Doe 7731"
# Routes about an interview's files: their interview is made with its files (fill_path).
RECORDING_ENDS = ("/audio", "/transcript", "/transcript/verify")
PHQ9_ALERTING = {**{f"phq9_{i}": 1 for i in range(1, 10)}, "phq9_10": 1}


@dataclass(frozen=True)
class Form:
    """A console page's form body (sent form-encoded; a bearer token needs no CSRF token)."""

    fields: dict[str, str]


@dataclass(frozen=True)
class Raw:
    """A body that is not JSON (a recording, a transcript), with its media type."""

    data: bytes
    media_type: str


# rule -> (method, role, query or body, the access-log actions the call adds)
TABLE: dict[tuple[str, str], tuple[str, str, object, tuple[str, ...]]] = {
    ("GET", "/api/v1/tokens"): ("admin", "", None, ("token.list",)),
    ("POST", "/api/v1/tokens"): (
        "admin",
        "",
        {"label": CANARY, "roles": ["analyst"]},
        ("token.create",),
    ),
    ("POST", "/api/v1/tokens/<uuid:token_id>/revoke"): ("admin", "", None, ("token.revoke",)),
    ("POST", "/api/v1/participants"): (
        "researcher",
        "",
        {"contact": {"name": "Sam Example"}},
        ("participant.enrol",),
    ),
    ("GET", "/api/v1/participants"): ("researcher", "", None, ("participants.list",)),
    ("GET", "/api/v1/participants/<study_id>"): ("researcher", "", None, ("participant.read",)),
    ("GET", "/api/v1/participants/<study_id>/contact"): (
        "researcher",
        "",
        None,
        ("participant.contact.read",),
    ),
    ("GET", "/api/v1/participants/<study_id>/messages"): (
        "researcher",
        "",
        None,
        ("participant.messages.read",),
    ),
    ("POST", "/api/v1/participants/<study_id>/token"): (
        "researcher",
        "",
        None,
        ("participant.token.reissue",),
    ),
    ("POST", "/api/v1/participants/<study_id>/withdrawal"): (
        "researcher",
        "",
        {"scope": "stop"},
        ("participant.withdraw",),
    ),
    ("GET", "/api/v1/alerts"): ("researcher", "", None, ("alerts.read",)),
    ("POST", "/api/v1/alerts/<uuid:alert_id>/ack"): (
        "researcher",
        "",
        {"note": "called, safe"},
        ("alert.ack",),
    ),
    ("GET", "/api/v1/exports/responses"): (
        "analyst",
        "?instrument=phq-9",
        None,
        ("export.responses.start", "export.responses"),
    ),
    ("GET", "/api/v1/exports/quotes"): (
        "analyst",
        "",
        None,
        ("export.quotes.start", "export.quotes"),
    ),
    ("PUT", "/api/v1/interviews/<uuid:interview_id>/audio"): (
        "researcher",
        "",
        Raw(b"a recording", "audio/ogg"),
        ("interview.audio.upload",),
    ),
    ("GET", "/api/v1/interviews/<uuid:interview_id>/audio"): (
        "researcher",
        "",
        None,
        ("interview.audio.read",),
    ),
    ("PUT", "/api/v1/interviews/<uuid:interview_id>/transcript"): (
        "researcher",
        "",
        Raw(b"a transcript", "text/plain; charset=utf-8"),
        ("interview.transcript.upload",),
    ),
    ("GET", "/api/v1/interviews/<uuid:interview_id>/transcript"): (
        "researcher",
        "",
        None,
        ("interview.transcript.read",),
    ),
    ("POST", "/api/v1/interviews/<uuid:interview_id>/transcript/verify"): (
        "researcher",
        "",
        None,
        ("interview.transcript.verify",),
    ),
    ("GET", "/api/v1/exports/codebook"): (
        "analyst",
        "?instrument=phq-9",
        None,
        ("export.codebook.read",),
    ),
    ("GET", "/api/v1/exports"): ("analyst", "", None, ("export.manifests.read",)),
    ("GET", "/api/v1/exports/<uuid:export_id>"): (
        "analyst",
        "",
        None,
        ("export.manifest.read",),
    ),
    ("GET", "/api/v1/audit/consent-log"): ("auditor", "", None, ("audit.consent-log.read",)),
    ("GET", "/api/v1/audit/consent-log/verify"): (
        "auditor",
        "",
        None,
        ("audit.consent-log.verify",),
    ),
    ("GET", "/api/v1/audit/access-log"): ("auditor", "", None, ("audit.access-log.read",)),
    ("GET", "/api/v1/audit/access-log/verify"): (
        "auditor",
        "",
        None,
        ("audit.access-log.verify",),
    ),
    ("GET", "/api/v1/audit/checkpoints"): ("auditor", "", None, ("audit.checkpoints.read",)),
    ("GET", "/api/v1/audit/public-key"): ("auditor", "", None, ("audit.public-key.read",)),
    ("POST", "/api/v1/audit/witnesses"): ("auditor", "", "witness", ("audit.witness.register",)),
    ("GET", "/api/v1/audit/witnesses"): ("auditor", "", None, ("audit.witnesses.read",)),
    ("GET", "/fhir/r4/QuestionnaireResponse/$export"): (
        "analyst",
        "?instrument=phq-9",
        None,
        ("export.responses.start", "export.responses"),
    ),
    ("GET", "/fhir/r4/Consent"): ("auditor", "", None, ("fhir.consent.search",)),
    ("GET", "/fhir/r4/Consent/<resource_id>"): ("auditor", "", None, ("fhir.consent.read",)),
    ("POST", "/api/v1/audit/witnesses/<uuid:witness_id>/approve"): (
        "admin",
        "",
        None,
        ("audit.witness.approve",),
    ),
    ("POST", "/api/v1/audit/checkpoints/<uuid:checkpoint_id>/cosign"): (
        "auditor",
        "",
        "cosign",
        ("audit.checkpoint.cosign",),
    ),
    ("GET", "/staff/alerts"): ("researcher", "", None, ("alerts.read",)),
    ("GET", "/staff/dashboard"): ("researcher", "", None, ("dashboard.read",)),
    ("POST", "/staff/alerts/<uuid:alert_id>/ack"): (
        "researcher",
        "",
        Form({"note": "called, safe"}),
        ("alert.ack",),
    ),
    ("GET", "/staff/participants"): ("researcher", "", None, ("participants.list",)),
    ("GET", "/staff/participants/<study_id>"): ("researcher", "", None, ("participant.read",)),
    ("GET", "/staff/participants/<study_id>/contact"): (
        "researcher",
        "",
        None,
        ("participant.contact.read",),
    ),
    ("POST", "/staff/participants/<study_id>/link"): (
        "researcher",
        "",
        None,
        ("participant.token.reissue",),
    ),
    ("POST", "/staff/participants/<study_id>/withdrawal"): (
        "researcher",
        "",
        Form({"scope": "stop", "confirmed": "yes"}),
        ("participant.withdraw",),
    ),
    ("GET", "/staff/enrol"): ("researcher", "", None, ()),  # the form alone: nothing read
    ("POST", "/staff/enrol"): (
        "researcher",
        "",
        Form({"name": CANARY}),
        ("participant.enrol",),
    ),
    ("GET", "/staff/tokens"): ("admin", "", None, ("token.list",)),
    ("POST", "/staff/tokens"): (
        "admin",
        "",
        Form({"label": CANARY, "roles": "analyst"}),
        ("token.create",),
    ),
    ("POST", "/staff/tokens/<uuid:token_id>/revoke"): ("admin", "", None, ("token.revoke",)),
    ("GET", "/staff/keys"): ("admin", "", None, ("keys.status.read",)),
    ("GET", "/staff/notifications"): ("admin", "", None, ("notifications.list",)),
    ("POST", "/staff/notifications/<uuid:message_id>/retry"): (
        "admin",
        "",
        None,
        ("notifications.retry",),
    ),
    ("GET", "/staff/participants/<study_id>/messages"): (
        "researcher",
        "",
        None,
        ("participant.messages.read",),
    ),
    ("GET", "/staff/exports"): ("analyst", "", None, ("export.manifests.read",)),
    ("GET", "/staff/exports/download"): (
        "analyst",
        "?instrument=phq-9",
        None,
        ("export.responses.start", "export.responses"),
    ),
    ("GET", "/staff/exports/quotes"): (
        "analyst",
        "",
        None,
        ("export.quotes.start", "export.quotes"),
    ),
    ("GET", "/staff/interviews/<uuid:interview_id>/files"): (
        "researcher",
        "",
        None,
        ("interview.files.read",),
    ),
    ("GET", "/staff/interviews/<uuid:interview_id>/files/<kind>"): (
        "researcher",
        "",
        None,
        ("interview.audio.read",),
    ),
    ("POST", "/staff/interviews/<uuid:interview_id>/files/transcript"): (
        "researcher",
        "",
        Form({"transcript": "Interviewer: and then?"}),
        ("interview.transcript.upload",),
    ),
    ("POST", "/staff/interviews/<uuid:interview_id>/files/transcript/verify"): (
        "researcher",
        "",
        None,
        ("interview.transcript.verify",),
    ),
    ("GET", "/staff/exports/codebook"): (
        "analyst",
        "?instrument=phq-9",
        None,
        ("export.codebook.read",),
    ),
    ("GET", "/staff/exports/<uuid:export_id>"): ("analyst", "", None, ("export.manifest.read",)),
    ("GET", "/staff/audit"): (
        "auditor",
        "",
        None,
        ("audit.consent-log.verify", "audit.access-log.verify"),
    ),
    ("GET", "/staff/audit/<log>"): ("auditor", "", None, ("audit.consent-log.read",)),
    ("GET", "/staff/audit/<log>/checkpoints"): (
        "auditor",
        "",
        None,
        ("audit.checkpoints.read",),
    ),
    ("GET", "/staff/audit/<log>/export"): ("auditor", "", None, ("audit.consent-log.export",)),
    ("GET", "/staff/audit/public-key"): ("auditor", "", None, ("audit.public-key.read",)),
    # Interviews: each view and each change is one event, by ids only.
    ("POST", "/api/v1/participants/<study_id>/interviews"): (
        "researcher",
        "",
        {"channel": "phone"},
        ("interview.invite",),
    ),
    ("GET", "/api/v1/interviews/eligible"): ("researcher", "", None, ("interviews.eligible.read",)),
    ("GET", "/api/v1/interviews"): ("researcher", "", None, ("interviews.read",)),
    ("POST", "/api/v1/interviews/<uuid:interview_id>/schedule"): (
        "researcher",
        "",
        "schedule",
        ("interview.schedule",),
    ),
    ("POST", "/api/v1/interviews/<uuid:interview_id>/done"): (
        "researcher",
        "",
        None,
        ("interview.done",),
    ),
    ("POST", "/api/v1/interviews/<uuid:interview_id>/cancel"): (
        "researcher",
        "",
        None,
        ("interview.cancel",),
    ),
    ("POST", "/api/v1/interview-slots"): ("researcher", "", "slot", ("interview.slot.create",)),
    ("GET", "/api/v1/interview-slots"): ("researcher", "", None, ("interview.slots.read",)),
    ("POST", "/api/v1/interview-slots/<uuid:slot_id>/cancel"): (
        "researcher",
        "",
        None,
        ("interview.slot.cancel",),
    ),
    ("GET", "/staff/interviews"): ("researcher", "", None, ("interviews.overview.read",)),
    ("POST", "/staff/interviews/invite"): ("researcher", "", "invite-form", ("interview.invite",)),
    ("POST", "/staff/interviews/slots"): (
        "researcher",
        "",
        "slot-form",
        ("interview.slot.create",),
    ),
    ("POST", "/staff/interviews/slots/<uuid:slot_id>/cancel"): (
        "researcher",
        "",
        None,
        ("interview.slot.cancel",),
    ),
    ("GET", "/staff/interviews/<uuid:interview_id>"): ("researcher", "", None, ("interview.read",)),
    ("POST", "/staff/interviews/<uuid:interview_id>/schedule"): (
        "researcher",
        "",
        "schedule-form",
        ("interview.schedule",),
    ),
    ("POST", "/staff/interviews/<uuid:interview_id>/done"): (
        "researcher",
        "",
        None,
        ("interview.done",),
    ),
    ("POST", "/staff/interviews/<uuid:interview_id>/cancel"): (
        "researcher",
        "",
        None,
        ("interview.cancel",),
    ),
}


def a_failed_message(session: Session) -> str:
    """The id of a message the worker gave up on."""
    row = Notification(
        dedupe_key=f"test:{uuid.uuid4()}",
        kind="safety-alert",
        channel="email",
        status="failed",
        attempts=8,
        created_at=utcnow(),
        due_at=utcnow(),
        last_error="ConnectionRefusedError",
    )
    session.add(row)
    session.commit()
    return str(row.id)


def staff_routes(app: Flask) -> set[tuple[str, str]]:
    """Every (method, rule) that a staff token may call, from the URL map."""
    found = set()
    for rule in app.url_map.iter_rules():
        access = view_access(app, rule.endpoint) if rule.endpoint in app.view_functions else None
        if access is None or access.public or not access.roles & set(STAFF_ROLES):
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((method, rule.rule))
    return found


@dataclass
class Staff:
    """One token per staff role, each labelled with the canary, and its row id."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def staff(session: Session) -> Staff:
    made = Staff()
    for role in STAFF_ROLES:
        row, token = create_staff_token(session, [role], f"{CANARY} ({role})")
        made.headers[role] = {"Authorization": f"Bearer {token}"}
        made.ids[role] = str(row.id)
    return made


def consented_with_alert(client: FlaskClient, staff: Staff) -> tuple[str, str]:
    """A participant with contact details, consent to everything and an open alert."""
    made = client.post(
        "/api/v1/participants",
        json={"contact": {"name": "Sam Example", "email": "sam@example.org"}},
        headers=staff.headers["researcher"],
    ).get_json()
    own = {"Authorization": f"Bearer {made['token']}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
        == 201
    )
    submitted = {
        "instrument": "phq-9",
        "version": asked_version(client, own, "phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9_ALERTING,
        "submit": True,
    }
    assert client.post("/api/v1/me/responses", json=submitted, headers=own).status_code == 201
    alerts = client.get("/api/v1/alerts", headers=staff.headers["researcher"]).get_json()
    alert_id = next(a["id"] for a in alerts["alerts"] if a["study_id"] == made["study_id"])
    return made["study_id"], alert_id


def fill_path(rule: str, client: FlaskClient, staff: Staff, session: Session) -> str:
    """The rule with each placeholder replaced by a real, fitting value."""
    if "<uuid:interview_id>" in rule:
        rule = rule.replace("<uuid:interview_id>", recorded_interview(client, staff, session))
    if "<study_id>" in rule or "<uuid:alert_id>" in rule:
        study_id, alert_id = consented_with_alert(client, staff)
        rule = rule.replace("<study_id>", study_id).replace("<uuid:alert_id>", alert_id)
    if "<uuid:token_id>" in rule:
        victim = client.post(
            "/api/v1/tokens",
            json={"label": CANARY, "roles": ["analyst"]},
            headers=staff.headers["admin"],
        ).get_json()
        rule = rule.replace("<uuid:token_id>", victim["id"])
    if "<uuid:export_id>" in rule:
        done = client.get(
            "/api/v1/exports/responses?instrument=phq-9", headers=staff.headers["analyst"]
        )
        done.get_data()
        rule = rule.replace("<uuid:export_id>", done.headers["X-Export-Id"])
    rule = rule.replace("<log>", "consent").replace("<kind>", "audio")
    if "<resource_id>" in rule:
        consented_with_alert(client, staff)  # a consent-log event to read
        rule = rule.replace("<resource_id>", "consent-log-1")
    assert "<" not in rule, f"no value for a placeholder in {rule}"
    return rule


def recorded_interview(client: FlaskClient, staff: Staff, session: Session) -> str:
    """An interview of a consenting participant, with a recording and a transcript."""
    study_id, _alert = consented_with_alert(client, staff)
    interview = scheduled_interview(session, study_id)
    for kind, media in (("audio", "audio/ogg"), ("transcript", "text/plain; charset=utf-8")):
        stored = client.put(
            f"/api/v1/interviews/{interview}/{kind}",
            data=b"stored",
            headers={**staff.headers["researcher"], "Content-Type": media},
        )
        assert stored.status_code == 201, stored.get_json()
    return interview


def access_events_after(connection: Connection, seq: int) -> list[dict]:
    rows = connection.execute(
        select(AccessLogEntry.event).where(AccessLogEntry.seq > seq).order_by(AccessLogEntry.seq)
    )
    return [json.loads(event) for (event,) in rows]


def access_head(connection: Connection) -> int:
    return int(connection.execute(select(func.coalesce(func.max(AccessLogEntry.seq), 0))).scalar())


def test_the_trail_table_covers_every_staff_route(app: Flask) -> None:
    assert staff_routes(app) == set(TABLE)


@pytest.mark.parametrize(
    ("method", "rule"), [pytest.param(m, r, id=f"{m} {r}") for m, r in sorted(TABLE)]
)
def test_a_staff_call_adds_exactly_its_access_log_event_naming_the_token_by_id(
    app: Flask,
    make_token: Callable[..., str],
    client: FlaskClient,
    connection: Connection,
    session: Session,
    staff: Staff,
    method: str,
    rule: str,
) -> None:
    role, query, body, expected = TABLE[(method, rule)]
    if "<uuid:message_id>" in rule:
        rule = rule.replace("<uuid:message_id>", a_failed_message(session))
    if "<uuid:checkpoint_id>" in rule:
        consented_with_alert(client, staff)  # a consent log with something to sign
    witnessed = rule.replace("<uuid:witness_id>", "{witness_id}")
    witnessed = witnessed.replace("<uuid:checkpoint_id>", "{checkpoint_id}")
    witnessed, body = witness_setup(app, client, make_token, witnessed, body)
    if "interview" in rule and not rule.endswith(RECORDING_ENDS) and "/files" not in rule:
        witnessed = witnessed.replace("<uuid:interview_id>", "{interview_id}")
        witnessed = witnessed.replace("<uuid:slot_id>", "{slot_id}")
        owner = consented_with_alert(client, staff)[0]
        witnessed = witnessed.replace("<study_id>", owner)
        witnessed, body = interview_setup(
            client, staff.headers["researcher"], staff.ids["researcher"], owner, witnessed, body
        )
        body = Form(body.fields) if isinstance(body, InterviewForm) else body
    path = fill_path(witnessed, client, staff, session) + query
    before = access_head(connection)
    if isinstance(body, Raw):
        headers = {**staff.headers[role], "Content-Type": body.media_type}
        response = client.open(path, method=method, data=body.data, headers=headers)
    elif isinstance(body, Form):
        response = client.open(path, method=method, data=body.fields, headers=staff.headers[role])
    else:
        response = client.open(path, method=method, json=body, headers=staff.headers[role])
    response.get_data()  # a streamed export logs its end when the stream is consumed
    # A console form that succeeded sends the browser on to the next page (303).
    done = response.status_code < 300 or (
        rule.startswith("/staff/") and response.status_code == 303
    )
    assert done, response.get_data(as_text=True)
    added = access_events_after(connection, before)
    assert [event["action"] for event in added] == list(expected)
    for event in added:
        assert event["type"] == "access"
        assert event["actor"] == {"kind": "staff", "token_id": staff.ids[role]}
        assert CANARY not in json.dumps(event)


def test_a_token_id_in_the_access_log_is_a_real_token(
    client: FlaskClient, connection: Connection, staff: Staff
) -> None:
    before = access_head(connection)
    created = client.post(
        "/api/v1/tokens",
        json={"label": CANARY, "roles": ["auditor", "analyst"]},
        headers=staff.headers["admin"],
    ).get_json()
    client.post(f"/api/v1/tokens/{created['id']}/revoke", headers=staff.headers["admin"])
    create, revoke = access_events_after(connection, before)
    assert create["filters"] == {"token_id": created["id"], "roles": ["analyst", "auditor"]}
    assert revoke["filters"] == {"token_id": created["id"]}
    assert uuid.UUID(create["actor"]["token_id"]) == uuid.UUID(staff.ids["admin"])


def test_a_refused_staff_call_writes_no_access_log_event(
    client: FlaskClient, connection: Connection, staff: Staff
) -> None:
    study_id, _alert = consented_with_alert(client, staff)
    client.post(
        f"/api/v1/participants/{study_id}/withdrawal",
        json={"scope": "no-further-contact"},
        headers=staff.headers["researcher"],
    )
    before = access_head(connection)
    unknown = client.post(f"/api/v1/tokens/{uuid.uuid4()}/revoke", headers=staff.headers["admin"])
    assert unknown.status_code == 404
    refused = client.get(
        f"/api/v1/participants/{study_id}/contact", headers=staff.headers["researcher"]
    )
    assert refused.status_code == 403
    assert access_head(connection) == before
