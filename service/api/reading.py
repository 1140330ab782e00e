"""How every request is read, before any view sees it: the body through the one strict
JSON reader (``domain.strict_json``), its size however it is sent, and the query string
against the parameters the OpenAPI document declares for the route.

The hooks sit where every request passes (the Request class, the webargs loader, a
before-request check and a WSGI wrapper), never in a view, so a new route is covered
without anyone remembering to.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Request, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import is_json_request
from werkzeug.exceptions import HTTPException

from service.domain import strict_json
from service.errors import (
    MALFORMED_JSON,
    PAYLOAD_TOO_LARGE,
    UNKNOWN_PARAMETER,
    ApiError,
    validation_error,
)

OVER_LIMIT = "psam.body_over_limit"
STREAMED_ATTR = "psam_streamed_body"
F = TypeVar("F", bound=Callable[..., Any])
_NUL_REASON = "NUL characters (\\u0000) are not accepted"


class _StrictJsonModule:
    """What werkzeug's ``Request.get_json`` calls as ``json_module.loads``."""

    loads = staticmethod(strict_json.loads)


class StrictJsonRequest(Request):
    """A request whose ``get_json`` reads I-JSON and turns a fault into a 400 naming its
    place. (The app's own JSON provider stays as it is: it also reads our responses.)"""

    @property
    def json_module(self) -> Any:
        return _StrictJsonModule

    @json_module.setter
    def json_module(self, _provider: Any) -> None:
        """Flask's request context sets ``app.json`` here; bodies keep the strict reader."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, strict_json.MalformedJsonError):
            raise malformed_json(e) from None
        return super().on_json_loading_failed(e)


def malformed_json(error: strict_json.MalformedJsonError) -> ApiError:
    """The 400 for a body that is not I-JSON, keyed by the place of the fault."""
    place = error.place or "body"
    return ApiError(
        MALFORMED_JSON,
        f"The body is not acceptable JSON at {place}: {error.reason}.",
        errors={place: [error.reason]},
    )


def _load_json(req: Request, _schema: Schema) -> Any:
    """webargs' JSON location, read once through the request's strict (cached) reader."""
    if not is_json_request(req) or not req.get_data(cache=True):
        return core.missing  # no body: the schema reports its required fields
    return req.get_json()


def read_json_body() -> None:
    """Decode a JSON body now, so that every body meets the strict reader (whether or not
    its view reads one) and views and webargs get the cached result."""
    if request.is_json and request.get_data(cache=True):
        request.get_json()


def streamed_body(setting: str) -> Callable[[F], F]:
    """This view reads its body itself, as a stream, up to the limit in config ``setting``:
    the app's body limit, JSON check and whole-body read do not apply to it (a recording is
    hundreds of MB and must never sit in memory)."""

    def decorate(func: F) -> F:
        setattr(func, STREAMED_ATTR, setting)
        return func

    return decorate


def streamed_limit(app: Flask, environ: Mapping[str, Any]) -> int | None:
    """The limit of the streamed-body route ``environ`` asks for, or None for any other."""
    try:
        endpoint, _args = app.url_map.bind_to_environ(dict(environ)).match()
    except HTTPException:
        return None
    setting = getattr(app.view_functions.get(str(endpoint)), STREAMED_ATTR, None)
    return None if setting is None else int(app.config[setting])


def check_streamed_body() -> bool:
    """For a streamed-body route: refuse a stated length over its limit now, and let the
    stream be read up to just past it (so the view sees, and refuses, one byte too many).
    Whether the route streams its body."""
    limit = streamed_limit(current_app, request.environ)
    if limit is None:
        return False
    if (request.content_length or 0) > limit:
        raise ApiError(PAYLOAD_TOO_LARGE, f"The request body is over {limit} bytes.")
    request.max_content_length = limit + 1
    return True


class BoundedBody:
    """Read a chunked body up to the limit, so that one over the limit is a 413 however it
    is sent; what is read is handed on with its length (so SkipAbandoned sees it too).

    werkzeug would stop reading at the limit and hand on a truncated body, which then
    reads as malformed JSON (a 400). A route that streams its body (``streamed_body``) is
    left alone: it counts what it reads against its own limit.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        max_body: int | None,
        streams: Callable[[Mapping[str, Any]], bool] = lambda _environ: False,
    ):
        self.app, self.max_body, self.streams = app, max_body, streams

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # With Transfer-Encoding, any Content-Length is to be ignored (RFC 9112, 6.3); a
        # request without either has no body.
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if self.max_body is not None and chunked and not self.streams(environ):
            body = environ["wsgi.input"].read(self.max_body + 1)
            if len(body) > self.max_body:
                environ[OVER_LIMIT] = True
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def refuse_oversized_body() -> None:
    """The 413 for a body over the limit, whether it was sent with a length or chunked."""
    limit = request.max_content_length
    if request.environ.get(OVER_LIMIT) or (
        limit is not None and (request.content_length or 0) > limit
    ):
        raise ApiError(PAYLOAD_TOO_LARGE, f"The request body is over {limit} bytes.")


