"""Settings, read from the environment in this one place, with safe embedded defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAX_BODY_BYTES = 256 * 1024


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, not {raw!r}") from None


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the application's settings from environment variables."""
    env = os.environ if env is None else env
    instance = Path(env.get("PSAM_INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()
    return {
        "INSTANCE_DIR": str(instance),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'psam.sqlite3'}",
        "PSAM_INSTRUMENTS_DIR": env.get("PSAM_INSTRUMENTS_DIR")
        or str(PROJECT_ROOT / "instruments"),
        "PSAM_KEYRING": env.get("PSAM_KEYRING") or str(instance / "keyring.json"),
        # The whole keyring as JSON, for platforms that hand secrets over in the environment.
        "PSAM_KEYRING_JSON": env.get("PSAM_KEYRING_JSON") or None,
        "PSAM_ENROLMENT_CODE": env.get("PSAM_ENROLMENT_CODE") or None,
        # Self-enrolments allowed per client address and window, across all workers.
        "PSAM_ENROLMENT_LIMIT": env.get("PSAM_ENROLMENT_LIMIT") or "10/hour",
        # How many proxies in front set X-Forwarded-For (0: use the socket's address).
        "PSAM_PROXY_HOPS": _int(env, "PSAM_PROXY_HOPS", 0),
        "MAX_CONTENT_LENGTH": _int(env, "PSAM_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        "PSAM_LOG_LEVEL": env.get("PSAM_LOG_LEVEL", "INFO"),
        # Browser origins allowed to call the API (CORS), e.g. "https://app.example.org";
        # empty: only pages of the service's own origin.
        "PSAM_CORS_ORIGINS": env.get("PSAM_CORS_ORIGINS", ""),
        "PSAM_CHECKPOINT_EVERY": _int(env, "PSAM_CHECKPOINT_EVERY", 100),
        # Consent signatures a participant may make in a day (each is a permanent log entry).
        "PSAM_CONSENT_SIGNINGS_PER_DAY": _int(env, "PSAM_CONSENT_SIGNINGS_PER_DAY", 5),
        # How long the request that erases waits for the purge's locks and readers; what
        # does not complete then is left to `flask --app wsgi erasure purge` (cron).
        "PSAM_PURGE_WAIT_SECONDS": _int(env, "PSAM_PURGE_WAIT_SECONDS", 2),
        # Seconds an entry may stay unsigned: a checkpoint is made on the next append or by
        # `audit checkpoint --if-due` once the oldest unsigned entry is this old (0: never).
        "PSAM_CHECKPOINT_INTERVAL": _int(env, "PSAM_CHECKPOINT_INTERVAL", 3600),
        # flask-smorest / OpenAPI
        "API_TITLE": "Peer Support After Miscarriage: data capture API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }


def config_for_tests(database_url: str, instance_dir: str) -> dict[str, Any]:
    """Overrides for the test suite: an explicit database and a throwaway instance folder."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": instance_dir,
        "PSAM_KEYRING": str(Path(instance_dir) / "keyring.json"),
        "PSAM_KEYRING_JSON": None,
        # A test's rolled-back transaction holds the locks a purge would wait for: do not wait.
        "PSAM_PURGE_WAIT_SECONDS": 0,
    }
