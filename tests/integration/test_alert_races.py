"""Two submissions at once for one participant and timepoint still give one alert.

A PHQ-9 with item 9 endorsed is written but not yet committed when an EPDS with item 10
endorsed arrives: the second waits for the first (PostgreSQL: the alerts' advisory lock;
SQLite: the database write lock), then finds its open alert and adds its reason to it.
"""

from collections.abc import Callable

from flask import Flask

from service.db import get_db
from service.resources import get_keys
from service.services.alerts import participant_alerts
from service.services.idempotency import deferred_commit
from tests.conftest import consented_participant, shipped_version
from tests.integration.test_withdrawal_races import PHQ9, WAIT_S, in_thread, submit_phq9

EPDS = {
    "instrument": "epds",
    "version": shipped_version("epds"),
    "timepoint": "baseline",
    "submit": True,
}


def test_phq9_item9_and_epds_item10_submitted_at_once_are_one_alert(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_race_alerts")
    client, study_id, token = consented_participant(app)
    me = {"Authorization": f"Bearer {token}"}
    epds = EPDS | {"answers": {f"epds_{i}": 0 for i in range(1, 10)} | {"epds_10": 2}}
    with app.app_context(), get_db().sessionmaker() as session:
        with deferred_commit(session):  # PHQ-9 written, its alert raised, not yet committed
            view = submit_phq9(session, study_id, PHQ9 | {"phq9_9": 1})
        second, answers = in_thread(
            lambda: client.post("/api/v1/me/responses", json=epds, headers=me).status_code
        )
        second.join(WAIT_S)
        assert second.is_alive(), "the second submission did not wait for the first"
        session.commit()
    second.join(60)
    assert answers == [201] and [a["id"] for a in view.alerts] == ["phq9_item9"]
    with app.app_context(), get_db().sessionmaker() as session:
        found = participant_alerts(session, get_keys(), study_id)
    assert [(a.severity, a.reasons) for a in found] == [("urgent", ["phq9_item9", "epds_item10"])]