_RULE_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
PAGE_QUERY_ATTR = "psam_page_query"


def page_query(*names: str) -> Callable[[F], F]:
    """The query parameters a page (outside the OpenAPI document) takes, e.g. its filters."""

    def decorate(func: F) -> F:
        setattr(func, PAGE_QUERY_ATTR, frozenset(names))
        return func

    return decorate


def declared_query_parameters(
    app: Flask, spec: Mapping[str, Any]
) -> dict[tuple[str, str], frozenset[str]]:
    """(endpoint, method) -> the query parameters the OpenAPI document declares for it."""
    declared: dict[tuple[str, str], frozenset[str]] = {}
    paths = spec.get("paths", {})
    for rule in app.url_map.iter_rules():
        operations = paths.get(_RULE_VARIABLE.sub(r"{\1}", rule.rule), {})
        shared = operations.get("parameters", [])
        for method in rule.methods or ():
            operation = operations.get("get" if method == "HEAD" else method.lower(), {})
            names = {
                p["name"]
                for p in [*shared, *operation.get("parameters", [])]
                if p.get("in") == "query"
            }
            page: frozenset[str] = getattr(
                app.view_functions.get(rule.endpoint), PAGE_QUERY_ATTR, frozenset()
            )
            declared[(rule.endpoint, method)] = frozenset(names) | page
    return declared


def query_check(
    declared: Mapping[tuple[str, str], frozenset[str]],
) -> Callable[[], None]:
    """A before-request check: 422 for a query parameter the route does not declare (a
    typo such as ``timepiont`` would otherwise be ignored and return the wrong rows), and
    for NUL in the path or query (PostgreSQL text cannot hold it)."""

    def check() -> None:
        unknown: dict[str, list[str]] = {}
        refused: dict[str, list[str]] = {}
        if "\x00" in request.path:
            refused["path"] = [_NUL_REASON]
        if request.args:
            endpoint = request.url_rule.endpoint if request.url_rule else ""
            allowed = declared.get((endpoint, request.method), frozenset())
            for name, value in request.args.items(multi=True):
                if name not in allowed:
                    unknown[strict_json.printable(name)] = ["Unknown parameter."]
                elif "\x00" in value:
                    refused[name] = [_NUL_REASON]
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ApiError(
                UNKNOWN_PARAMETER, f"This address takes no parameter {names}.", errors=unknown
            )
        if refused:
            raise validation_error(refused)

    return check


def use_strict_json(app: Flask) -> None:
    """Make the strict reader the only JSON reader of request bodies, for Flask and webargs."""
    app.request_class = StrictJsonRequest
    parser = Blueprint.ARGUMENTS_PARSER
    # An instance-level map, as webargs' own ``location_loader`` keeps at class level:
    # webargs then takes JSON from the request's strict, cached reader, not its own.
    parser.__location_map__ = {**parser.__location_map__, "json": _load_json}
