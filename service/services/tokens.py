"""Staff API tokens: issuing, listing, revoking, and recognising one on a request."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, select, update
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
from service.models import ParticipantToken, StaffToken

if TYPE_CHECKING:  # audit imports Principal from here
    from service.services.audit import Trail


class AuthenticationError(Exception):
    """The token is missing, malformed, unknown, revoked or expired."""


PARTICIPANT_ROLE = "participant"
OPERATOR_ROLE = "operator"  # never held by a token: only by commands run on the server


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, label and roles (never the token itself).

    A participant's token holds the one role ``participant`` and is scoped to its study ID.
    The label is for people reading ``tokens list``; it never reaches a log (``actor``).
    """

    kind: TokenKind
    token_id: uuid.UUID
    label: str
    roles: frozenset[str]
    study_id: str | None = None

    def actor(self) -> dict[str, str]:
        """How this caller is named in the logs and manifests: by token id, never by label.

        A label is free text that may hold a person's name, and the logs are immutable; the
        id leads to the label through ``tokens list`` for as long as the service keeps it.
        """
        if self.kind is TokenKind.PARTICIPANT:
            return {"kind": "participant", "token_id": str(self.token_id)}
        if OPERATOR_ROLE in self.roles:
            return {"kind": "cli", "command": self.label}
        return {"kind": "staff", "token_id": str(self.token_id)}

    @classmethod
    def operator(cls, command: str = "command line") -> Principal:
        """Someone running ``command`` (e.g. "tokens create") on the server, with no token."""
        return cls(TokenKind.STAFF, uuid.UUID(int=0), command, frozenset({OPERATOR_ROLE}))


def create_staff_token(
    session: Session,
    roles: Iterable[str],
    label: str,
    expires_days: int | None = None,
    *,
    trail: Trail | None = None,
) -> tuple[StaffToken, str]:
    """Issue a token; the plaintext is returned once and never stored. Commits.

    With a ``trail`` (every API and CLI caller passes one) the issue is an access-log event
    in the same transaction, naming the new token by id and roles, never by label.
    """
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
    session.flush()
    if trail is not None:
        trail.record(
            session,
            "token.create",
            filters={"token_id": str(row.id), "roles": wanted, "expires_days": expires_days},
            rows=1,
        )
    session.commit()
    return row, token


def list_staff_tokens(session: Session, *, trail: Trail | None = None) -> list[StaffToken]:
    """Every staff token, oldest first; hashes are not secret but are not shown either.

    Who holds access is itself access data, so a listing is logged (with a ``trail``). Commits.
    """
    rows = list(session.scalars(select(StaffToken).order_by(StaffToken.created_at)))
    if trail is not None:
        trail.record(session, "token.list", rows=len(rows))
        session.commit()
    return rows


def revoke_staff_token(
    session: Session, token_id: uuid.UUID, *, trail: Trail | None = None
) -> StaffToken:
    """Revoke a token for good; revoking twice keeps the first time. Commits.

    Each call is logged (with a ``trail``), a repeat too, marked ``already_revoked``.
    """
    row = session.get(StaffToken, token_id)
    if row is None:
        raise NotFoundError(f"There is no staff token {token_id}.")
    already = row.revoked_at is not None
    if not already:
        row.revoked_at = utcnow()
    if trail is not None:
        trail.record(
            session,
            "token.revoke",
            filters={"token_id": str(token_id), "already_revoked": already or None},
            rows=1,
        )
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
    if kind is None:
        raise AuthenticationError("The token is not recognised.")
    digest = hash_token(token)
    if kind is TokenKind.PARTICIPANT:
        return _authenticate_participant(session, digest)
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


_TOKENS = cast(Table, ParticipantToken.__table__)
_PARTICIPANT_TOKEN = select(
    _TOKENS.c.id,
    _TOKENS.c.study_id,
    _TOKENS.c.token_sha256,
    _TOKENS.c.revoked_at,
    _TOKENS.c.expires_at,
).where(_TOKENS.c.token_sha256 == bindparam("digest"))


