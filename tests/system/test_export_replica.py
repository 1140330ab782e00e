"""Exports from a real streaming replica: a primary made with initdb on a free port, a hot
standby made from it with pg_basebackup -R on another, the service writing on the primary
and exporting from the standby (PSAM_EXPORT_DATABASE_URL).

The rows come from the standby; the manifest and the access log are written on the primary;
the standby refuses nothing (no write reaches it); an export says up to when its rows are
complete, and a standby that has not replayed a withdrawal yet still leaves the withdrawn
participant out (consent is checked on the primary).

These need only PostgreSQL's server programs, not the suite's database, so they run in the
SQLite run and the PostgreSQL run alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.system.conftest import run_cli
from tests.system.harness import (
    Deployment,
    Gunicorn,
    bearer,
    call,
    consented_participant,
    deploy,
    submit_phq9,
)
from tests.system.postgres import Cluster

pytestmark = pytest.mark.system
DATABASE = "psam"


@dataclass
class Replicated:
    primary: Cluster
    standby: Cluster
    deployment: Deployment
    server: Gunicorn
    analyst: str


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    """One primary and its standby for the module, the service deployed on them."""
    folder = tmp_path_factory.mktemp("replica")
    primary = Cluster.primary().start()
    standby: Cluster | None = None
    server: Gunicorn | None = None
    try:
        standby = primary.standby().start()
        with psycopg.connect(_plain(primary.url), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        deployment = deploy(
            "psam_export_replica",
            folder,
            database_url=primary.url_for(DATABASE),
            PSAM_EXPORT_DATABASE_URL=standby.url_for(DATABASE),
        )
        made = run_cli(deployment.env, "tokens", "create", "--role", "analyst", "--label", "a")
        assert made.returncode == 0, made.stderr
        server = Gunicorn(deployment, workers=2).start()
        yield Replicated(primary, standby, deployment, server, made.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.stop()
        if standby is not None:
            standby.stop()
        primary.stop()


def _submit(base: str, token: str) -> str:
    status, result = submit_phq9(base, token)
    assert status == 201, result
    return str(result["id"])


def _replayed(replica: Replicated) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(_plain(replica.primary.url_for(DATABASE))) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
    deadline = time.monotonic() + 60
    with psycopg.connect(_plain(replica.standby.url_for(DATABASE)), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target[0] if target else None,)
            ).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)


def _export(replica: Replicated, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = replica.server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", path, headers=bearer(replica.analyst))
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def _primary_rows(replica: Replicated, query: str, *args: object) -> list[tuple]:
    with psycopg.connect(_plain(replica.primary.url_for(DATABASE))) as conn:
        return conn.execute(query, args).fetchall()


def _standby_errors(replica: Replicated) -> list[str]:
    return [line for line in replica.standby.log_text().splitlines() if "ERROR" in line]


def test_an_export_reads_its_rows_from_the_standby_and_records_it_on_the_primary(
    replicated: Replicated,
) -> None:
    base, deployment = replicated.server.url, replicated.deployment
    people = [consented_participant(base, deployment) for _ in range(4)]
    responses = {study_id: _submit(base, token) for study_id, token in people}
    _replayed(replicated)
    with psycopg.connect(_plain(replicated.primary.url_for(DATABASE))) as conn:
        last_commit = conn.execute("SELECT max(submitted_at) FROM responses").fetchone()

    status, headers, body = _export(replicated, "/api/v1/exports/responses?instrument=phq-9")

    assert status == 200, body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert {r["study_id"]: r["response_id"] for r in rows if r["study_id"] in responses} == (
        responses
    )
    assert headers["X-Export-Read-From"] == "replica"
    as_of = dt.datetime.fromisoformat(headers["X-Export-Data-As-Of"])
    assert last_commit is not None and as_of >= last_commit[0]
    export_id = uuid.UUID(headers["X-Export-Id"])
    # The manifest and the access log are on the primary (the standby cannot take writes).
    manifest = _primary_rows(
        replicated,
        "SELECT status, row_count, read_from, data_as_of FROM export_manifests WHERE id = %s",
        export_id,
    )
    assert manifest == [("complete", len(rows), "replica", as_of)]
    logged = [
        json.loads(event)
        for (event,) in _primary_rows(replicated, "SELECT event FROM access_log ORDER BY seq")
    ]
    ends = [e for e in logged if e.get("filters", {}).get("export") == str(export_id)]
    assert [e["action"] for e in ends] == ["export.responses.start", "export.responses"], ends
    assert ends[-1]["rows"] == len(rows)
    assert _standby_errors(replicated) == []


def test_the_fhir_bulk_export_reads_from_the_standby_too(replicated: Replicated) -> None:
    _study_id, token = consented_participant(replicated.server.url, replicated.deployment)
    _submit(replicated.server.url, token)
    _replayed(replicated)
    status, headers, body = _export(
        replicated, "/fhir/r4/QuestionnaireResponse/$export?instrument=phq-9"
    )
    assert status == 200, body
    assert headers["X-Export-Read-From"] == "replica"
    kinds = [json.loads(line)["resourceType"] for line in body.decode("utf-8").splitlines()]
    _status, _headers, table = _export(replicated, "/api/v1/exports/responses?instrument=phq-9")
    rows = list(csv.DictReader(io.StringIO(table.decode("utf-8"))))
    assert kinds.count("QuestionnaireResponse") == len(rows) > 0
    assert _standby_errors(replicated) == []


def test_a_lagging_standby_says_up_to_when_and_leaves_out_who_withdrew_since(
    replicated: Replicated,
) -> None:
    base, deployment = replicated.server.url, replicated.deployment
    (stays, stays_token), (leaves, leaves_token) = [
        consented_participant(base, deployment) for _ in range(2)
    ]
    _submit(base, stays_token)
    _submit(base, leaves_token)
    _replayed(replicated)
    with psycopg.connect(_plain(replicated.standby.url_for(DATABASE)), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            late, late_token = consented_participant(base, deployment)
            _submit(base, late_token)  # after the pause: not on the standby yet
            status, receipt = call(
                base,
                "POST",
                "/api/v1/me/withdrawal",
                {"scope": "stop-and-erase"},
                bearer(leaves_token),
            )
            assert status == 201, receipt
            status, headers, body = _export(
                replicated, "/api/v1/exports/responses?instrument=phq-9"
            )
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    assert status == 200, body
    study_ids = {row["study_id"] for row in csv.DictReader(io.StringIO(body.decode("utf-8")))}
    assert stays in study_ids
    assert late not in study_ids  # committed after the standby's replay point
    assert leaves not in study_ids  # on the standby still, but erased on the primary
    as_of = dt.datetime.fromisoformat(headers["X-Export-Data-As-Of"])
    (late_at,) = _primary_rows(
        replicated, "SELECT submitted_at FROM responses r WHERE r.study_id = %s", late
    )
    assert as_of < late_at[0]
    _replayed(replicated)
    status, _headers, body = _export(replicated, "/api/v1/exports/responses?instrument=phq-9")
    caught_up = {row["study_id"] for row in csv.DictReader(io.StringIO(body.decode("utf-8")))}
    assert late in caught_up and leaves not in caught_up
    assert _standby_errors(replicated) == []
