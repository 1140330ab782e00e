"""The worker as a real process next to a real gunicorn: a safety email within a minute of
the submit, two workers sharing a queue, a worker killed with SIGKILL mid-batch.

The figures are printed (run with -s): how long the email took, how long the drain took,
how many messages went twice after the kill.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from service import create_app
from service.config import PROJECT_ROOT, config_for_tests
from service.db import utcnow
from service.models import Alert, Notification, Response
from service.services import notifications as outbox
from tests.conftest import shipped_version
from tests.mailbox import Mailbox
from tests.system.conftest import BIN
from tests.system.harness import (
    Deployment,
    Gunicorn,
    bearer,
    consented_participant,
    deploy,
    submit_phq9,
)

pytestmark = pytest.mark.system
SAFETY = "safety@team.example.org"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


def mail_settings(box: Mailbox) -> dict[str, str]:
    return {
        "PSAM_SMTP_URL": box.url,
        "PSAM_MAIL_FROM": "study@example.org",
        "PSAM_SAFETY_EMAIL": SAFETY,
        "PSAM_NOTIFY_RETRY_SECONDS": "1",
    }


def start_worker(deployment: Deployment, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "worker", *args],
        cwd=PROJECT_ROOT,
        env=deployment.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


def submit_alerting_phq9(base: str, token: str) -> None:
    status, answer = submit_phq9(base, token)
    assert status in (200, 201), answer
    assert [a["id"] for a in answer["alerts"]] == ["phq9_item9"]


def test_a_safety_email_arrives_within_a_minute_of_a_submit_over_http(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    deployment = deploy("psam_worker_live", tmp_path, **mail_settings(mailbox))
    web = Gunicorn(deployment, workers=1).start()
    heartbeat = tmp_path / "worker.alive"
    worker = start_worker(deployment, "--poll-seconds", "1", "--heartbeat", str(heartbeat))
    try:
        _study_id, token = consented_participant(web.url, deployment)
        started = time.monotonic()
        submit_alerting_phq9(web.url, token)
        [mail] = mailbox.wait_for(1, 60)
        took = time.monotonic() - started
    finally:
        stop(worker)
        web.stop()
    print(f"\nsafety email received {took:.2f} s after the submit")
    assert took < 60
    assert mail["To"] == SAFETY and "safety alert" in mail["Subject"]
    assert heartbeat.exists()  # what compose's healthcheck of the worker reads


def seed_alert_messages(deployment: Deployment, count: int) -> None:
    """``count`` urgent alerts, each with its queued message, in one participant's name."""
    env = deployment.env
    settings = config_for_tests(env["DATABASE_URL"], env["PSAM_INSTANCE_DIR"])
    app = create_app(settings)
    client = app.test_client()
    made = client.post("/api/v1/participants", json={}, headers=bearer(deployment.researcher))
    study_id = made.get_json()["study_id"]
    db = app.extensions["psam_db"]
    with db.sessionmaker() as session:
        response_id = uuid.uuid4()
        session.execute(
            insert(Response).values(
                id=response_id,
                study_id=study_id,
                timepoint="baseline",
                instrument_id="phq-9",
                version=shipped_version("phq-9"),
                instrument_hash="0" * 64,
                status="submitted",
                answers=b"\x00",
                started_at=utcnow(),
                updated_at=utcnow(),
                submitted_at=utcnow(),
            )
        )
        alerts = [
            {
                "id": uuid.uuid4(),
                "study_id": study_id,
                "response_id": response_id,
                "rule_id": "phq9_item9",
                "severity": "urgent",
                "raised_at": utcnow(),
                "status": "open",
            }
            for _ in range(count)
        ]
        session.execute(insert(Alert), alerts)
        assert outbox.queue_safety_alerts(session, alerts) == count
        session.commit()
    db.engine.dispose()


def outbox_statuses(deployment: Deployment) -> Counter[str]:
    env = deployment.env
    app = create_app(config_for_tests(env["DATABASE_URL"], env["PSAM_INSTANCE_DIR"]))
    db = app.extensions["psam_db"]
    with db.sessionmaker() as session:
        found = Counter(session.scalars(select(Notification.status)))
    db.engine.dispose()
    return found


@pytest.mark.postgresql
def test_two_workers_drain_a_thousand_messages_each_delivered_exactly_once(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    deployment = deploy("psam_worker_pair", tmp_path, **mail_settings(mailbox))
    seed_alert_messages(deployment, 1000)
    started = time.monotonic()
    pair = [start_worker(deployment, "--once", "--batch", "25") for _ in range(2)]
    for proc in pair:
        assert proc.wait(timeout=300) == 0
    took = time.monotonic() - started
    ids = mailbox.message_ids()
    print(f"\n2 workers sent {len(ids)} messages in {took:.1f} s ({len(ids) / took:.0f}/s)")
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    assert outbox_statuses(deployment) == Counter({"sent": 1000})


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    box = Mailbox(delay=0.01).start()
    try:
        deployment = deploy("psam_worker_kill", tmp_path, **mail_settings(box))
        seed_alert_messages(deployment, 300)
        batch = 40
        first = start_worker(deployment, "--batch", str(batch), "--lease-seconds", "5")
        try:
            box.wait_for(60, 60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        at_kill = len(box.raw)
        second = start_worker(
            deployment, "--batch", str(batch), "--lease-seconds", "5", "--poll-seconds", "0.5"
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(set(box.message_ids())) < 300:
                time.sleep(0.2)
            time.sleep(1)  # anything more that was going to arrive
        finally:
            stop(second)
        ids = box.message_ids()
    finally:
        box.stop()
    duplicates = len(ids) - len(set(ids))
    print(
        f"\nkilled after {at_kill} messages; {len(set(ids))} delivered, "
        f"{duplicates} delivered twice (batch of {batch})"
    )
    assert len(set(ids)) == 300
    assert duplicates <= 1  # only the message being sent at the kill can go twice
    assert outbox_statuses(deployment) == Counter({"sent": 300})
