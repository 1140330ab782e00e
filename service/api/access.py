"""Who may call a view: declared beside the route, enforced once for every request."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, g, request
from flask_smorest import Blueprint
from werkzeug.exceptions import MethodNotAllowed

from service.db import get_session
from service.domain.errors import InvalidInputError
from service.domain.pseudonyms import StudyIdError, parse_study_id
from service.errors import AUTHENTICATION_REQUIRED, FORBIDDEN, ApiError
from service.services.tokens import AuthenticationError, Principal, authenticate

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "psam_access"
# Blueprints that are not ours to declare (the OpenAPI document and its docs page are public).
UNDECLARED_OK = frozenset({"static", "api-docs"})


@dataclass(frozen=True)
class Access:
    public: bool
    roles: frozenset[str] = frozenset()
    # Only the metrics scraper's own token (PSAM_METRICS_TOKEN) gets in: no staff token, so
    # a scrape every 15 seconds writes nothing to the immutable access log.
    scraper: bool = False
    # A participant's page: the signed-in session (service/web/session.py) admits, and so
    # does a participant's bearer token; both stand for the same principal.
    page: bool = False
    # A staff console page: the console's session admits (roles checked as for a token),
    # and so does a staff bearer token.
    console: bool = False


def refuse_head() -> None:
    """A download streamed from an open transaction is answered to GET only: for HEAD the
    body is never read, so its stream would never close its transaction or complete its
    manifest. HEAD gets a 405 naming GET, before anything is begun or logged."""
    if request.method == "HEAD":
        raise MethodNotAllowed(valid_methods=["GET"])


def public(func: F) -> F:
    """Anyone may call this view, without a token."""
    setattr(func, ACCESS_ATTR, Access(public=True))
    return func


def requires_metrics_token(func: F) -> F:
    """Only the bearer of PSAM_METRICS_TOKEN may call this view; no staff or participant
    token is accepted (they get 403)."""
    setattr(func, ACCESS_ATTR, Access(public=False, scraper=True))
    return func


def participant_page(func: F) -> F:
    """Only a signed-in participant may see this page: by their session cookie or by their
    bearer token, either way the same principal as on the JSON API."""
    setattr(func, ACCESS_ATTR, Access(public=False, roles=frozenset({"participant"}), page=True))
    return func


def staff_page(*roles: str) -> Callable[[F], F]:
    """Only a signed-in staff member holding one of these roles may see this console page:
    by the console's session cookie or by a staff bearer token, the same principal either way."""

    def decorate(func: F) -> F:
        setattr(func, ACCESS_ATTR, Access(public=False, roles=frozenset(roles), console=True))
        return func

    return decorate


# Set by the web package: the principal of the request's session cookie, or None.
SessionPrincipal = Callable[[], Principal | None]


def requires_roles(*roles: str) -> Callable[[F], F]:
    """Only a token holding at least one of these roles may call this view."""

    # A participant's token and a staff token are told apart by their prefix; the document
    # names the kind each operation takes, so a client knows which one to send.
    scheme = "participantToken" if set(roles) == {"participant"} else "staffToken"

    def decorate(func: F) -> F:
        documented: F = Blueprint.doc(
            security=[{scheme: []}],
            description=(func.__doc__ or "").strip() + f"\n\nRoles: {', '.join(roles)}.",
        )(func)
        setattr(documented, ACCESS_ATTR, Access(public=False, roles=frozenset(roles)))
        return documented

    return decorate


def view_access(app: Flask, endpoint: str) -> Access | None:
    return getattr(app.view_functions[endpoint], ACCESS_ATTR, None)


def check_declarations(app: Flask) -> None:
    """Refuse to start when any API view has not said who may call it."""
    missing = [
        ep
        for ep in app.view_functions
        if ep.split(".")[0] not in UNDECLARED_OK and view_access(app, ep) is None
    ]
    if missing:
        raise RuntimeError(f"views without an access declaration: {', '.join(sorted(missing))}")


# For a refused token: the stored answer to replay instead of the 401, if there is one.
RefusedTokenAnswer = Callable[[str], Response | None]


def enforce_access(
    app: Flask,
    answer_refused: RefusedTokenAnswer | None = None,
    session_principal: SessionPrincipal | None = None,
    console_principal: SessionPrincipal | None = None,
) -> Response | None:
    """Authenticate and authorise the request before its view runs.

    ``answer_refused`` is asked about a token that does not authenticate: the retry of a
    ``stop-and-erase`` comes with the token that the erasure revoked, and gets its first
    answer back rather than a 401.
    """
    endpoint = request.endpoint
    if endpoint is None or endpoint.split(".")[0] in UNDECLARED_OK:
        return None  # routing failed (404/405 follow) or a public docs view
    access = view_access(app, endpoint)
    if access is None or access.public:
        return None
    if access.page and session_principal is not None and "Authorization" not in request.headers:
        from_session = session_principal()
        if from_session is not None:
            g.principal = from_session
            return None
    from_console = _console_session(access, console_principal)
    if from_console is not None:
        _check_roles(access, from_console)
        g.principal = from_console
        return None
    token = _bearer_token()
    if access.scraper and _is_metrics_token(app, token):
        return None
    try:
        principal = authenticate(get_session(), token)
    except AuthenticationError as exc:
        answer = answer_refused(token) if answer_refused is not None else None
        if answer is not None:
            return answer
        raise ApiError(AUTHENTICATION_REQUIRED, str(exc), headers=_CHALLENGE) from None
    if access.scraper:
        raise ApiError(FORBIDDEN, "This call needs the metrics token, not an API token.")
    _check_roles(access, principal)
    g.principal = principal
    return None


def _console_session(
    access: Access, console_principal: SessionPrincipal | None
) -> Principal | None:
    if not access.console or console_principal is None or "Authorization" in request.headers:
        return None
    return console_principal()


def _check_roles(access: Access, principal: Principal) -> None:
    if not access.roles & principal.roles:
        raise ApiError(
            FORBIDDEN, f"This call needs one of the roles: {', '.join(sorted(access.roles))}."
        )


def _is_metrics_token(app: Flask, token: str) -> bool:
    """Whether ``token`` is the scraper's: only its hash is held, compared in constant time."""
    expected = app.config.get("PSAM_METRICS_TOKEN_SHA256")
    if not expected:
        return False
    presented = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return hmac.compare_digest(presented, expected)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="psam"'}


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            AUTHENTICATION_REQUIRED,
            "Send an API token as 'Authorization: Bearer <token>'.",
            headers=_CHALLENGE,
        )
    return token.strip()


def current_principal() -> Principal:
    """The authenticated caller of this request."""
    principal = g.get("principal")
    if not isinstance(principal, Principal):
        raise RuntimeError("the view was not declared with requires_roles")
    return principal


def study_id_from_path(text: str) -> str:
    """A study ID from a URL: a mistyped one is a 422 naming the check character."""
    try:
        return parse_study_id(text)
    except StudyIdError as exc:
        raise InvalidInputError({"study_id": [str(exc)]}) from None
