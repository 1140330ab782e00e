"""Staff API tokens: issuing, listing, revoking, and recognising one on a request."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.errors import NotFoundError
from service.domain.tokens import (
    STAFF_ROLES,
    TokenKind,
    generate_token,
    hash_token,
    token_hint,
    token_kind,
)
from service.models import StaffToken


class AuthenticationError(Exception):
    """The token is missing, malformed, unknown, revoked or expired."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, label and roles (never the token itself)."""

    kind: TokenKind
    token_id: uuid.UUID
    label: str
    roles: frozenset[str]


def create_staff_token(
    session: Session, roles: Iterable[str], label: str, expires_days: int | None = None
) -> tuple[StaffToken, str]:
    """Issue a token; the plaintext is returned once and never stored."""
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in STAFF_ROLES]
    if unknown or not wanted:
        raise ValueError(f"roles must be among {', '.join(STAFF_ROLES)}")
    if expires_days is not None and expires_days < 1:
        raise ValueError("expires_days must be at least 1")
    token = generate_token(TokenKind.STAFF)
    now = utcnow()
    row = StaffToken(
        label=label,
        roles=wanted,
        token_sha256=hash_token(token),
        hint=token_hint(token),
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
        revoked_at=None,
    )
    session.add(row)
    session.commit()
    return row, token


def list_staff_tokens(session: Session) -> list[StaffToken]:
    """Every staff token, oldest first; hashes are not secret but are not shown either."""
    return list(session.scalars(select(StaffToken).order_by(StaffToken.created_at)))


def revoke_staff_token(session: Session, token_id: uuid.UUID) -> StaffToken:
    """Revoke a token for good; revoking twice keeps the first time."""
    row = session.get(StaffToken, token_id)
    if row is None:
        raise NotFoundError(f"There is no staff token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def has_active_admin(session: Session) -> bool:
    """Whether any unrevoked, unexpired token holds the admin role."""
    now = utcnow()
    return any(
        "admin" in row.roles and row.revoked_at is None and not _expired(row, now)
        for row in session.scalars(select(StaffToken))
    )


def authenticate(session: Session, token: str) -> Principal:
    """The principal a presented token stands for, or AuthenticationError."""
    kind = token_kind(token)
    if kind is not TokenKind.STAFF:
        raise AuthenticationError("The token is not recognised.")
    digest = hash_token(token)
    row = session.scalars(select(StaffToken).where(StaffToken.token_sha256 == digest)).one_or_none()
    # The lookup is by hash, so its timing tells nothing about the token; the compare is
    # constant-time all the same, should the lookup ever change.
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        raise AuthenticationError("The token is not recognised.")
    if row.revoked_at is not None:
        raise AuthenticationError("The token has been revoked.")
    if _expired(row, utcnow()):
        raise AuthenticationError("The token has expired.")
    return Principal(kind, row.id, row.label, frozenset(row.roles))


def _expired(row: StaffToken, now: dt.datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now
