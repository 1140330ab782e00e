"""The ``Idempotency-Key`` header on participant POSTs: retries get the first answer."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, make_response, request
from flask_smorest import Blueprint

from service.api.access import current_principal
from service.db import get_session
from service.domain.canonical import canonical_json
from service.domain.tokens import TokenKind, hash_token, token_kind
from service.errors import validation_error
from service.resources import get_keys
from service.services import idempotency

F = TypeVar("F", bound=Callable[..., Any])
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def _request_fingerprint() -> str:
    body = request.get_json(silent=True)
    payload = canonical_json(body) if body is not None else request.get_data()
    text = f"{request.method}\n{request.path}\n".encode() + payload
    return hashlib.sha256(text).hexdigest()


def _replay(claimed: idempotency.Replay) -> Response:
    replay = Response(claimed.body, status=claimed.status_code)
    replay.mimetype = (
        "application/problem+json" if claimed.status_code >= 400 else "application/json"
    )
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def replay_after_erasure(token: str) -> Response | None:
    """For a request whose token was refused: the first answer, when this is the retry of a
    ``stop-and-erase`` that revoked the token (same token, key and body); otherwise None."""
    key = request.headers.get(idempotency.HEADER)
    if key is None or token_kind(token) is not TokenKind.PARTICIPANT:
        return None
    found = idempotency.replay_after_erasure(
        get_session(), hash_token(token), key, _request_fingerprint()
    )
    return None if found is None else _replay(found)


def idempotent(view: F) -> F:
    """Honour an Idempotency-Key header: the first answer is stored and replayed."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return make_response(view(*args, **kwargs))
        if not 1 <= len(key) <= 200 or not set(key) <= _KEY_CHARS:
            raise validation_error(
                {idempotency.HEADER: ["1 to 200 letters, digits or - _ . : (e.g. a UUID)"]}
            )
        study_id = current_principal().study_id
        if study_id is None:
            raise RuntimeError("idempotency keys are scoped to a participant")
        session, keys = get_session(), get_keys()
        claimed = idempotency.claim(session, keys, study_id, key, _request_fingerprint())
        if isinstance(claimed, idempotency.Replay):
            return _replay(claimed)
        try:
            with idempotency.deferred_commit(session):
                response = make_response(view(*args, **kwargs))
        except Exception as exc:
            # A refusal is an answer like any other, and a retry would meet it again; the
            # handlers of service.errors turn every exception into its problem response.
            response = make_response(current_app.handle_user_exception(exc))
            if response.status_code < 500:
                idempotency.store(
                    session, keys, claimed, response.status_code, response.get_data(as_text=True)
                )
            else:
                idempotency.release(session, claimed)
            return response
        idempotency.answer(
            session, keys, claimed, response.status_code, response.get_data(as_text=True)
        )
        return response

    documented: F = Blueprint.doc(
        parameters=[
            {
                "in": "header",
                "name": idempotency.HEADER,
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "Send the same key when retrying: the first answer comes back, "
                "and nothing is stored twice. The same key with another body is a 422.",
            }
        ]
    )(run)
    return documented
