"""Settings, read from the environment in this one place, with safe embedded defaults.

Every setting is checked here, when the process starts: a bad value raises ``ConfigError``
naming the variable and what is wrong, so a typo stops the service at once rather than
surfacing as a 500 on the first request that needs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from service.channels.smtp import check_smtp_url
from service.domain.notifications import (
    ReminderDays,
    WordingError,
    check_wording,
    parse_duration,
    parse_reminder_days,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAX_BODY_BYTES = 256 * 1024
# An interview recording: about 2 hours of speech at 128 kbit/s is 115 MB.
DEFAULT_AUDIO_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_TRANSCRIPT_MAX_BYTES = 10 * 1024 * 1024
# A metrics token shorter than this could be guessed by a scraper on the same network.
MIN_METRICS_TOKEN_CHARS = 32
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LIMIT = re.compile(r"\s*[1-9]\d*\s*/\s*(second|minute|hour|day)\s*")
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class ConfigError(RuntimeError):
    """A setting with a value the service cannot run with."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable} {problem}")
        self.variable = variable


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, not {value}")
    return value


def _database_url(env: Mapping[str, str], instance: Path) -> str:
    raw = env.get("DATABASE_URL") or f"sqlite:///{instance / 'psam.sqlite3'}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL", "is not a database URL (e.g. postgresql+psycopg://user@host/db)"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            "DATABASE_URL", f"names {url.get_backend_name()!r}: use postgresql or sqlite"
        )
    return raw


def _export_database_url(env: Mapping[str, str], primary: str) -> str | None:
    """A PostgreSQL hot standby that exports read from (unset: the primary)."""
    raw = env.get("PSAM_EXPORT_DATABASE_URL") or None
    if raw is None:
        return None
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            "PSAM_EXPORT_DATABASE_URL",
            "is not a database URL (e.g. postgresql+psycopg://user@standby/db)",
        ) from None
    if url.get_backend_name() != "postgresql" or make_url(primary).get_backend_name() != (
        "postgresql"
    ):
        raise ConfigError(
            "PSAM_EXPORT_DATABASE_URL",
            "must name a PostgreSQL standby of a PostgreSQL DATABASE_URL",
        )
    return raw


def _pooler(env: Mapping[str, str], database_url: str) -> str | None:
    """What sits between the service and PostgreSQL: nothing, or PgBouncer (any mode)."""
    value = (env.get("PSAM_DATABASE_POOLER") or "").strip().lower() or None
    if value not in (None, "pgbouncer"):
        raise ConfigError("PSAM_DATABASE_POOLER", f"must be pgbouncer or unset, not {value!r}")
    if value is not None and make_url(database_url).get_backend_name() != "postgresql":
        raise ConfigError("PSAM_DATABASE_POOLER", "needs a PostgreSQL DATABASE_URL")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).upper()
    if value not in allowed:
        raise ConfigError(name, f"must be one of {', '.join(allowed)}, not {env.get(name)!r}")
    return value


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not _LIMIT.fullmatch(value):
        raise ConfigError(name, f"must look like '10/hour' or '5/minute', not {value!r}")
    return value


def _metrics_token_hash(env: Mapping[str, str]) -> str | None:
    """Only the token's SHA-256 is kept, so a memory dump or a debug page cannot leak it."""
    token = env.get("PSAM_METRICS_TOKEN") or ""
    if not token:
        return None
    if len(token) < MIN_METRICS_TOKEN_CHARS or not token.isprintable() or " " in token:
        raise ConfigError(
            "PSAM_METRICS_TOKEN",
            f"must be at least {MIN_METRICS_TOKEN_CHARS} printable characters without spaces "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
        )
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _metrics_dir(env: Mapping[str, str]) -> str | None:
    raw = env.get(METRICS_DIR_VARIABLE) or None
    if raw is not None and not (Path(raw).is_dir() and os.access(raw, os.W_OK | os.X_OK)):
        raise ConfigError(METRICS_DIR_VARIABLE, f"must be a writable directory, not {raw!r}")
    return raw


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")


def parse_origins(text: str) -> frozenset[str]:
    """The CORS allow-list: origins separated by commas or spaces, each ``scheme://host[:port]``
    with no path; a wildcard is refused (ValueError)."""
    origins = set()
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        origin = item.lower().rstrip("/")
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                "must list origins as scheme://host[:port], e.g. https://app.example.org "
                f"(no path, no wildcard), not {item!r}"
            )
        origins.add(origin)
    return frozenset(origins)


def _origins(env: Mapping[str, str]) -> str:
    value = env.get("PSAM_CORS_ORIGINS") or ""
    try:
        parse_origins(value)
    except ValueError as exc:
        raise ConfigError("PSAM_CORS_ORIGINS", str(exc)) from None
    return value


_PUBLIC_URL = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


