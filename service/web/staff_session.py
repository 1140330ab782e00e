"""The staff console's session: its own signed cookie, beside the participant's.

The cookie (``psam_staff``, path ``/staff/``) holds the staff token's id (never the token),
a CSRF token, the time of sign-in and the time of the last request, MACed under its own HMAC
purpose (``staff-session``), so a participant's cookie can never stand for a staff member.
HttpOnly, SameSite=Strict, Secure when PSAM_PUBLIC_URL is https, 30 minutes idle timeout.
A sign-out records its time on the token's row: every session begun before it ends, a
copied cookie included. A revoked or expired token ends its sessions at the next request.

Single sign-on (OpenID Connect) would be a second way to reach :func:`sign_in`: the
identity provider's callback maps the person to a staff token (their roles) and calls it;
the pages, which see only the principal, do not change.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

from flask import g, request
from werkzeug.wrappers import Response

from service.db import get_session
from service.services.tokens import (
    AuthenticationError,
    Principal,
    end_staff_sessions,
    staff_by_token_id,
)
from service.web import session as session_cookie
from service.web.session import WebSession, decode

COOKIE = "psam_staff"
PURPOSE = "staff-session"


def current() -> WebSession:
    """This request's console session: the cookie's, or a new one with nobody signed in."""
    if "staff_session" not in g:
        text = request.cookies.get(COOKIE, "")
        now = int(time.time())
        web = decode(text, now, PURPOSE) if text else None
        g.staff_session = web or WebSession(csrf=secrets.token_urlsafe(32), seen=now)
    found: WebSession = g.staff_session
    return found


def principal() -> Principal | None:
    """The staff member this request's session stands for, while the token is live and no
    sign-out came after the sign-in."""
    web = current()
    if web.token_id is None:
        return None
    since = dt.datetime.fromtimestamp(web.issued / 1_000_000, dt.UTC)
    try:
        return staff_by_token_id(get_session(), web.token_id, since)
    except AuthenticationError:
        return None


def sign_in(found: Principal) -> None:
    """A fresh session for this staff member (a new CSRF token too)."""
    # In microseconds, as the sign-out's time is kept: a sign-out and a new sign-in in the
    # same second are still told apart.
    now = time.time_ns() // 1000
    g.staff_session = WebSession(
        csrf=secrets.token_urlsafe(32),
        seen=now // 1_000_000,
        token_id=found.token_id,
        issued=now,
    )


def sign_out() -> None:
    """End every console session of the signed-in token, here and on any copied cookie."""
    web = current()
    if web.token_id is not None:
        end_staff_sessions(get_session(), web.token_id)
    g.staff_session = WebSession(csrf=secrets.token_urlsafe(32), seen=int(time.time()))


def check_csrf() -> None:
    """Refuse a form that does not carry this console session's CSRF token."""
    session_cookie.check_csrf(current().csrf)


def store(response: Response) -> Response:
    """Write the session back with the time of this request (the idle clock restarts)."""
    return session_cookie.store(response, current(), (COOKIE, "/staff/", PURPOSE))
