"""``flask --app wsgi worker``: the one process that sends messages and runs periodic jobs.

Each pass: queue what the scheduler finds due (reminders once a day or on ``--today``,
escalations of alerts still open), drain the outbox (claim a batch, render, send, record each
message at once), and, once a minute, the jobs that were cron's: finishing erasure purges
(docs/erasure.md) and signing checkpoints that are due (docs/audit-log.md). Any number of
workers may run; the outbox's claims keep each message to one of them.

``flask --app wsgi notifications list|retry`` are the admin's view of the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from service.channels import Channel, DeliveryError, OutgoingMessage
from service.channels.smtp import SmtpChannel
from service.db import Database, get_db, utcnow
from service.domain import notifications as rules
from service.domain.errors import DomainError
from service.domain.ledger import LOGS
from service.resources import get_keys, trail_of
from service.services import ledger
from service.services import notifications as outbox
from service.services.audit import Trail
from service.services.erasure import purge_erasures
from service.services.keyring import KeyringSource
from service.services.recordings import run_audio_retention
from service.services.tokens import Principal

log = logging.getLogger("service.worker")
PERIODIC_SECONDS = 60.0


@dataclass
class PassReport:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    periodic: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    """When reminders fall due, how often a message is tried, when checkpoints are due."""

    reminder_days: rules.ReminderDays
    max_attempts: int
    retry_seconds: float
    checkpoint_interval: int
    audio_retention_days: int = 30
    checkpoint_every: int = 100

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        return cls(
            config["PSAM_REMINDER_DAYS"],
            config["PSAM_NOTIFY_MAX_ATTEMPTS"],
            config["PSAM_NOTIFY_RETRY_SECONDS"],
            config["PSAM_CHECKPOINT_INTERVAL"],
            config["PSAM_AUDIO_RETENTION_DAYS"],
            config["PSAM_CHECKPOINT_EVERY"],
        )


class Worker:
    """Sends the outbox's messages through ``channel`` and runs the periodic jobs."""

    def __init__(
        self,
        db: Database,
        keys: KeyringSource,
        channel: Channel,
        settings: outbox.Settings,
        policy: Policy,
        *,
        batch: int = 20,
        lease: dt.timedelta = dt.timedelta(minutes=5),
    ):
        self.db, self.keys, self.channel, self.settings = db, keys, channel, settings
        self.policy, self.batch, self.lease = policy, batch, lease
        self.rng = random.Random()  # noqa: S311  # nosec B311
        self.scheduled_on: dt.date | None = None
        self.periodic_at = 0.0
        # A rewrite of the chunk table that could not be done (a reader held it): asked for
        # again each period until one is done, so destroyed recordings leave the disk.
        self.audio_rewrite_pending = False
        self.stopping = False

    def schedule(self, today: dt.date | None) -> int:
        """Queue due escalations always, and reminders once a day (or for ``today``)."""
        now = utcnow()
        with self.db.sessionmaker() as session:
            queued = outbox.queue_escalations(session, now, self.settings.escalate_after)
            day = today or now.date()
            if today is not None or self.scheduled_on != day:
                days = self.policy.reminder_days
                queued += outbox.schedule_reminders(session, day, days, now)
                self.scheduled_on = day
            session.commit()
        return queued

    def drain(self, report: PassReport) -> int:
        """Claim one batch and send it; how many were claimed."""
        with self.db.sessionmaker() as session:
            claimed = outbox.claim(
                session, utcnow(), self.batch, self.lease, self.policy.max_attempts
            )
        for message_id in claimed:
            if self.stopping:
                break  # the rest go back to the queue when their lease ends
            self.deliver(message_id, report)
        return len(claimed)

    def deliver(self, message_id: uuid.UUID, report: PassReport) -> None:
        with self.db.sessionmaker() as session:
            ready = outbox.prepare(session, self.keys, self.settings, message_id)
        if ready is None:
            report.cancelled += 1
            return
        try:
            self.channel.send(
                OutgoingMessage(
                    str(ready.id), ready.to, ready.rendered.subject, ready.rendered.body
                )
            )
        except DeliveryError as exc:
            with self.db.sessionmaker() as session:
                status = outbox.record_failure(
                    session,
                    message_id,
                    exc.reason,
                    permanent=exc.permanent,
                    max_attempts=self.policy.max_attempts,
                    retry_seconds=self.policy.retry_seconds,
                    rng=self.rng,
                )
            if status == rules.FAILED:
                report.failed += 1
                log.error("message %s failed for good: %s", message_id, exc.reason)
            else:
                report.retried += 1
                log.warning("message %s not sent, will retry: %s", message_id, exc.reason)
            return
        # A crash here, after the send and before this record, is the one way a message
        # goes twice: another worker takes it again once the lease ends.
        with self.db.sessionmaker() as session:
            outbox.record_sent(session, message_id)
        report.sent += 1

    def periodic(self, force: bool) -> list[str]:
        """The jobs that were cron's: erasure purges, recordings past their retention, and
        checkpoints that are due."""
        if not force and time.monotonic() - self.periodic_at < PERIODIC_SECONDS:
            return []
        self.periodic_at = time.monotonic()
        done = []
        purged = purge_erasures(self.db, wait_seconds=5)
        done.append(f"erasure purge: {len(purged.purged)} purged, {len(purged.waiting)} pending")
        keyring = self.keys.current()
        retention = run_audio_retention(
            self.db,
            Trail(Principal.operator("worker"), keyring, self.policy.checkpoint_every),
            self.policy.audio_retention_days,
            wait_seconds=5,
            rewrite=self.audio_rewrite_pending,
        )
        done.append(f"audio retention: {len(retention.destroyed)} destroyed")
        self.audio_rewrite_pending = retention.rewrite_pending is not None
        if retention.rewrite_pending:
            log.warning("audio retention: files not yet rewritten (%s)", retention.rewrite_pending)
        for name in LOGS:
            with self.db.sessionmaker() as session:
                signed = ledger.checkpoint_if_due(
                    session, keyring, name, self.policy.checkpoint_interval
                )
            if signed is not None:
                done.append(f"{name} log: checkpoint at length {signed.length}")
        return done

    def run_pass(self, today: dt.date | None = None, *, force_periodic: bool = False) -> PassReport:
        """Schedule, drain everything due now, run the periodic jobs if their time has come."""
        report = PassReport(queued=self.schedule(today))
        while not self.stopping and self.drain(report) == self.batch:
            pass
        report.periodic = self.periodic(force_periodic)
        return report

    def run_forever(self, poll_seconds: float, heartbeat: Path | None = None) -> None:
        def stop(_signum: int, _frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not self.stopping:
            try:
                report = self.run_pass()
            except Exception:
                # The database or the keyring may be back on the next pass; the worker
                # must outlive a restart of either.
                log.exception("worker pass failed; trying again shortly")
            else:
                if report.sent or report.failed or report.retried or report.queued:
                    log.info(
                        "worker pass: %d queued, %d sent, %d to retry, %d failed, %d cancelled",
                        report.queued,
                        report.sent,
                        report.retried,
                        report.failed,
                        report.cancelled,
                    )
                if heartbeat is not None:  # a pass completed: the worker is alive and working
                    heartbeat.touch()
            deadline = time.monotonic() + poll_seconds
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, poll_seconds))


