"""The outbox and the worker against a real SMTP server (aiosmtpd on a free port): safety
alerts and their escalation, reminders and their rules, retries and failures."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from service.channels.smtp import SmtpChannel
from service.db import utcnow
from service.domain.notifications import check_wording
from service.models import Alert, Notification, Participant
from service.services import notifications as outbox
from service.worker import PassReport, Policy, Worker
from tests.conftest import shipped_version, valid_signature
from tests.mailbox import Mailbox

SAFETY, LEAD, SENDER = "safety@team.example.org", "lead@team.example.org", "study@example.org"
PUBLIC_URL = "https://study.example.org"
NAME, EMAIL, PHONE = "Canary Quinn Harrow", "canary.quinn@example.net", "07700 900123"
# Item 9 "nearly every day" raises the urgent alert; the total (19) stays under 20, so PHQ-9
# 1.1.0's routine "phq9_severe" alert is not raised too: one alert under either protocol.
PHQ9 = {f"phq9_{i}": 2 for i in range(1, 9)} | {"phq9_9": 3, "phq9_10": 3}
# Words that would tell someone else reading the inbox what the study is about.
TOPIC_WORDS = ("miscarriage", "depress", "anxiety", "phq", "mental", "self-harm", "pregnan")

Headers = dict[str, str]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


def make_worker(app: Flask, smtp_url: str, **changes: Any) -> Worker:
    settings = outbox.Settings(
        public_url=PUBLIC_URL,
        safety_email=SAFETY,
        escalation_email=LEAD,
        escalate_after=changes.pop("escalate_after", dt.timedelta(hours=24)),
        wording=check_wording({}),
    )
    config = dict(app.config) | {"PSAM_NOTIFY_RETRY_SECONDS": 0} | changes.pop("config", {})
    policy = Policy.from_config(config)
    return Worker(
        app.extensions["psam_db"],
        app.extensions["psam_keys"],
        SmtpChannel(smtp_url, SENDER, timeout=5),
        settings,
        policy,
        **changes,
    )


def enrol(
    client: FlaskClient, researcher: Headers, contact: dict[str, str] | None
) -> tuple[str, Headers]:
    body = {"contact": contact} if contact is not None else {}
    made = client.post("/api/v1/participants", json=body, headers=researcher).get_json()
    me = {"Authorization": f"Bearer {made['token']}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
        == 201
    )
    return made["study_id"], me


@pytest.fixture
def researcher(auth: Callable[..., Headers]) -> Headers:
    return auth("researcher")


def post_phq9(client: FlaskClient, me: Headers) -> Any:
    return client.post(
        "/api/v1/me/responses",
        json={
            "instrument": "phq-9",
            "version": shipped_version("phq-9"),
            "timepoint": "baseline",
            "answers": PHQ9,
            "submit": True,
        },
        headers=me,
    )


def submit_phq9(client: FlaskClient, me: Headers) -> None:
    done = post_phq9(client, me)
    assert done.status_code in (200, 201), done.get_json()


def outbox_rows(session: Session, **where: Any) -> list[Notification]:
    session.expire_all()
    query = select(Notification).order_by(Notification.created_at)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(session.scalars(query))


def test_an_urgent_alert_is_emailed_to_the_safety_team_without_answers_or_identifiers(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    study_id, me = enrol(client, researcher, {"name": NAME, "email": EMAIL, "phone": PHONE})
    submit_phq9(client, me)
    queued = outbox_rows(session, study_id=study_id, kind="safety-alert")
    alert = session.scalars(select(Alert).where(Alert.study_id == study_id)).one()
    assert [(r.status, r.alert_id) for r in queued] == [("pending", alert.id)]

    report = make_worker(app, mailbox.url).run_pass()

    assert report.sent == 1
    [mail] = mailbox.messages()
    assert mailbox.recipients == [[SAFETY]]
    assert mail["From"] == SENDER and mail["To"] == SAFETY
    assert mail["Message-ID"] == f"<{queued[0].id}@example.org>"
    assert mail["Subject"] == "Urgent: a safety alert needs review"
    body = mail.get_content()
    assert f"{PUBLIC_URL}/staff/alerts" in body
    assert alert.raised_at.strftime("%Y-%m-%d %H:%M UTC") in body
    raw = mailbox.raw[0].lower()
    for secret in (NAME, EMAIL, PHONE, study_id, "nearly every day", "phq9", "score", "severe"):
        assert secret.lower().encode() not in raw, secret
    [sent] = outbox_rows(session, study_id=study_id, kind="safety-alert")
    assert sent.status == "sent" and sent.sent_at is not None and sent.attempts == 1


def test_an_alert_left_open_is_escalated_and_an_acknowledged_one_is_not(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    first, me1 = enrol(client, researcher, None)
    second, me2 = enrol(client, researcher, None)
    submit_phq9(client, me1)
    submit_phq9(client, me2)
    acked = session.scalars(select(Alert).where(Alert.study_id == second)).one()
    answer = client.post(
        f"/api/v1/alerts/{acked.id}/ack", json={"note": "called"}, headers=researcher
    )
    assert answer.status_code == 200
    worker = make_worker(app, mailbox.url, escalate_after=dt.timedelta(seconds=0))

    report = worker.run_pass()

    # Two safety messages would have gone; the acknowledged alert's is cancelled.
    assert (report.sent, report.cancelled) == (2, 1)
    assert sorted(r[0] for r in mailbox.recipients) == [LEAD, SAFETY]
    escalation = next(m for m in mailbox.messages() if m["To"] == LEAD)
    assert escalation["Subject"] == "Urgent: a safety alert is still not reviewed"
    assert outbox_rows(session, study_id=second, kind="safety-escalation") == []
    assert [r.status for r in outbox_rows(session, study_id=first)] == ["sent", "sent"]
    # Escalation is once per alert, however often the scheduler runs.
    assert worker.run_pass().queued == 0


def test_with_smtp_down_messages_wait_and_go_once_it_is_back(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    for _ in range(3):
        submit_phq9(client, enrol(client, researcher, None)[1])
    mailbox.stop()
    worker = make_worker(app, mailbox.url)

    down = worker.run_pass()
    rows = outbox_rows(session, kind="safety-alert")
    assert (down.sent, down.retried) == (0, 3)
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {
        ("pending", 1, "ConnectionRefusedError")
    }

    mailbox.start()
    back = worker.run_pass()
    assert back.sent == 3
    assert len(mailbox.messages()) == 3
    assert {r.status for r in outbox_rows(session, kind="safety-alert")} == {"sent"}
    assert len({m["Message-ID"] for m in mailbox.messages()}) == 3


def test_after_its_last_try_a_message_fails_with_a_reason_free_of_secrets_and_can_be_retried(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    submit_phq9(client, enrol(client, researcher, None)[1])
    mailbox.stop()
    password_url = f"smtp://mailer:Pa55-s3cret@127.0.0.1:{mailbox.port}"
    worker = make_worker(app, password_url, config={"PSAM_NOTIFY_MAX_ATTEMPTS": 2})
    assert worker.run_pass().retried == 1
    assert worker.run_pass().failed == 1
    [row] = outbox_rows(session, kind="safety-alert")
    assert (row.status, row.attempts) == ("failed", 2)
    assert "Pa55" not in (row.last_error or "") and "mailer" not in (row.last_error or "")
    assert worker.run_pass().sent == 0  # failed stays failed

    listed = app.test_cli_runner().invoke(args=["notifications", "list", "--status", "failed"])
    assert listed.exit_code == 0 and str(row.id) in listed.output and "Pa55" not in listed.output
    retried = app.test_cli_runner().invoke(args=["notifications", "retry", str(row.id)])
    assert retried.exit_code == 0, retried.output
    mailbox.start()
    assert make_worker(app, mailbox.url).run_pass().sent == 1
    assert outbox_rows(session, kind="safety-alert")[0].status == "sent"


def test_a_refusal_by_the_server_fails_at_once_without_quoting_the_address(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    submit_phq9(client, enrol(client, researcher, None)[1])

    class Refusing:
        async def handle_RCPT(
            self, _server: Any, _session: Any, _envelope: Any, address: str, _options: Any
        ) -> str:
            return f"550 5.1.1 <{address}> no such user"

    mailbox.stop()
    from aiosmtpd.controller import Controller

    refusing = Controller(Refusing(), hostname="127.0.0.1", port=mailbox.port)
    refusing.start()
    try:
        report = make_worker(app, mailbox.url).run_pass()
    finally:
        refusing.stop()
    [row] = outbox_rows(session, kind="safety-alert")
    assert report.failed == 1 and row.status == "failed" and row.attempts == 1
    assert row.last_error == "recipient refused: 550"
    assert SAFETY not in (row.last_error or "")


def move_enrolment(session: Session, study_id: str, days_ago: int) -> dt.date:
    """Make a participant enrolled ``days_ago`` days before today; their enrolment day."""
    person = session.scalars(select(Participant).where(Participant.study_id == study_id)).one()
    person.enrolled_at = utcnow() - dt.timedelta(days=days_ago)
    session.commit()
    return person.enrolled_at.date()


def test_reminders_are_queued_once_per_day_and_kind_and_carry_a_link_that_signs_in(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    study_id, me = enrol(client, researcher, {"name": NAME, "email": EMAIL})
    enrolled = move_enrolment(session, study_id, 76)  # month 3 opens on day 76 (90 - 14)
    worker = make_worker(app, mailbox.url)
    opening = enrolled + dt.timedelta(days=76)

    first = worker.run_pass(opening)
    again = worker.run_pass(opening)

    assert (first.queued, first.sent) == (1, 1)
    assert (again.queued, again.sent) == (0, 0)
    [row] = outbox_rows(session, study_id=study_id)
    assert (row.kind, row.timepoint, row.status) == ("invitation", "month-3", "sent")
    [mail] = mailbox.messages()
    assert mail["To"] == EMAIL and mail["Subject"] == "Your study questionnaire is ready"
    raw = mailbox.raw[0].decode().lower()
    assert not [w for w in TOPIC_WORDS if w in raw]
    assert study_id.lower() not in raw
    token = re.search(r"/p/start#token=(psam_p_\w+)", mail.get_content())
    assert token is not None
    # The link's token is in the message only: the outbox row keeps its id, never the token.
    assert row.token_id is not None and token.group(1) not in str(vars(row))

    page = client.get("/p/start")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf is not None
    signed_in = client.post(
        "/p/start", data={"access_code": token.group(1), "csrf_token": csrf.group(1)}
    )
    assert signed_in.status_code == 303
    # The letter's token still works: the reminder's link does not replace it.
    assert client.get("/api/v1/me", headers=me).status_code == 200

    # A week on, the first reminder; the day after, nothing new.
    week = opening + dt.timedelta(days=7)
    assert worker.run_pass(week).sent == 1
    assert worker.run_pass(week + dt.timedelta(days=1)).queued == 0
    kinds = [r.kind for r in outbox_rows(session, study_id=study_id)]
    assert kinds == ["invitation", "reminder-1"]


def test_a_withdrawal_between_opening_and_reminder_stops_the_reminder(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    study_id, me = enrol(client, researcher, {"email": EMAIL})
    enrolled = move_enrolment(session, study_id, 76)
    worker = make_worker(app, mailbox.url)
    opening = enrolled + dt.timedelta(days=76)
    assert worker.run_pass(opening).sent == 1
    # A reminder queued, then a withdrawal before the worker sends it.
    week = opening + dt.timedelta(days=7)
    assert outbox.schedule_reminders(session, week, app.config["PSAM_REMINDER_DAYS"], utcnow()) == 1
    session.commit()
    stopped = client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=me)
    assert stopped.status_code in (200, 201)

    report = worker.run_pass(week + dt.timedelta(days=1))

    assert (report.sent, report.cancelled) == (0, 1)
    assert len(mailbox.messages()) == 1  # the invitation only
    rows = outbox_rows(session, study_id=study_id)
    assert [(r.kind, r.status) for r in rows] == [
        ("invitation", "sent"),
        ("reminder-1", "cancelled"),
    ]
    closing = opening + dt.timedelta(days=26)
    assert worker.run_pass(closing).queued == 0


def test_no_email_or_an_opt_out_means_no_reminders_and_the_researcher_view_says_why(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    without, _ = enrol(client, researcher, {"name": NAME})
    declined, _ = enrol(client, researcher, {"email": EMAIL})
    outbox.choose_reminders(session, declined, by_email=False)
    for study_id in (without, declined):
        enrolled = move_enrolment(session, study_id, 76)
    report = make_worker(app, mailbox.url).run_pass(enrolled + dt.timedelta(days=76))
    assert report.queued == 0 and mailbox.messages() == []
    reach = {
        sid: client.get(f"/api/v1/participants/{sid}", headers=researcher).get_json()["reminders"]
        for sid in (without, declined)
    }
    assert reach == {
        without: {"channel": None, "reason": "no email address"},
        declined: {"channel": None, "reason": "opted out"},
    }


def test_an_alert_and_its_message_commit_together_or_not_at_all(
    app: Flask,
    connection: Connection,
    session: Session,
    keys: Any,
    client: FlaskClient,
    researcher: Headers,
) -> None:
    study_id, me = enrol(client, researcher, None)
    before = len(outbox_rows(session))
    # A submit refused after scoring (a second submit of the same task) stores neither.
    submit_phq9(client, me)
    again = post_phq9(client, me)
    assert again.status_code == 409
    assert len(outbox_rows(session)) == before + 1
    assert len(session.scalars(select(Alert).where(Alert.study_id == study_id)).all()) == 1


def test_the_worker_runs_the_jobs_that_were_cron_s_erasure_purges_and_due_checkpoints(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    enrol(client, researcher, None)  # appends to both logs
    worker = make_worker(app, mailbox.url, config={"PSAM_CHECKPOINT_INTERVAL": 1})
    time.sleep(1.1)  # the newest entries have now waited the interval unsigned

    report = worker.run_pass(force_periodic=True)

    assert report.periodic[0].startswith("erasure purge: ")
    assert sorted(line.split(":")[0] for line in report.periodic[1:]) == [
        "access log",
        "audio retention",
        "consent log",
    ]
    # Within the minute, a second pass leaves the periodic jobs alone.
    assert worker.run_pass().periodic == []


def test_an_erasure_removes_the_participant_s_messages_and_the_worker_skips_one_in_flight(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    study_id, me = enrol(client, researcher, {"email": EMAIL})
    submit_phq9(client, me)
    outbox.choose_reminders(session, study_id, by_email=False)
    worker = make_worker(app, mailbox.url)
    with app.app_context():
        claimed = outbox.claim(session, utcnow(), 10, dt.timedelta(minutes=5))
    assert len(claimed) == 1

    erased = client.post("/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=me)

    assert erased.status_code in (200, 201), erased.get_json()
    assert outbox_rows(session, study_id=study_id) == []
    report = PassReport()
    worker.deliver(claimed[0], report)  # the worker had claimed it before the erasure
    assert (report.sent, report.cancelled) == (0, 1)
    assert mailbox.messages() == []


def test_a_message_whose_worker_died_on_every_try_is_failed_not_claimed_for_ever(
    app: Flask, client: FlaskClient, session: Session, researcher: Headers, mailbox: Mailbox
) -> None:
    submit_phq9(client, enrol(client, researcher, None)[1])
    lease = dt.timedelta(seconds=5)
    start = utcnow()
    for minute in (1, 2):  # two workers each claimed it and died before recording anything
        moment = start + dt.timedelta(minutes=minute)
        assert len(outbox.claim(session, moment, 10, lease, 2)) == 1
    later = start + dt.timedelta(minutes=5)

    assert outbox.claim(session, later, 10, lease, 2) == []

    [row] = outbox_rows(session, kind="safety-alert")
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.last_error is not None and "stopped while sending" in row.last_error