def _public_url(env: Mapping[str, str]) -> str:
    """Where participants reach the service (links are built from it), without a trailing
    slash; https in production, so the session cookie is sent only over TLS."""
    value = (env.get("PSAM_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not _PUBLIC_URL.fullmatch(value):
        raise ConfigError(
            "PSAM_PUBLIC_URL",
            "must be the address participants open, scheme://host[:port][/path], e.g. "
            f"https://study.example.org (no query, no fragment), not {value!r}",
        )
    return value


def _bind(env: Mapping[str, str]) -> str:
    value = env.get("PSAM_BIND") or "127.0.0.1:8000"
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("PSAM_BIND", f"must be HOST:PORT (e.g. 0.0.0.0:8000), not {value!r}")
    return value


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _email(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip() or None
    if value is not None and not _EMAIL.fullmatch(value):
        raise ConfigError(name, "must be one email address, e.g. safety@study.example.org")
    return value


def _smtp_url(env: Mapping[str, str]) -> str | None:
    value = env.get("PSAM_SMTP_URL") or None
    if value is not None:
        try:
            check_smtp_url(value)
        except ValueError as exc:  # the message never repeats the URL: it may hold a password
            raise ConfigError("PSAM_SMTP_URL", str(exc)) from None
    return value


def _duration(env: Mapping[str, str], name: str, default: str) -> dt.timedelta:
    try:
        span = parse_duration(env.get(name) or default)
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None
    if span.total_seconds() <= 0:
        raise ConfigError(name, "must be longer than 0")
    return span


def _reminder_days(env: Mapping[str, str]) -> ReminderDays:
    try:
        return parse_reminder_days(env.get("PSAM_REMINDER_DAYS") or "7,3")
    except ValueError as exc:
        raise ConfigError("PSAM_REMINDER_DAYS", str(exc)) from None


def _wording(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The messages' words: the defaults, or a deployment's JSON file of overrides."""
    path = env.get("PSAM_MESSAGES_FILE") or None
    if path is None:
        return check_wording({})
    try:
        overrides = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError("PSAM_MESSAGES_FILE", f"cannot be read as JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise ConfigError("PSAM_MESSAGES_FILE", "must hold one JSON object, keyed by kind")
    try:
        return check_wording(overrides)
    except WordingError as exc:
        raise ConfigError("PSAM_MESSAGES_FILE", str(exc)) from None


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the application's settings from environment variables, checking each one."""
    env = os.environ if env is None else env
    instance = Path(env.get("PSAM_INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()
    instruments = env.get("PSAM_INSTRUMENTS_DIR") or str(PROJECT_ROOT / "instruments")
    if not Path(instruments).is_dir():
        raise ConfigError("PSAM_INSTRUMENTS_DIR", f"must be a directory, not {instruments!r}")
    database_url = _database_url(env, instance)
    return {
        "INSTANCE_DIR": str(instance),
        "DATABASE_URL": database_url,
        # "pgbouncer" when DATABASE_URL goes through PgBouncer (transaction pooling): psycopg
        # then prepares no statements on the server (docs/scaling.md).
        "PSAM_DATABASE_POOLER": _pooler(env, database_url),
        # A hot standby that exports (CSV/NDJSON, FHIR bulk) read their rows from; their
        # manifests and the access log are still written on the primary (docs/scaling.md).
        "PSAM_EXPORT_DATABASE_URL": _export_database_url(env, database_url),
        "PSAM_INSTRUMENTS_DIR": instruments,
        "PSAM_KEYRING": env.get("PSAM_KEYRING") or str(instance / "keyring.json"),
        # The whole keyring as JSON, for platforms that hand secrets over in the environment.
        "PSAM_KEYRING_JSON": env.get("PSAM_KEYRING_JSON") or None,
        "PSAM_ENROLMENT_CODE": env.get("PSAM_ENROLMENT_CODE") or None,
        # Self-enrolments allowed per client address and window, across all workers.
        "PSAM_ENROLMENT_LIMIT": _rate_limit(env, "PSAM_ENROLMENT_LIMIT", "10/hour"),
        # How many proxies in front set X-Forwarded-For (0: use the socket's address).
        "PSAM_PROXY_HOPS": _int(env, "PSAM_PROXY_HOPS", 0),
        "MAX_CONTENT_LENGTH": _int(env, "PSAM_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024),
        # Interview recordings and transcripts are streamed, each route with its own limit
        # (the limit above does not apply to them); docs/recordings.md.
        "PSAM_AUDIO_MAX_BYTES": _int(env, "PSAM_AUDIO_MAX_BYTES", DEFAULT_AUDIO_MAX_BYTES, 1),
        "PSAM_TRANSCRIPT_MAX_BYTES": _int(
            env, "PSAM_TRANSCRIPT_MAX_BYTES", DEFAULT_TRANSCRIPT_MAX_BYTES, 1
        ),
        # Days after its transcript is verified that a recording is destroyed by the worker.
        "PSAM_AUDIO_RETENTION_DAYS": _int(env, "PSAM_AUDIO_RETENTION_DAYS", 30, 0),
        "PSAM_LOG_LEVEL": _choice(env, "PSAM_LOG_LEVEL", "INFO", _LOG_LEVELS),
        # Browser origins allowed to call the API (CORS), e.g. "https://app.example.org";
        # empty: only pages of the service's own origin.
        "PSAM_CORS_ORIGINS": _origins(env),
        # The address participants open: their link is built from it (service/web/).
        "PSAM_PUBLIC_URL": _public_url(env),
        # The letter that carries a participant's link (an HTML Jinja file; unset, the one in
        # letters/); read and compiled at start (service/web/letters.py).
        "PSAM_LETTER_TEMPLATE": env.get("PSAM_LETTER_TEMPLATE") or None,
        "PSAM_CHECKPOINT_EVERY": _int(env, "PSAM_CHECKPOINT_EVERY", 100, 1),
        # Consent signatures a participant may make in a day (each is a permanent log entry).
        "PSAM_CONSENT_SIGNINGS_PER_DAY": _int(env, "PSAM_CONSENT_SIGNINGS_PER_DAY", 5, 1),
        # How long the request that erases waits for the purge's locks and readers; what
        # does not complete then is left to `flask --app wsgi erasure purge` (cron).
        "PSAM_PURGE_WAIT_SECONDS": _int(env, "PSAM_PURGE_WAIT_SECONDS", 2),
        # Seconds an entry may stay unsigned: a checkpoint is made on the next append or by
        # `audit checkpoint --if-due` once the oldest unsigned entry is this old (0: never).
        "PSAM_CHECKPOINT_INTERVAL": _int(env, "PSAM_CHECKPOINT_INTERVAL", 3600),
        # /metrics answers only a scraper holding this token (see docs/deployment.md); unset,
        # /metrics answers 404 as if it did not exist.
        "PSAM_METRICS_TOKEN_SHA256": _metrics_token_hash(env),
        "PSAM_METRICS_DIR": _metrics_dir(env),
        # Where gunicorn listens (the command line's --bind wins, as `make run` uses).
        "PSAM_BIND": _bind(env),
        # gunicorn workers; unset, they follow the CPU quota (service/cpu.py).
        "WEB_CONCURRENCY": _int(env, "WEB_CONCURRENCY", 0, 1) or None,
        # Notifications (docs/notifications.md): only the worker sends, so only it needs them.
        "PSAM_SMTP_URL": _smtp_url(env),
        "PSAM_MAIL_FROM": _email(env, "PSAM_MAIL_FROM"),
        "PSAM_SAFETY_EMAIL": _email(env, "PSAM_SAFETY_EMAIL"),
        # Unset: escalations go to PSAM_SAFETY_EMAIL again.
        "PSAM_SAFETY_ESCALATION_EMAIL": _email(env, "PSAM_SAFETY_ESCALATION_EMAIL"),
        "PSAM_ALERT_ESCALATE_AFTER": _duration(env, "PSAM_ALERT_ESCALATE_AFTER", "24h"),
        "PSAM_REMINDER_DAYS": _reminder_days(env),
        "PSAM_NOTIFY_MAX_ATTEMPTS": _int(env, "PSAM_NOTIFY_MAX_ATTEMPTS", 8, 1),
        # The first retry waits about this long; each later one twice as long, up to an hour.
        "PSAM_NOTIFY_RETRY_SECONDS": _int(env, "PSAM_NOTIFY_RETRY_SECONDS", 60, 0),
        "PSAM_MESSAGE_WORDING": _wording(env),
        # flask-smorest / OpenAPI
        "API_TITLE": "Peer Support After Miscarriage: data capture API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }


def use_metrics_dir() -> str:
    """The folder gunicorn's workers share their metrics through (a new one if unset).

    prometheus-client picks multiprocess mode from PROMETHEUS_MULTIPROC_DIR when it is first
    imported (service/metrics.py imports it lazily), so gunicorn.conf.py calls this when it
    is read, in the master, before any worker loads the app.
    """
    folder = os.environ.get(METRICS_DIR_VARIABLE) or tempfile.mkdtemp(prefix="psam-metrics-")
    Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ[METRICS_DIR_VARIABLE] = folder
    return folder


def clear_metrics_dir(folder: str) -> None:
    """Empty the metrics folder at a master's start: files left by an earlier run would add
    its counts, and its dead workers, to this one's."""
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def config_for_tests(database_url: str, instance_dir: str) -> dict[str, Any]:
    """Overrides for the test suite: an explicit database and a throwaway instance folder."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "PSAM_DATABASE_POOLER": None,
        "PSAM_EXPORT_DATABASE_URL": None,
        "INSTANCE_DIR": instance_dir,
        "PSAM_KEYRING": str(Path(instance_dir) / "keyring.json"),
        "PSAM_KEYRING_JSON": None,
        # A test's rolled-back transaction holds the locks a purge would wait for: do not wait.
        "PSAM_PURGE_WAIT_SECONDS": 0,
    }
