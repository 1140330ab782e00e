"""Two gunicorn instances on one database: the consent log stays one gapless chain and every
acknowledged submission is stored exactly once; run directly and through PgBouncer in
transaction pooling mode (the ``pooler`` fixture)."""

import threading
from pathlib import Path

import pytest

from tests.system.harness import (
    Gunicorn,
    bearer,
    call,
    consented_participant,
    deploy,
    submit_phq9,
)
from tests.system.postgres import PgBouncer

pytestmark = pytest.mark.system


def test_two_replicas_share_one_chain_and_store_each_submission_once(
    tmp_path: Path, pooler: PgBouncer | None
) -> None:
    deployment = deploy("psam_replicas_test", tmp_path, pooler=pooler)
    replicas = [Gunicorn(deployment).start(), Gunicorn(deployment).start()]
    try:
        acknowledged: list[tuple[str, str]] = []
        errors: list[str] = []

        def participant(n: int) -> None:
            first, second = replicas[n % 2].url, replicas[(n + 1) % 2].url
            try:
                study_id, token = consented_participant(first, deployment)
                status, result = submit_phq9(second, token, key=f"replica-{n}")
                if status != 201:
                    errors.append(f"{status} {result}")
                    return
                acknowledged.append((study_id, result["id"]))
                # A second consent (re-signing) through the other replica adds to the chain.
                consented_participant(second, deployment)
            except Exception as exc:  # reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert errors == []
        assert len(acknowledged) == 40
        auditor = bearer(deployment.auditor)
        status, verdict = call(
            replicas[0].url, "GET", "/api/v1/audit/consent-log/verify", headers=auditor
        )
        assert status == 200 and verdict["ok"], verdict
        assert verdict["length"] == 80  # 40 participants x 2 consents, one chain
        entries: list[dict] = []
        after = 0
        while True:
            _, page = call(
                replicas[1].url,
                "GET",
                f"/api/v1/audit/consent-log?after_seq={after}&limit=1000",
                headers=auditor,
            )
            entries += page["entries"]
            if page["next_after_seq"] is None:
                break
            after = page["next_after_seq"]
        assert [e["seq"] for e in entries] == list(range(1, 81))
        researcher = bearer(deployment.researcher)
        for study_id, response_id in acknowledged:
            _, detail = call(
                replicas[1].url, "GET", f"/api/v1/participants/{study_id}", headers=researcher
            )
            phq9 = [
                t
                for t in detail["tasks"]
                if t["instrument"] == "phq-9" and t["timepoint"] == "baseline"
            ]
            assert phq9 == [{**phq9[0], "status": "completed", "response_id": response_id}]
    finally:
        for replica in replicas:
            replica.stop()
