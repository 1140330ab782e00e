"""The Peer Support After Miscarriage data-capture service."""

from __future__ import annotations

import io
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from service.api import init_api
from service.api import metrics as metrics_view
from service.api.access import check_declarations, enforce_access
from service.api.cors import init_cors
from service.api.idempotency import replay_after_erasure
from service.api.reading import (
    BoundedBody,
    check_streamed_body,
    declared_query_parameters,
    query_check,
    read_json_body,
    refuse_oversized_body,
    streamed_limit,
    use_strict_json,
)
from service.config import ConfigError, load_config, parse_origins
from service.db import Database
from service.errors import (
    CLIENT_CLOSED_REQUEST,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    register_error_handlers,
)
from service.logs import assign_request_id, configure_logging
from service.metrics import init_metrics
from service.resources import init_keys
from service.services.ratelimit import Limit
from service.web import init_web, staff_session
from service.web import session as web_session

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then the environment, then the caller's overrides."""
    settings = load_config()
    settings.update(config or {})
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"])
    app.config.update(settings)
    if app.config["PSAM_PROXY_HOPS"]:
        # Trust exactly as many X-Forwarded-For hops as there are proxies we run.
        hops = app.config["PSAM_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    configure_logging(app.config["PSAM_LOG_LEVEL"])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True, mode=0o700)

    try:
        Limit.parse(app.config["PSAM_ENROLMENT_LIMIT"])
    except ValueError as exc:
        raise RuntimeError(f"PSAM_ENROLMENT_LIMIT: {exc}") from None
    try:
        cors_origins = parse_origins(app.config["PSAM_CORS_ORIGINS"])
    except ValueError as exc:
        raise ConfigError("PSAM_CORS_ORIGINS", str(exc)) from None
    init_metrics(app)  # first, so its timer also covers the other before_request hooks
    Database(
        app.config["DATABASE_URL"],
        pooler=app.config.get("PSAM_DATABASE_POOLER"),
        export_url=app.config.get("PSAM_EXPORT_DATABASE_URL"),
    ).init_app(app)
    init_keys(app)
    register_error_handlers(app)
    api = init_api(app)
    app.register_blueprint(metrics_view.blp)
    init_web(app)
    check_declarations(app)
    use_strict_json(app)

    max_body = app.config["MAX_CONTENT_LENGTH"]
    app.wsgi_app = BoundedBody(  # type: ignore[method-assign]
        SkipAbandoned(app.wsgi_app, max_body),
        max_body,
        lambda environ: streamed_limit(app, environ) is not None,
    )
    app.before_request(assign_request_id)
    init_cors(app, cors_origins)  # a preflight is answered before any other check
    app.before_request(_check_body)
    app.before_request(
        lambda: enforce_access(
            app, replay_after_erasure, web_session.principal, staff_session.principal
        )
    )
    # After access: a caller turned away learns nothing more and costs no parsing.
    app.before_request(query_check(declared_query_parameters(app, api.spec.to_dict())))
    app.before_request(read_json_body)
    app.after_request(_common_headers)

    from service.cli import register_commands

    register_commands(app)
    return app


def _check_body() -> None:
    """Refuse oversized and non-JSON bodies before anything reads them."""
    if request.method not in _BODY_METHODS or check_streamed_body():
        return  # a streamed body (a recording) is read, and limited, by its view
    refuse_oversized_body()
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if has_body and not request.is_json and not _is_page_form():
        raise ApiError(
            UNSUPPORTED_MEDIA_TYPE, "Send the body as JSON with 'Content-Type: application/json'."
        )
    request.get_data(cache=True)  # read the whole body now, so the socket shows a hang-up
    if client_has_gone(request.environ):  # a body of a length SkipAbandoned does not read
        # Nobody will read the answer: skip the work rather than queue it behind live clients.
        raise ApiError(CLIENT_CLOSED_REQUEST, "The client closed the connection.")


def _is_page_form() -> bool:
    """A form posted to one of the pages (service/web/): the one body that is not JSON."""
    return (
        request.blueprint in ("web", "staff")
        and request.mimetype == "application/x-www-form-urlencoded"
    )


def _common_headers(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    # One policy for every answer: the docs page and the participant pages load only their
    # own files (no inline script, no third party) and post forms only to this service.
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    # No address of ours, which might name a page of the study, goes to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class SkipAbandoned:
    """Answer 499, before the application runs at all, a request whose client hung up while
    it waited in the queue (a phone that lost its signal, a user who gave up).

    After a burst of such clients, a worker finds a backlog of their requests; each is read and
    dropped here for a fraction of what a full pass through Flask costs, so live clients behind
    them are served sooner. The body (of a stated length, within the limit) is read first,
    since only then does the socket show the hang-up; the application reads it from memory.
    """

    def __init__(self, app: Any, max_body: int | None):
        self.app, self.max_body = app, max_body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (
            environ.get("gunicorn.socket") is not None
            and environ["REQUEST_METHOD"] in _BODY_METHODS
        ):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # the application answers a bad length
            if 0 < length <= (self.max_body or length):
                environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
                if client_has_gone(environ):
                    start_response("499 Client Closed Request", [("Content-Length", "0")])
                    return [b""]
        return self.app(environ, start_response)


def client_has_gone(environ: dict[str, Any]) -> bool:
    """Whether the client has already closed its connection (gunicorn's sync workers expose
    the socket; elsewhere this says no)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        peeked: bytes = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return peeked == b""
    except BlockingIOError:
        return False  # connected, nothing more sent: the usual case
    except OSError:
        return True  # reset by the peer
