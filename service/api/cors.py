"""Cross-origin calls from browser front ends: an explicit allow-list, nothing else.

With ``PSAM_CORS_ORIGINS`` empty (the default) no response carries ``Access-Control-*``
headers, so a browser lets only pages of the service's own origin read its answers. An
origin on the list may call the API with a bearer token in the ``Authorization`` header;
credentials mode (cookies) is never allowed, since no API call is authenticated by a cookie.
A preflight is answered here, before access control: it carries no token by design, and it
is not a call of the API (it reads nothing and is not written to the access log).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

from service.errors import FORBIDDEN, ApiError

# What a browser may send, and what a script may read of an answer.
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
)
EXPOSED_HEADERS = (
    "X-Request-ID",
    "X-Export-Id",
    "X-Export-Read-From",
    "X-Export-Data-As-Of",
    "Idempotent-Replayed",
    "Retry-After",
    "ETag",
)
PREFLIGHT_MAX_AGE = 600


def init_cors(app: Flask, origins: Iterable[str]) -> None:
    """Answer preflights from allowed origins (``config.parse_origins``) and label their
    answers; after
    ``assign_request_id`` and before access control."""
    allowed = frozenset(origins)

    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = request.headers.get("Origin", "")
        if origin.lower() not in allowed:
            raise ApiError(FORBIDDEN, "This origin may not call the API from a browser.")
        methods = sorted((request.url_rule.methods or set()) - {"HEAD"}) if request.url_rule else []
        answer = Response(status=204)
        answer.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        answer.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        answer.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return answer

    def label(response: Response) -> Response:
        response.vary.add("Origin")
        origin = request.headers.get("Origin", "")
        if origin.lower() in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        return response

    app.before_request(preflight)
    app.after_request(label)
