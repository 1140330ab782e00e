"""Safety alerts, for researchers to act on."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from schemas.responses import AcknowledgeSchema, AlertListSchema, AlertQuerySchema, AlertSchema
from service.api.access import current_principal, requires_roles
from service.db import get_session
from service.resources import get_keys, ledger_writer
from service.services import alerts

blp = Blueprint("alerts", __name__, url_prefix="/api/v1", description="Safety alerts")


@blp.route("/alerts", methods=["GET"])
@requires_roles("researcher")
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertListSchema)
def list_alerts(query: dict[str, Any]) -> dict[str, Any]:
    """Alerts raised by saved or submitted answers (``status=open`` by default), newest first."""
    session = get_session()
    status = None if query["status"] == "all" else query["status"]
    found = alerts.list_alerts(
        session, get_keys(), ledger_writer(session), current_principal(), status
    )
    return {"alerts": found}


@blp.route("/alerts/<uuid:alert_id>/ack", methods=["POST"])
@requires_roles("researcher")
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertSchema)
def acknowledge(body: dict[str, Any], alert_id: uuid.UUID) -> alerts.AlertView:
    """Acknowledge an alert with a note of what was done (kept encrypted, access-logged)."""
    session = get_session()
    return alerts.acknowledge(
        session, get_keys(), ledger_writer(session), current_principal(), alert_id, body["note"]
    )
