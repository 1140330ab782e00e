"""Staff token administration."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from schemas.api import TokenCreatedSchema, TokenCreateSchema, TokenListSchema, TokenSchema
from service.api.access import current_principal, requires_roles
from service.db import get_session
from service.models import StaffToken
from service.resources import trail_of
from service.services import tokens

blp = Blueprint("tokens", __name__, url_prefix="/api/v1", description="Staff API tokens")


@blp.route("/tokens", methods=["GET"])
@requires_roles("admin")
@blp.response(200, TokenListSchema)
def list_tokens() -> dict[str, Any]:
    """Every staff token: label, roles, hint and dates; never a secret."""
    return {"tokens": tokens.list_staff_tokens(get_session(), trail=trail_of(current_principal()))}


@blp.route("/tokens", methods=["POST"])
@requires_roles("admin")
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenCreatedSchema)
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    """Issue a staff token; the token is in this answer and nowhere else, ever."""
    row, token = tokens.create_staff_token(
        get_session(),
        body["roles"],
        body["label"],
        body.get("expires_days"),
        trail=trail_of(current_principal()),
    )
    return {**{name: getattr(row, name) for name in TokenSchema().fields}, "token": token}


@blp.route("/tokens/<uuid:token_id>/revoke", methods=["POST"])
@requires_roles("admin")
@blp.response(200, TokenSchema)
def revoke_token(token_id: uuid.UUID) -> StaffToken:
    """Revoke a staff token at once and for good."""
    return tokens.revoke_staff_token(get_session(), token_id, trail=trail_of(current_principal()))
