"""``GET /metrics``: the Prometheus text page, for the scraper's token only.

Not part of the API's OpenAPI document: it is for the operator's monitoring, not for front
ends. See docs/deployment.md for why it has a token of its own.
"""

from __future__ import annotations

from flask import Blueprint, Response

from service.api.access import requires_metrics_token
from service.db import get_session, utcnow
from service.metrics import CONTENT_TYPE, exposition
from service.services import notifications

blp = Blueprint("metrics", __name__)


@blp.route("/metrics", methods=["GET"])
@requires_metrics_token
def metrics() -> Response:
    """Every worker's counters and histograms, the open alerts and the outbox read now."""
    session = get_session()
    backlog = notifications.backlog(session, utcnow())
    return Response(exposition(session, backlog), content_type=CONTENT_TYPE)
