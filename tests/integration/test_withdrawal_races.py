"""A withdrawal and a submission for the same participant never interleave.

A submission in flight makes a withdrawal wait, so an erasure reaches what was just
submitted; a withdrawal in flight makes a submission wait, and then refuses it. On PostgreSQL
the participant's row lock does it, on SQLite the database write lock.
"""

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import get_db
from service.models import DataKeyRecord, Response
from service.resources import get_keys, ledger_writer
from service.services.consent import withdraw
from service.services.idempotency import deferred_commit
from service.services.responses import ResponseView, start_response
from service.services.tokens import authenticate
from tests.conftest import consented_participant, shipped_version

PHQ9 = {f"phq9_{i}": 1 for i in range(1, 9)} | {"phq9_9": 0, "phq9_10": 1}
SUBMIT = {
    "instrument": "phq-9",
    "version": shipped_version("phq-9"),
    "timepoint": "baseline",
    "answers": PHQ9,
}
WAIT_S = 1.0  # long enough for an unblocked request to finish many times over


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def submit_phq9(session: Session, study_id: str, answers: dict[str, int]) -> ResponseView:
    """Submit a baseline PHQ-9 through the service (the caller's session commits it)."""
    return start_response(
        session,
        get_keys(),
        study_id,
        instrument_id="phq-9",
        version=shipped_version("phq-9"),
        timepoint="baseline",
        answers=answers,
        submit=True,
    )


def test_an_erasure_waits_for_a_submission_in_flight_and_then_erases_it(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_race_submit_first")
    client, study_id, token = consented_participant(app)
    me = {"Authorization": f"Bearer {token}"}
    with app.app_context(), get_db().sessionmaker() as session:
        with deferred_commit(session):  # the submission is written but not yet committed
            view = submit_phq9(session, study_id, PHQ9)
        erase, answers = in_thread(
            lambda: (
                client.post(
                    "/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=me
                ).status_code
            )
        )
        erase.join(WAIT_S)
        assert erase.is_alive(), "the erasure did not wait for the submission in flight"
        session.commit()
    erase.join(60)
    assert answers == [201]
    assert view.status == "submitted"
    with app.app_context(), get_db().sessionmaker() as session:
        left = select(func.count()).select_from(Response).where(Response.study_id == study_id)
        assert session.scalar(left) == 0
        assert session.get(DataKeyRecord, study_id) is None


def test_a_submission_waits_for_a_withdrawal_in_flight_and_is_then_refused(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_race_withdraw_first")
    client, study_id, token = consented_participant(app)
    me = {"Authorization": f"Bearer {token}"}
    with app.app_context(), get_db().sessionmaker() as session:
        with deferred_commit(session):  # the withdrawal is written but not yet committed
            withdraw(
                session, ledger_writer(session), authenticate(session, token), study_id, "stop"
            )
        submit, answers = in_thread(
            lambda: client.post("/api/v1/me/responses", json=SUBMIT, headers=me)
        )
        submit.join(WAIT_S)
        assert submit.is_alive(), "the submission did not wait for the withdrawal in flight"
        session.commit()
    submit.join(60)
    refused = answers[0]
    assert refused.status_code == 403
    assert refused.get_json()["type"].endswith("/withdrawn")
    with app.app_context(), get_db().sessionmaker() as session:
        stored = select(func.count()).select_from(Response).where(Response.study_id == study_id)
        assert session.scalar(stored) == 0
