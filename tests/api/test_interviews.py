"""Interviews over the API: invitations gated by the interview-contact clause, slots, every
transition, the withdrawal that cancels what is open, and the messages a real SMTP server
receives."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.models import AccessLogEntry, Notification
from service.services.tokens import create_staff_token
from tests.conftest import valid_signature
from tests.integration.test_notifications import TOPIC_WORDS, make_worker
from tests.mailbox import Mailbox

Headers = dict[str, str]
NAME, EMAIL = "Canary Ione Marsh", "canary.ione@example.net"
CLAUSE = "c_contact_interview"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def researcher(auth: Callable[..., Headers]) -> Headers:
    return auth("researcher")


@pytest.fixture
def interviewer(session: Session) -> str:
    row, _token = create_staff_token(session, ["researcher"], "Interviewer Canary Ione")
    return str(row.id)


def enrol(
    client: FlaskClient, researcher: Headers, *, contact_clause: bool = True, email: bool = True
) -> tuple[str, Headers]:
    """A consented participant (agreeing, or not, to be contacted about an interview)."""
    contact = {"name": NAME, "email": EMAIL} if email else {"name": NAME}
    made = client.post("/api/v1/participants", json={"contact": contact}, headers=researcher)
    body = made.get_json()
    me = {"Authorization": f"Bearer {body['token']}"}
    signature = valid_signature(client) if contact_clause else without_contact(client)
    assert client.post("/api/v1/me/consent", json=signature, headers=me).status_code == 201
    return body["study_id"], me


def without_contact(client: FlaskClient) -> dict[str, object]:
    """A signature agreeing to the required clauses only (no interview contact)."""
    form = client.get("/api/v1/consent/form").get_json()
    return valid_signature(client, clauses={c["id"]: c["required"] for c in form["clauses"]})


def make_slot(
    client: FlaskClient, researcher: Headers, interviewer: str, days: float = 3, mode: str = "phone"
) -> str:
    starts = (utcnow() + dt.timedelta(days=days)).replace(microsecond=0)
    made = client.post(
        "/api/v1/interview-slots",
        json={
            "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minutes": 60,
            "mode": mode,
            "interviewer_id": interviewer,
        },
        headers=researcher,
    )
    assert made.status_code == 201, made.get_json()
    return str(made.get_json()["id"])


def invite(client: FlaskClient, researcher: Headers, study_id: str, channel: str = "email") -> Any:
    return client.post(
        f"/api/v1/participants/{study_id}/interviews", json={"channel": channel}, headers=researcher
    )


def invited(client: FlaskClient, researcher: Headers, study_id: str, channel: str = "phone") -> str:
    made = invite(client, researcher, study_id, channel)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "invited"
    return str(made.get_json()["id"])


def status_of(client: FlaskClient, me: Headers, interview_id: str) -> str:
    mine = client.get("/api/v1/me/interviews", headers=me).get_json()["interviews"]
    return str(next(i["status"] for i in mine if i["id"] == interview_id))


def outbox(session: Session, study_id: str) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.study_id == study_id)
            .order_by(Notification.created_at, Notification.kind)
        )
    )


def access_events(connection: Connection, action_prefix: str) -> list[dict[str, Any]]:
    rows = connection.execute(select(AccessLogEntry.event).order_by(AccessLogEntry.seq))
    events = [json.loads(event) for (event,) in rows]
    return [e for e in events if e["action"].startswith(action_prefix)]


# --- consent gating ---------------------------------------------------------------------------


def test_an_invitation_is_refused_without_the_interview_contact_clause_naming_it(
    client: FlaskClient, researcher: Headers
) -> None:
    study_id, _me = enrol(client, researcher, contact_clause=False)
    refused = invite(client, researcher, study_id)
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["type"] == "/api/v1/problems/contact-not-permitted"
    assert CLAUSE in body["title"] and CLAUSE in body["detail"]
    listed = client.get("/api/v1/interviews", headers=researcher).get_json()["interviews"]
    assert [i for i in listed if i["study_id"] == study_id] == []


def test_with_the_clause_in_force_the_invitation_is_made_and_listed_as_eligible(
    client: FlaskClient, researcher: Headers
) -> None:
    agreed, _ = enrol(client, researcher)
    refused, _ = enrol(client, researcher, contact_clause=False)
    eligible = client.get("/api/v1/interviews/eligible", headers=researcher).get_json()
    ids = {p["study_id"]: p for p in eligible["participants"]}
    assert agreed in ids and refused not in ids
    assert ids[agreed] == {"study_id": agreed, "has_email": True, "open_interview": None}
    interview_id = invited(client, researcher, agreed)
    again = client.get("/api/v1/interviews/eligible", headers=researcher).get_json()
    found = next(p for p in again["participants"] if p["study_id"] == agreed)
    assert found["open_interview"] == interview_id


@pytest.mark.parametrize(
    ("scope", "problem"),
    [("no-further-contact", "contact-not-permitted"), ("stop", "withdrawn")],
)
def test_an_invitation_is_refused_after_a_withdrawal(
    client: FlaskClient, researcher: Headers, scope: str, problem: str
) -> None:
    study_id, me = enrol(client, researcher)
    assert (
        client.post("/api/v1/me/withdrawal", json={"scope": scope}, headers=me).status_code == 201
    )
    refused = invite(client, researcher, study_id, "phone")
    assert refused.status_code == 403
    assert refused.get_json()["type"] == f"/api/v1/problems/{problem}"


def test_an_open_invitation_blocks_another_and_email_needs_an_address(
    client: FlaskClient, researcher: Headers, session: Session
) -> None:
    study_id, _ = enrol(client, researcher)
    invited(client, researcher, study_id, "email")
    second = invite(client, researcher, study_id, "phone")
    assert second.status_code == 409
    assert "open interview invitation" in second.get_json()["detail"]

    no_email, _ = enrol(client, researcher, email=False)
    assert invite(client, researcher, no_email, "email").status_code == 409
    invited(client, researcher, no_email, "phone")
    assert outbox(session, no_email) == []  # a call is recorded; nothing is sent


def test_a_bad_channel_or_study_id_is_a_422_naming_the_field(
    client: FlaskClient, researcher: Headers
) -> None:
    study_id, _ = enrol(client, researcher)
    bad = invite(client, researcher, study_id, "pigeon")
    assert bad.status_code == 422 and "channel" in bad.get_json()["errors"]
    wrong = invite(client, researcher, study_id[:-1] + ("0" if study_id[-1] != "0" else "1"))
    assert wrong.status_code == 422 and "study_id" in wrong.get_json()["errors"]


def test_accepting_and_scheduling_are_refused_once_a_new_signature_leaves_the_clause_out(
    client: FlaskClient, researcher: Headers, interviewer: str
) -> None:
    study_id, me = enrol(client, researcher)
    first = invited(client, researcher, study_id)
    signature = without_contact(client)
    assert client.post("/api/v1/me/consent", json=signature, headers=me).status_code == 201
    slot = make_slot(client, researcher, interviewer)
    accept = client.post(f"/api/v1/me/interviews/{first}/accept", json={}, headers=me)
    assert accept.status_code == 403
    assert accept.get_json()["type"] == "/api/v1/problems/contact-not-permitted"
    scheduled = client.post(
        f"/api/v1/interviews/{first}/schedule", json={"slot_id": slot}, headers=researcher
    )
    assert scheduled.status_code == 403
    assert status_of(client, me, first) == "invited"
    # Declining needs no clause: saying no is always allowed.
    assert client.post(f"/api/v1/me/interviews/{first}/decline", headers=me).status_code == 200


# --- transitions ------------------------------------------------------------------------------


def test_accept_without_a_slot_then_the_researcher_schedules_then_done(
    client: FlaskClient, researcher: Headers, interviewer: str, connection: Connection
) -> None:
    study_id, me = enrol(client, researcher)
    interview_id = invited(client, researcher, study_id)
    slot = make_slot(client, researcher, interviewer)
    accepted = client.post(f"/api/v1/me/interviews/{interview_id}/accept", json={}, headers=me)
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    scheduled = client.post(
        f"/api/v1/interviews/{interview_id}/schedule", json={"slot_id": slot}, headers=researcher
    )
    assert scheduled.status_code == 200
    assert scheduled.get_json()["status"] == "scheduled"
    assert scheduled.get_json()["slot"]["id"] == slot
    done = client.post(f"/api/v1/interviews/{interview_id}/done", headers=researcher)
    assert done.get_json()["status"] == "done"
    for path, who in (
        (f"/api/v1/interviews/{interview_id}/done", researcher),
        (f"/api/v1/interviews/{interview_id}/cancel", researcher),
        (f"/api/v1/me/interviews/{interview_id}/decline", me),
    ):
        late = client.post(path, headers=who)
        assert late.status_code == 409, path
        assert late.mimetype == "application/problem+json"
        assert "is done" in late.get_json()["detail"]
    # A done interview keeps its slot: the schedule shows it booked.
    slots = client.get("/api/v1/interview-slots", headers=researcher).get_json()["slots"]
    assert next(s for s in slots if s["id"] == slot)["interview_id"] == interview_id
    changes = [
        (e["action"], e["filters"].get("from"), e["filters"].get("to"))
        for e in access_events(connection, "interview.")
        if e["filters"].get("interview_id") == interview_id
    ]
    assert changes == [
        ("interview.invite", None, None),
        ("interview.accept", "invited", "accepted"),
        ("interview.schedule", "accepted", "scheduled"),
        ("interview.done", "scheduled", "done"),
    ]
    for event in access_events(connection, "interview"):
        assert NAME not in json.dumps(event) and EMAIL not in json.dumps(event)


def test_after_asking_to_be_contacted_the_participant_can_still_choose_a_time_offered(
    client: FlaskClient, researcher: Headers, interviewer: str
) -> None:
    study_id, me = enrol(client, researcher)
    interview_id = invited(client, researcher, study_id)
    accepted = client.post(f"/api/v1/me/interviews/{interview_id}/accept", json={}, headers=me)
    assert accepted.get_json()["status"] == "accepted"
    slot = make_slot(client, researcher, interviewer)
    mine = client.get("/api/v1/me/interviews", headers=me).get_json()
    assert slot in [s["id"] for s in mine["slots"]]  # offered: so it can be chosen
    booked = client.post(
        f"/api/v1/me/interviews/{interview_id}/accept", json={"slot_id": slot}, headers=me
    )
    assert booked.status_code == 200, booked.get_json()
    assert booked.get_json()["status"] == "scheduled"
    assert booked.get_json()["slot"]["id"] == slot


def test_decline_and_cancel_free_the_slot_and_end_the_invitation(
    client: FlaskClient, researcher: Headers, interviewer: str
) -> None:
    study_id, me = enrol(client, researcher)
    slot = make_slot(client, researcher, interviewer)
    first = invited(client, researcher, study_id)
    booked = client.post(
        f"/api/v1/me/interviews/{first}/accept", json={"slot_id": slot}, headers=me
    )
    assert booked.get_json()["status"] == "scheduled"
    mine = client.get("/api/v1/me/interviews", headers=me).get_json()
    assert mine["slots"] == []  # nothing open to choose for
    assert "interviewer_id" not in json.dumps(mine)  # a participant sees no staff token id
    declined = client.post(f"/api/v1/me/interviews/{first}/decline", headers=me)
    assert declined.get_json() == {**declined.get_json(), "status": "declined", "slot": None}
    assert (
        client.post(f"/api/v1/me/interviews/{first}/accept", json={}, headers=me).status_code == 409
    )

    second = invited(client, researcher, study_id)
    mine = client.get("/api/v1/me/interviews", headers=me).get_json()
    assert slot in [s["id"] for s in mine["slots"]]  # the declined one's slot is free again
    client.post(f"/api/v1/me/interviews/{second}/accept", json={"slot_id": slot}, headers=me)
    cancelled = client.post(f"/api/v1/interviews/{second}/cancel", headers=researcher)
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancel_reason"] == "staff"
    slots = client.get("/api/v1/interview-slots", headers=researcher).get_json()["slots"]
    assert next(s for s in slots if s["id"] == slot)["interview_id"] is None


def test_a_slot_booked_by_someone_else_cancelled_or_unknown_cannot_be_chosen(
    client: FlaskClient, researcher: Headers, interviewer: str
) -> None:
    slot = make_slot(client, researcher, interviewer)
    people = [enrol(client, researcher) for _ in range(2)]
    ids = [invited(client, researcher, sid) for sid, _ in people]
    (_, me1), (_, me2) = people
    assert (
        client.post(
            f"/api/v1/me/interviews/{ids[0]}/accept", json={"slot_id": slot}, headers=me1
        ).status_code
        == 200
    )
    taken = client.post(
        f"/api/v1/me/interviews/{ids[1]}/accept", json={"slot_id": slot}, headers=me2
    )
    assert taken.status_code == 409 and "no longer free" in taken.get_json()["detail"]
    # Someone else's invitation is not there at all.
    assert client.post(f"/api/v1/me/interviews/{ids[0]}/decline", headers=me2).status_code == 404
    unknown = client.post(
        f"/api/v1/me/interviews/{ids[1]}/accept",
        json={"slot_id": "00000000-0000-4000-8000-000000000000"},
        headers=me2,
    )
    assert unknown.status_code == 422 and "slot_id" in unknown.get_json()["errors"]
    spare = make_slot(client, researcher, interviewer)
    assert (
        client.post(f"/api/v1/interview-slots/{slot}/cancel", headers=researcher).status_code == 409
    )
    assert (
        client.post(f"/api/v1/interview-slots/{spare}/cancel", headers=researcher).status_code
        == 200
    )
    gone = client.post(
        f"/api/v1/me/interviews/{ids[1]}/accept", json={"slot_id": spare}, headers=me2
    )
    assert gone.status_code == 409
    assert status_of(client, me2, ids[1]) == "invited"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"starts_at": "2020-01-01T10:00:00Z"}, "starts_at"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),
        ({"minutes": 5}, "minutes"),
        ({"mode": "carrier-pigeon"}, "mode"),
        ({"interviewer_id": "00000000-0000-4000-8000-000000000000"}, "interviewer_id"),
        ({"room": "3"}, "room"),
    ],
)
def test_a_bad_slot_is_a_422_naming_the_field_and_nothing_is_stored(
    client: FlaskClient, researcher: Headers, interviewer: str, change: dict[str, Any], field: str
) -> None:
    body = {
        "starts_at": "2030-01-01T10:00:00Z",
        "minutes": 60,
        "mode": "video",
        "interviewer_id": interviewer,
    } | change
    refused = client.post("/api/v1/interview-slots", json=body, headers=researcher)
    assert refused.status_code == 422, refused.get_json()
    assert field in refused.get_json()["errors"]
    assert client.get("/api/v1/interview-slots", headers=researcher).get_json()["slots"] == []


# --- withdrawal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["no-further-contact", "stop"])
def test_a_withdrawal_cancels_open_invitations_and_frees_their_slots_in_its_transaction(
    app: Flask,
    client: FlaskClient,
    researcher: Headers,
    interviewer: str,
    connection: Connection,
    session: Session,
    mailbox: Mailbox,
    scope: str,
) -> None:
    study_id, me = enrol(client, researcher)
    slot = make_slot(client, researcher, interviewer)
    interview_id = invited(client, researcher, study_id, "email")
    client.post(f"/api/v1/me/interviews/{interview_id}/accept", json={"slot_id": slot}, headers=me)
    withdrawn = client.post(
        f"/api/v1/participants/{study_id}/withdrawal", json={"scope": scope}, headers=researcher
    )
    assert withdrawn.status_code == 201
    listed = client.get("/api/v1/interviews", headers=researcher).get_json()["interviews"]
    found = next(i for i in listed if i["id"] == interview_id)
    assert (found["status"], found["cancel_reason"], found["slot"]) == (
        "cancelled",
        "withdrawal",
        None,
    )
    slots = client.get("/api/v1/interview-slots", headers=researcher).get_json()["slots"]
    assert next(s for s in slots if s["id"] == slot)["interview_id"] is None
    [cancel] = [
        e for e in access_events(connection, "interview.cancel")
        if e["filters"]["interview_id"] == interview_id
    ]  # fmt: skip
    assert cancel["filters"]["reason"] == "withdrawal" and cancel["study_id"] == study_id
    # The queued reminder is due later; brought forward, the worker cancels it unsent.
    for row in outbox(session, study_id):
        row.due_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    make_worker(app, mailbox.url).run_pass()
    assert mailbox.messages() == []
    assert {r.status for r in outbox(session, study_id)} == {"cancelled"}


def test_a_withdrawal_that_fails_leaves_the_invitation_open(
    client: FlaskClient, researcher: Headers
) -> None:
    study_id, me = enrol(client, researcher)
    assert (
        client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=me).status_code == 201
    )
    # Already withdrawn: the second is refused, and nothing else changes.
    again = client.post(
        f"/api/v1/participants/{study_id}/withdrawal", json={"scope": "stop"}, headers=researcher
    )
    assert again.status_code == 409


# --- messages ---------------------------------------------------------------------------------


def test_invitation_confirmation_and_reminder_reach_the_mailbox_without_answers_or_study_id(
    app: Flask,
    client: FlaskClient,
    researcher: Headers,
    interviewer: str,
    session: Session,
    mailbox: Mailbox,
) -> None:
    study_id, me = enrol(client, researcher)
    slot = make_slot(client, researcher, interviewer, days=3, mode="video")
    interview_id = invited(client, researcher, study_id, "email")
    worker = make_worker(app, mailbox.url)
    assert worker.run_pass().sent == 1
    [invitation] = mailbox.messages()
    assert invitation["To"] == EMAIL
    assert invitation["Subject"] == "An invitation to talk to the study team"
    token = re.search(r"/p/start#token=(psam_p_\w+)", invitation.get_content())
    assert token is not None
    assert (
        client.get(
            "/api/v1/me/interviews", headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 200
    )  # the link signs in as the participant

    client.post(f"/api/v1/me/interviews/{interview_id}/accept", json={"slot_id": slot}, headers=me)
    rows = outbox(session, study_id)
    kinds = {r.kind: r for r in rows}
    assert set(kinds) == {"interview-invitation", "interview-confirmation", "interview-reminder"}
    starts = dt.datetime.fromisoformat(
        client.get("/api/v1/me/interviews", headers=me)
        .get_json()["interviews"][0]["slot"]["starts_at"]
        .replace("Z", "+00:00")
    )
    reminder = kinds["interview-reminder"]
    due = reminder.due_at if reminder.due_at.tzinfo else reminder.due_at.replace(tzinfo=dt.UTC)
    assert due == starts - dt.timedelta(days=1)
    assert worker.run_pass().sent == 1  # the confirmation now; the reminder waits
    confirmation = mailbox.messages()[1]
    assert confirmation["Subject"] == "Your interview is booked"
    assert "by video call" in confirmation.get_content()
    assert starts.strftime("%H:%M") in confirmation.get_content()

    reminder.due_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert worker.run_pass().sent == 1
    assert mailbox.messages()[2]["Subject"] == "Reminder: your interview tomorrow"
    for raw in mailbox.raw:
        text = raw.decode().lower()
        assert study_id.lower() not in text
        assert NAME.lower() not in text
        assert not [w for w in TOPIC_WORDS if w in text]
        assert interview_id not in text


def test_a_reminder_for_a_time_no_longer_booked_is_cancelled_by_the_worker(
    app: Flask,
    client: FlaskClient,
    researcher: Headers,
    interviewer: str,
    session: Session,
    mailbox: Mailbox,
) -> None:
    study_id, me = enrol(client, researcher)
    first_slot = make_slot(client, researcher, interviewer, days=3)
    second_slot = make_slot(client, researcher, interviewer, days=4)
    interview_id = invited(client, researcher, study_id, "phone")
    client.post(
        f"/api/v1/me/interviews/{interview_id}/accept", json={"slot_id": first_slot}, headers=me
    )
    moved = client.post(
        f"/api/v1/interviews/{interview_id}/schedule",
        json={"slot_id": second_slot},
        headers=researcher,
    )
    assert moved.status_code == 200 and moved.get_json()["slot"]["id"] == second_slot
    for row in outbox(session, study_id):
        row.due_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    make_worker(app, mailbox.url).run_pass()
    sent = {(r.kind, r.dedupe_key.split(":")[2], r.status) for r in outbox(session, study_id)}
    assert sent == {
        ("interview-confirmation", first_slot, "cancelled"),
        ("interview-confirmation", second_slot, "sent"),
        ("interview-reminder", first_slot, "cancelled"),
        ("interview-reminder", second_slot, "sent"),
    }
    assert len(mailbox.messages()) == 2
