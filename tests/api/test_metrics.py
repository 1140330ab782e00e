"""``/metrics``: the Prometheus page, for the scraper's own token only, counting by route
template, and writing nothing to the access log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, func, select

from service.models import AccessLogEntry
from tests.conftest import shipped_version, valid_signature

METRICS_TOKEN = "metrics-" + "s3cr3t" * 6
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
PHQ9_ALERTING = {**{f"phq9_{i}": 1 for i in range(1, 10)}, "phq9_10": 1}


@pytest.fixture
def scrapable(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()
    monkeypatch.setitem(app.config, "PSAM_METRICS_TOKEN_SHA256", digest)


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on the page, by name and labels."""
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_without_a_token_is_401(client: FlaskClient, scrapable: None) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["admin", "auditor", "participant"])
def test_an_api_token_does_not_open_metrics(
    client: FlaskClient, scrapable: None, auth: Callable[..., dict[str, str]], role: str
) -> None:
    response = client.get("/metrics", headers=auth(role))
    assert response.status_code == 403
    assert response.get_json()["type"] == "/api/v1/problems/forbidden"


def test_a_wrong_metrics_token_is_401(client: FlaskClient, scrapable: None) -> None:
    wrong = {"Authorization": f"Bearer {METRICS_TOKEN}x"}
    assert client.get("/metrics", headers=wrong).status_code == 401


def test_metrics_is_closed_to_everyone_when_no_metrics_token_is_set(client: FlaskClient) -> None:
    assert client.get("/metrics", headers=SCRAPER).status_code == 401


def test_a_scrape_writes_nothing_to_the_access_log(
    client: FlaskClient, connection: Connection, scrapable: None
) -> None:
    count = select(func.count()).select_from(AccessLogEntry)
    before = connection.execute(count).scalar()
    for _ in range(3):
        scrape(client)
    assert connection.execute(count).scalar() == before


def test_requests_are_counted_by_route_template_never_by_path(
    client: FlaskClient, scrapable: None, auth: Callable[..., dict[str, str]]
) -> None:
    researcher = auth("researcher")
    study_id = client.post("/api/v1/participants", json={}, headers=researcher).get_json()[
        "study_id"
    ]
    route = "/api/v1/participants/<study_id>"
    before = scrape(client)
    for _ in range(2):
        assert client.get(f"/api/v1/participants/{study_id}", headers=researcher).status_code == 200
    assert client.get("/api/v1/participants/PSAM-0000000-0", headers=researcher).status_code >= 400
    after_response = client.get("/metrics", headers=SCRAPER)
    after = scrape(client)
    assert study_id not in after_response.get_data(as_text=True)
    ok = {"method": "GET", "route": route, "status": "200"}
    assert (
        value(after, "psam_http_requests_total", **ok)
        - value(before, "psam_http_requests_total", **ok)
        == 2
    )
    timed = {"method": "GET", "route": route}
    assert (
        value(after, "psam_http_request_duration_seconds_count", **timed)
        - value(before, "psam_http_request_duration_seconds_count", **timed)
        == 3
    )
    assert value(after, "psam_http_request_duration_seconds_bucket", le="+Inf", **timed) >= 3


def test_submissions_consent_events_alerts_and_exports_are_counted(
    client: FlaskClient, scrapable: None, auth: Callable[..., dict[str, str]]
) -> None:
    before = scrape(client)
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    own = {"Authorization": f"Bearer {made['token']}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
        == 201
    )
    submitted = {
        "instrument": "phq-9",
        "version": shipped_version("phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9_ALERTING,
        "submit": True,
    }
    assert client.post("/api/v1/me/responses", json=submitted, headers=own).status_code == 201
    export = client.get("/api/v1/exports/responses?instrument=phq-9", headers=auth("analyst"))
    rows = export.get_data(as_text=True).count("\n") - 1  # CSV: a header, then one line a row
    withdrawn = client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=own)
    assert withdrawn.status_code < 300
    after = scrape(client)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("psam_submissions_total", instrument="phq-9") == 1
    assert added("psam_consent_events_total", event="consent") == 1
    assert added("psam_consent_events_total", event="withdrawal:stop") == 1
    assert added("psam_exports_total", status="complete") == 1
    assert rows >= 1
    assert added("psam_export_rows_total") == rows
    assert value(after, "psam_open_alerts", severity="urgent") >= 1
    assert added("psam_open_alerts", severity="urgent") >= 1
    # The urgent alert's message waits in the outbox for the worker: the backlog shows it.
    assert added("psam_outbox_due") == 1
    assert ("psam_outbox_oldest_due_seconds", ()) in after
    assert value(after, "psam_outbox_failed") == 0
