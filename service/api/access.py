"""Who may call a view: declared beside the route, enforced once for every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, g, request
from flask_smorest import Blueprint

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


def public(func: F) -> F:
    """Anyone may call this view, without a token."""
    setattr(func, ACCESS_ATTR, Access(public=True))
    return func


def requires_roles(*roles: str) -> Callable[[F], F]:
    """Only a token holding at least one of these roles may call this view."""

    def decorate(func: F) -> F:
        documented: F = Blueprint.doc(
            security=[{"bearerAuth": []}],
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


def enforce_access(app: Flask) -> None:
    """Authenticate and authorise the request before its view runs."""
    endpoint = request.endpoint
    if endpoint is None or endpoint.split(".")[0] in UNDECLARED_OK:
        return  # routing failed (404/405 follow) or a public docs view
    access = view_access(app, endpoint)
    if access is None or access.public:
        return
    principal = _principal_from_header()
    if not access.roles & principal.roles:
        raise ApiError(
            FORBIDDEN, f"This call needs one of the roles: {', '.join(sorted(access.roles))}."
        )
    g.principal = principal


def _principal_from_header() -> Principal:
    challenge = {"WWW-Authenticate": 'Bearer realm="psam"'}
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            AUTHENTICATION_REQUIRED,
            "Send an API token as 'Authorization: Bearer <token>'.",
            headers=challenge,
        )
    try:
        return authenticate(get_session(), token.strip())
    except AuthenticationError as exc:
        raise ApiError(AUTHENTICATION_REQUIRED, str(exc), headers=challenge) from None


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
