"""Twenty threads submitting one response with one Idempotency-Key store one submission."""

import threading
import uuid
from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select

from service.db import get_db
from service.models import Alert, IdempotencyRecord, Response
from tests.conftest import consented_participant, shipped_version

PHQ9 = {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}


def test_twenty_concurrent_retries_store_exactly_one_submission(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_idempotency_test")
    client, _study_id, token = consented_participant(app)
    me = {"Authorization": f"Bearer {token}"}
    draft = {
        "instrument": "phq-9",
        "version": shipped_version("phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9,
    }
    response_id = client.post("/api/v1/me/responses", json=draft, headers=me).get_json()["id"]

    statuses: list[int] = []
    bodies: list[dict] = []
    barrier = threading.Barrier(20)

    def submit() -> None:
        own_client = app.test_client()
        barrier.wait()
        answer = own_client.post(
            f"/api/v1/me/responses/{response_id}/submit",
            headers={**me, "Idempotency-Key": "submit-once"},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            bodies.append(answer.get_json())

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == 20
    assert set(statuses) <= {200, 409}  # done (first or replayed), or the first still running
    assert bodies and all(b == bodies[0] for b in bodies)
    with app.app_context(), get_db().sessionmaker() as session:
        submitted = session.get(Response, uuid.UUID(response_id))
        assert submitted is not None
        assert submitted.status == "submitted"
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