def _authenticate_participant(session: Session, digest: str) -> Principal:
    # Every participant request passes here: a plain Core statement, built once.
    row = session.connection().execute(_PARTICIPANT_TOKEN, {"digest": digest}).one_or_none()
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        raise AuthenticationError("The token is not recognised.")
    if row.revoked_at is not None:
        raise AuthenticationError("The token has been replaced or revoked.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        # A reminder's link (docs/notifications.md); the letter's token never expires.
        raise AuthenticationError("The link has expired.")
    return Principal(
        TokenKind.PARTICIPANT, row.id, "participant", frozenset({PARTICIPANT_ROLE}), row.study_id
    )


def participant_by_token_id(session: Session, token_id: uuid.UUID, epoch: int) -> Principal:
    """The participant a live web session stands for, found by the token's id (a session
    holds the id, never the token) and the epoch the session began in; AuthenticationError
    once the token is revoked or its sessions were ended (a sign-out)."""
    row = session.get(ParticipantToken, token_id)
    if row is None:
        raise AuthenticationError("The token is not recognised.")
    if row.revoked_at is not None:
        raise AuthenticationError("The token has been replaced or revoked.")
    if row.session_epoch != epoch:
        raise AuthenticationError("The session has ended.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        # A reminder's link (docs/notifications.md); the letter's token never expires.
        raise AuthenticationError("The link has expired.")
    return Principal(
        TokenKind.PARTICIPANT, row.id, "participant", frozenset({PARTICIPANT_ROLE}), row.study_id
    )


def session_epoch(session: Session, token_id: uuid.UUID) -> int:
    """The epoch a web session made from this token now begins in."""
    row = session.get(ParticipantToken, token_id)
    if row is None:
        raise AuthenticationError("The token is not recognised.")
    return row.session_epoch


def end_web_sessions(session: Session, token_id: uuid.UUID) -> None:
    """Sign-out: every web session made from this token so far stops working. Commits."""
    # One UPDATE, so that two sign-outs at once both move the epoch on.
    session.execute(
        update(ParticipantToken)
        .where(ParticipantToken.id == token_id)
        .values(session_epoch=ParticipantToken.session_epoch + 1)
    )
    session.commit()


def revoke_participant_tokens(session: Session, study_id: str) -> None:
    """Revoke every live token of a participant, and end its web sessions (the caller
    commits)."""
    now = utcnow()
    for old in session.scalars(
        select(ParticipantToken).where(
            ParticipantToken.study_id == study_id, ParticipantToken.revoked_at.is_(None)
        )
    ):
        old.revoked_at = now
        old.session_epoch += 1


def issue_participant_token(session: Session, study_id: str) -> str:
    """Give a participant a new token, revoking any earlier one (the caller commits)."""
    revoke_participant_tokens(session, study_id)
    now = utcnow()
    token = generate_token(TokenKind.PARTICIPANT)
    session.add(
        ParticipantToken(
            study_id=study_id,
            token_sha256=hash_token(token),
            hint=token_hint(token),
            created_at=now,
            revoked_at=None,
            expires_at=None,
        )
    )
    return token


def staff_by_token_id(session: Session, token_id: uuid.UUID, since: dt.datetime) -> Principal:
    """The staff member a console session stands for: found by the token's id (the session
    holds the id, never the token), while the token is live and no sign-out has ended the
    sessions begun at ``since``; otherwise AuthenticationError."""
    row = session.get(StaffToken, token_id)
    if row is None:
        raise AuthenticationError("The token is not recognised.")
    if row.revoked_at is not None:
        raise AuthenticationError("The token has been revoked.")
    if _expired(row, utcnow()):
        raise AuthenticationError("The token has expired.")
    if row.sessions_ended_at is not None and row.sessions_ended_at >= since:
        raise AuthenticationError("The session has been signed out.")
    return Principal(TokenKind.STAFF, row.id, row.label, frozenset(row.roles))


def end_staff_sessions(session: Session, token_id: uuid.UUID) -> None:
    """Sign out: every console session begun with this token until now ends. Commits."""
    row = session.get(StaffToken, token_id)
    if row is not None:
        row.sessions_ended_at = utcnow()
        session.commit()


def _expired(row: StaffToken, now: dt.datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now
