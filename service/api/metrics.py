"""``GET /metrics``: the Prometheus text page, for the scraper's token only.

Not part of the API's OpenAPI document: it is for the operator's monitoring, not for front
ends. See docs/deployment.md for why it has a token of its own.
"""

from __future__ import annotations

from flask import Blueprint, Response

from service.api.access import requires_metrics_token
from service.db import get_session
from service.metrics import CONTENT_TYPE, exposition

blp = Blueprint("metrics", __name__)


@blp.route("/metrics", methods=["GET"])
@requires_metrics_token
def metrics() -> Response:
    """Every worker's counters and histograms, and the open alerts read now."""
    return Response(exposition(get_session()), content_type=CONTENT_TYPE)