def worker_settings(app: Flask) -> outbox.Settings:
    """The settings a worker needs, or ClickException naming the first one missing."""
    config = app.config
    for name in ("PSAM_SMTP_URL", "PSAM_MAIL_FROM", "PSAM_SAFETY_EMAIL"):
        if not config.get(name):
            raise click.ClickException(f"{name} must be set for the worker to send messages")
    return outbox.Settings(
        public_url=config["PSAM_PUBLIC_URL"],
        safety_email=config["PSAM_SAFETY_EMAIL"],
        escalation_email=config["PSAM_SAFETY_ESCALATION_EMAIL"] or config["PSAM_SAFETY_EMAIL"],
        escalate_after=config["PSAM_ALERT_ESCALATE_AFTER"],
        wording=config["PSAM_MESSAGE_WORDING"],
    )


def build_worker(app: Flask, **options: object) -> Worker:
    settings = worker_settings(app)
    channel = SmtpChannel(app.config["PSAM_SMTP_URL"], app.config["PSAM_MAIL_FROM"])
    policy = Policy.from_config(app.config)
    return Worker(get_db(), get_keys(), channel, settings, policy, **options)  # type: ignore[arg-type]


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass and exit (for cron and tests).")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run the scheduler as of this date (YYYY-MM-DD), e.g. to catch up.",
)
@click.option("--batch", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--lease-seconds",
    type=click.IntRange(5, 86400),
    default=300,
    show_default=True,
    help="How long a claimed batch is this worker's before another may take it.",
)
@click.option("--poll-seconds", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True)
@click.option(
    "--heartbeat",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file touched after each pass (a container's healthcheck reads its age).",
)
@with_appcontext
def worker_command(
    once: bool,
    today: dt.datetime | None,
    batch: int,
    lease_seconds: int,
    poll_seconds: float,
    heartbeat: Path | None,
) -> None:
    """Send queued messages and run the scheduler and periodic jobs (Ctrl-C to stop)."""
    worker = build_worker(current_app, batch=batch, lease=dt.timedelta(seconds=lease_seconds))
    if once or today is not None:
        report = worker.run_pass(today.date() if today else None, force_periodic=True)
        click.echo(
            f"{report.queued} queued, {report.sent} sent, {report.retried} to retry, "
            f"{report.failed} failed, {report.cancelled} cancelled"
        )
        for line in report.periodic:
            click.echo(line)
        return
    click.echo("worker started", err=True)
    worker.run_forever(poll_seconds, heartbeat)


notifications_cli = AppGroup("notifications", help="The outbox: messages and their delivery.")
recordings_cli = AppGroup("recordings", help="Interview recordings: retention.")


@recordings_cli.command("destroy-expired")
@click.option(
    "--rewrite",
    is_flag=True,
    help="Rewrite the chunk table's files even if nothing is destroyed now (to finish a "
    "rewrite an earlier run could not complete).",
)
def recordings_destroy_expired(rewrite: bool) -> None:
    """Destroy the recordings whose transcript was verified PSAM_AUDIO_RETENTION_DAYS ago or
    more (the worker runs this each minute); each is logged."""
    report = run_audio_retention(
        get_db(),
        trail_of(Principal.operator("recordings destroy-expired")),
        current_app.config["PSAM_AUDIO_RETENTION_DAYS"],
        current_app.config["PSAM_PURGE_WAIT_SECONDS"],
        rewrite=rewrite,
    )
    click.echo(f"{len(report.destroyed)} recordings destroyed")
    if report.rewrite_pending:
        click.echo(f"files not yet rewritten: {report.rewrite_pending}; run with --rewrite")


@notifications_cli.command("list")
@click.option("--status", type=click.Choice(rules.STATUSES))
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
def notifications_list(status: str | None, limit: int) -> None:
    """Messages, newest first: id, kind, study ID, status, tries, last error (no address)."""
    session = get_db().sessionmaker()
    try:
        rows = outbox.list_messages(session, status=status, limit=limit)
        trail = trail_of(Principal.operator("notifications list"))
        trail.record(session, "notifications.list", filters={"status": status}, rows=len(rows))
        session.commit()
    finally:
        session.close()
    for row in rows:
        sent = row.sent_at.isoformat() if row.sent_at else "-"
        click.echo(
            f"{row.id}  {row.kind:<17} {row.study_id or '-':<16} {row.timepoint or '-':<10} "
            f"{row.status:<9} tries {row.attempts:<2} sent {sent:<32} {row.last_error or ''}"
        )
    click.echo(f"{len(rows)} messages")


@notifications_cli.command("retry")
@click.argument("message_id", type=click.UUID)
def notifications_retry(message_id: uuid.UUID) -> None:
    """Queue a failed or cancelled message again, due now, with its tries reset."""
    session = get_db().sessionmaker()
    try:
        row = outbox.retry(session, message_id)
        trail = trail_of(Principal.operator("notifications retry"))
        trail.record(session, "notifications.retry", study_id=row.study_id, rows=1)
        session.commit()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.close()
    click.echo(f"message {message_id} queued again")
