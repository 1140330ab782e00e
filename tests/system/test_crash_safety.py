"""SIGKILL of gunicorn (master and workers) with 200 submissions in flight, five rounds: after a
restart and retries with each request's Idempotency-Key, nothing acknowledged is lost, nothing
is stored twice, and the consent log verifies; run directly (five rounds) and through PgBouncer
in transaction pooling mode (the ``pooler`` fixture; one round)."""

import threading
import time
from pathlib import Path

import pytest

from tests.conftest import shipped_version
from tests.system.harness import (
    Deployment,
    Gunicorn,
    bearer,
    call,
    consented_participant,
    deploy,
)
from tests.system.postgres import PgBouncer

pytestmark = pytest.mark.system
PARTICIPANTS = 200
# One task per round: each round submits a different baseline questionnaire for everyone.
ROUNDS = [
    ("phq-9", {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}),
    ("gad-7", {f"gad7_{i}": 2 for i in range(1, 8)} | {"gad7_8": 1}),
    ("epds", {f"epds_{i}": 1 for i in range(1, 11)}),
    ("pcl-5", {f"pcl5_{i}": 2 for i in range(1, 21)}),
    (
        "peer-support",
        {"ps_kinds": [1, 3], "ps_contacts": 4, "ps_helpfulness": 4, "ps_recommend": True},
    ),
]

# Read once: 200 threads each reading the instruments folder would hold the GIL for seconds.
VERSIONS = {instrument: shipped_version(instrument) for instrument, _ in ROUNDS}


def submit(base: str, token: str, instrument: str, answers: dict, key: str) -> tuple[int, object]:
    body = {
        "instrument": instrument,
        "version": VERSIONS[instrument],
        "timepoint": "baseline",
        "answers": answers,
        "submit": True,
    }
    return call(
        base,
        "POST",
        "/api/v1/me/responses",
        body,
        {**bearer(token), "Idempotency-Key": key},
        timeout=60,
    )


def settle(base: str, token: str, instrument: str, answers: dict, key: str) -> dict:
    """Retry with the same key until the request has an answer that is not 'still running'."""
    deadline = time.monotonic() + 60
    while True:
        status, result = submit(base, token, instrument, answers, key)
        if status == 201:
            return result  # type: ignore[return-value]
        assert status == 409, (status, result)
        detail = result["detail"]  # type: ignore[index]
        if "still running" not in detail:
            # The first attempt was stored but died before its answer was: it is complete.
            assert "already completed" in detail, detail
            return {"id": detail.split("response ")[1].rstrip(").")}
        assert time.monotonic() < deadline, "a claim was never released"
        time.sleep(0.5)


def one_round(deployment: Deployment, server: Gunicorn, people: list, round_no: int) -> Gunicorn:
    instrument, answers = ROUNDS[round_no]
    acknowledged: dict[str, str] = {}
    unanswered: list[int] = []
    refused: dict[int, object] = {}  # status -> one answer, for the message
    lock = threading.Lock()
    go = threading.Event()

    def client(n: int) -> None:
        _study_id, token = people[n]
        go.wait()
        try:
            status, result = submit(server.url, token, instrument, answers, f"r{round_no}-p{n}")
        except OSError:
            status, result = 0, None
        with lock:
            if status == 201:
                acknowledged[people[n][0]] = result["id"]  # type: ignore[index]
            else:
                unanswered.append(n)
                refused.setdefault(status, result)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(PARTICIPANTS)]
    for thread in threads:
        thread.start()
    go.set()
    # The kill lands once a quarter are acknowledged; on a loaded machine (SQLite under a
    # parallel suite) the first answers can take over half a minute, hence the long bound.
    deadline = time.monotonic() + 120
    while len(acknowledged) < PARTICIPANTS // 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill_hard()
    for thread in threads:
        thread.join(timeout=120)
    assert 0 < len(acknowledged) < PARTICIPANTS, (
        f"the kill should land mid-load (round {round_no}, {len(acknowledged)} acknowledged, "
        f"other answers: {refused})"
    )

    restarted = Gunicorn(deployment, port=server.port).start()
    for n in unanswered:
        study_id, token = people[n]
        result = settle(restarted.url, token, instrument, answers, f"r{round_no}-p{n}")
        acknowledged[study_id] = result["id"]
    # Every participant now has exactly one stored response for this task, and for those
    # acknowledged before the kill it is the one they were told about.
    researcher = bearer(deployment.researcher)
    for study_id, response_id in acknowledged.items():
        _, detail = call(
            restarted.url, "GET", f"/api/v1/participants/{study_id}", headers=researcher
        )
        tasks = [
            t
            for t in detail["tasks"]
            if t["instrument"] == instrument and t["timepoint"] == "baseline"
        ]
        assert len(tasks) == 1 and tasks[0]["status"] == "completed", tasks
        assert tasks[0]["response_id"] == response_id
    assert len(acknowledged) == PARTICIPANTS
    return restarted


def test_no_acknowledged_submission_is_lost_or_doubled_across_five_hard_kills(
    tmp_path: Path, pooler: PgBouncer | None
) -> None:
    deployment = deploy("psam_crash_test", tmp_path, pooler=pooler)
    server = Gunicorn(deployment, workers=4).start()
    try:
        people = [consented_participant(server.url, deployment) for _ in range(PARTICIPANTS)]
        # Five kills directly; through PgBouncer one is enough to show a pooled server
        # connection cut mid-transaction loses nothing (the rounds differ only in the task).
        for round_no in range(len(ROUNDS) if pooler is None else 1):
            server = one_round(deployment, server, people, round_no)
        status, verdict = call(
            server.url,
            "GET",
            "/api/v1/audit/consent-log/verify",
            headers=bearer(deployment.auditor),
        )
        assert status == 200 and verdict["ok"] and verdict["length"] == PARTICIPANTS
    finally:
        server.stop()
