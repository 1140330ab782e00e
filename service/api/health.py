"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from schemas.api import HealthSchema, ReadinessSchema
from service.api.access import public
from service.db import get_session
from service.errors import NOT_READY, ApiError
from service.resources import get_keys
from service.services.health import readiness_checks

blp = Blueprint("health", __name__, url_prefix="/", description="Probes for orchestrators")


@blp.route("/healthz", methods=["GET"])
@public
@blp.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@public
@blp.response(200, ReadinessSchema)
def readyz() -> dict[str, Any]:
    """The keyring is usable, the database answers, is migrated and holds the catalogue."""
    checks = readiness_checks(get_session(), get_keys())
    if any(v != "ok" for v in checks.values()):
        raise ApiError(NOT_READY, "Not ready: see 'checks'.", extra={"checks": checks})
    return {"status": "ready", "checks": checks}
