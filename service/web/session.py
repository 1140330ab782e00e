"""The participant's web session: one signed cookie, and the CSRF token every form carries.

The cookie holds the participant token's id (never the token), a CSRF token and the time of
the last request, MACed with a key derived from the keyring (so every worker and replica
reads it), and the token's session epoch when the session began. It is HttpOnly,
SameSite=Strict, Secure when PSAM_PUBLIC_URL is https, and lapses after 30 minutes without a
request. Signing out moves the token's epoch on, and so does revoking the token (a new link,
a withdrawal that stops, an erasure): every cookie made before, copied or not, then ends at
its next request. That is the one thing the server keeps about sessions: a number a token.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, replace

from flask import current_app, g, request
from werkzeug.wrappers import Response

from service.db import get_session
from service.resources import get_keys
from service.services.tokens import (
    AuthenticationError,
    Principal,
    end_web_sessions,
    participant_by_token_id,
    session_epoch,
)

COOKIE = "psam_session"
IDLE_SECONDS = 30 * 60
CSRF_FIELD = "csrf_token"
# The HMAC purpose of the participant's cookie; the staff console's has its own, so one
# cookie can never stand for the other.
PURPOSE = "web-session"


class CsrfError(Exception):
    """A form came without the CSRF token of this browser's session."""


@dataclass(frozen=True)
class WebSession:
    csrf: str
    seen: int
    token_id: uuid.UUID | None = None
    issued: int = 0  # when the sign-in happened: a sign-out after it ends the session
    epoch: int = 0
    # The language this browser chose for the pages ("cy", "en"), before and after sign-in.
    language: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(web: WebSession, purpose: str = PURPOSE) -> str:
    payload = json.dumps(
        {
            "c": web.csrf,
            "s": web.seen,
            "t": str(web.token_id) if web.token_id else None,
            "i": web.issued,
            "e": web.epoch,
            "l": web.language,
        },
        separators=(",", ":"),
    ).encode("utf-8")
    mac = get_keys().current().mac(purpose, payload)
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(text: str, now: int, purpose: str = PURPOSE) -> WebSession | None:
    """The session a cookie holds, or None if it is forged, malformed or idle too long."""
    head, _, tail = text.partition(".")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, get_keys().current().mac(purpose, payload)):
        return None
    try:
        data = json.loads(payload)
        web = WebSession(
            csrf=str(data["c"]),
            seen=int(data["s"]),
            token_id=uuid.UUID(data["t"]) if data["t"] else None,
            issued=int(data.get("i", 0)),
            epoch=int(data.get("e", 0)),
            language=str(data["l"]) if data.get("l") else None,
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - web.seen <= IDLE_SECONDS:
        return None
    return web


def current() -> WebSession:
    """This request's session: the cookie's, or a new one without a participant."""
    if "web_session" not in g:
        text = request.cookies.get(COOKIE, "")
        web = decode(text, int(time.time())) if text else None
        g.web_session = web or WebSession(csrf=secrets.token_urlsafe(32), seen=int(time.time()))
    found: WebSession = g.web_session
    return found


def principal() -> Principal | None:
    """The participant this request's session stands for, if it is signed in, the token is
    still live and the session was not ended (signed out) since it began."""
    web = current()
    if web.token_id is None:
        return None
    try:
        return participant_by_token_id(get_session(), web.token_id, web.epoch)
    except AuthenticationError:
        return None


def sign_in(found: Principal) -> None:
    """Start a fresh session for this participant (a new CSRF token too)."""
    g.web_session = WebSession(
        csrf=secrets.token_urlsafe(32),
        seen=int(time.time()),
        token_id=found.token_id,
        epoch=session_epoch(get_session(), found.token_id),
        language=current().language,
    )


def sign_out() -> None:
    """End this session and every copy of its cookie (and the token's other sessions)."""
    web = current()
    # Only a live session moves the epoch on: a stale copy cannot sign the person out again.
    if web.token_id is not None and principal() is not None:
        end_web_sessions(get_session(), web.token_id)
    forget()


def forget() -> None:
    """Send this browser a fresh session without a participant (the token's sessions were
    already ended, e.g. by an erasure). The language chosen stays: it is no secret, and the
    page that says goodbye is read in it."""
    g.web_session = WebSession(
        csrf=secrets.token_urlsafe(32), seen=int(time.time()), language=current().language
    )


def choose_language(language: str) -> None:
    """Remember this browser's choice of language in its session cookie."""
    g.web_session = replace(current(), language=language)


def check_csrf(expected: str | None = None) -> None:
    """Refuse a form that does not carry this session's CSRF token (or ``expected``)."""
    sent = request.form.get(CSRF_FIELD, "")
    wanted = current().csrf if expected is None else expected
    if not sent or not hmac.compare_digest(sent.encode(), wanted.encode()):
        raise CsrfError


def store(
    response: Response,
    web: WebSession | None = None,
    cookie: tuple[str, str, str] = (COOKIE, "/p/", PURPOSE),
) -> Response:
    """Write the session back, with the time of this request (the idle clock restarts).

    ``cookie`` is (name, path, HMAC purpose): the staff console keeps its own."""
    name, path, purpose = cookie
    response.set_cookie(
        name,
        encode(replace(web or current(), seen=int(time.time())), purpose),
        max_age=IDLE_SECONDS,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["PSAM_PUBLIC_URL"].startswith("https://"),
    )
    return response
