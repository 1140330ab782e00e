"""Prometheus metrics: what the service counts, and the ``/metrics`` page that shows them.

prometheus-client is imported lazily: it picks its multiprocess mode (one file per gunicorn
worker in PROMETHEUS_MULTIPROC_DIR, summed at scrape time) from the environment when first
imported, which must happen after gunicorn.conf.py has set that folder. Labels never carry
a raw path or a study ID: requests are counted by their route template.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Alert

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a participant's page load, up to a streamed export's first byte.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Meters:
    """This process's metrics, registered in a registry of their own."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    submissions: Counter
    consent_events: Counter
    exports: Counter
    export_rows: Counter


@cache
def meters() -> Meters:
    """The process's metrics, made on first use (after a fork, in a worker)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    return Meters(
        registry=registry,
        requests=Counter(
            "psam_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "psam_http_request_duration_seconds",
            "Time to answer (a streamed body: to its first byte), by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        submissions=Counter(
            "psam_submissions",
            "Questionnaire responses submitted, by instrument.",
            ["instrument"],
            registry=registry,
        ),
        consent_events=Counter(
            "psam_consent_events",
            "Consent log events recorded: consent signed, or withdrawal by scope.",
            ["event"],
            registry=registry,
        ),
        exports=Counter(
            "psam_exports",
            "Analyst response exports ended, by outcome (complete or aborted).",
            ["status"],
            registry=registry,
        ),
        export_rows=Counter(
            "psam_export_rows",
            "Rows sent in analyst response exports.",
            registry=registry,
        ),
    )


def count_submission(instrument: str) -> None:
    """A response was submitted (call after the commit)."""
    meters().submissions.labels(instrument=instrument).inc()


def count_consent_event(event: str) -> None:
    """A consent-log event was recorded (call after the commit)."""
    meters().consent_events.labels(event=event).inc()


def count_export(status: str, rows: int) -> None:
    """An export ended with ``rows`` rows sent (call after the commit)."""
    meters().exports.labels(status=status).inc()
    meters().export_rows.inc(rows)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    rule = request.url_rule
    # The template ("/api/v1/participants/<study_id>"), never the path, which holds IDs.
    route = rule.rule if rule is not None else "unmatched"
    found = meters()
    found.requests.labels(request.method, route, str(response.status_code)).inc()
    if started is not None:
        found.latency.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def init_metrics(app: Flask) -> None:
    """Count every request the app answers."""
    meters()
    app.before_request(_start_timer)
    app.after_request(_observe)


class _DatabaseGauges:
    """Gauges read from the database at scrape time: right whichever process answers."""

    def __init__(self, session: Session, backlog: dict[str, int]):
        self.session = session
        # The outbox's figures (services.notifications.backlog), read by the view: this
        # module is imported by the services, so it does not import them.
        self.backlog = backlog

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        open_alerts = GaugeMetricFamily(
            "psam_open_alerts",
            "Safety alerts not yet acknowledged, by severity.",
            labels=["severity"],
        )
        counted = self.session.execute(
            select(Alert.severity, func.count())
            .where(Alert.status == "open")
            .group_by(Alert.severity)
        )
        for severity, count in counted:
            open_alerts.add_metric([severity], count)
        yield open_alerts
        backlog = self.backlog
        yield GaugeMetricFamily(
            "psam_outbox_due",
            "Messages due to be sent now or held by a worker (the worker's backlog).",
            value=backlog["due"],
        )
        yield GaugeMetricFamily(
            "psam_outbox_oldest_due_seconds",
            "How long the oldest message due has waited (0 when none waits).",
            value=backlog["oldest_due_seconds"],
        )
        yield GaugeMetricFamily(
            "psam_outbox_failed",
            "Messages that failed for good: see 'flask notifications list --status failed'.",
            value=backlog["failed"],
        )


def exposition(session: Session, backlog: dict[str, int]) -> bytes:
    """The metrics page: every worker's counts (multiprocess mode) or this process's, and the
    gauges read from the database."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    folder = current_app.config.get("PSAM_METRICS_DIR")
    if folder:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=folder)  # type: ignore[no-untyped-call]
    else:
        counted = meters().registry
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_DatabaseGauges(session, backlog))
    return generate_latest(counted) + generate_latest(gauges)


def worker_exited(pid: int) -> None:
    """gunicorn's ``child_exit``: drop a dead worker's live-gauge files (its counters stay,
    so totals never go down)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
