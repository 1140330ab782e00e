"""Staff tokens on a real database: stored hashed, recognised, revoked, expired."""

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.tokens import hash_token
from service.models import StaffToken
from service.services.tokens import (
    AuthenticationError,
    authenticate,
    create_staff_token,
    has_active_admin,
    revoke_staff_token,
)


def test_only_the_hash_of_a_token_is_stored(session: Session) -> None:
    row, token = create_staff_token(session, ["analyst", "auditor"], "pair")
    stored = session.scalars(select(StaffToken).where(StaffToken.id == row.id)).one()
    assert stored.token_sha256 == hash_token(token)
    assert token not in repr(stored.__dict__)
    assert stored.roles == ["analyst", "auditor"]


def test_a_token_authenticates_with_its_roles(session: Session) -> None:
    row, token = create_staff_token(session, ["researcher"], "r")
    principal = authenticate(session, token)
    assert principal.token_id == row.id and principal.roles == {"researcher"}


def test_a_revoked_token_is_refused(session: Session) -> None:
    row, token = create_staff_token(session, ["admin"], "a")
    revoke_staff_token(session, row.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(session, token)


def test_an_expired_token_is_refused(session: Session) -> None:
    row, token = create_staff_token(session, ["admin"], "a", expires_days=1)
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate(session, token)


def test_timestamps_come_back_as_utc(session: Session) -> None:
    row, _ = create_staff_token(session, ["admin"], "a", expires_days=2)
    session.expire_all()
    fresh = session.get(StaffToken, row.id)
    assert fresh is not None and fresh.expires_at is not None
    assert fresh.created_at.utcoffset() == dt.timedelta(0)
    assert dt.timedelta(days=2) - (fresh.expires_at - fresh.created_at) < dt.timedelta(seconds=1)


def test_unknown_roles_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="roles must be among"):
        create_staff_token(session, ["participant"], "x")


def test_bootstrap_creates_an_admin_token_once(app: Flask, session: Session) -> None:
    for row in session.scalars(select(StaffToken)):
        row.revoked_at = dt.datetime.now(dt.UTC)
    session.commit()
    assert not has_active_admin(session)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["tokens", "bootstrap-admin"])
    assert first.exit_code == 0
    token = first.output.strip().splitlines()[-1]
    assert authenticate(session, token).roles == {"admin"}
    second = runner.invoke(args=["tokens", "bootstrap-admin"])
    assert "none created" in second.output and "psam_s_" not in second.output


def test_tokens_create_prints_the_token_alone_on_its_last_line(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "tokens",
            "create",
            "--role",
            "analyst",
            "--role",
            "auditor",
            "--label",
            "L",
            "--expires-days",
            "30",
        ]
    )
    assert result.exit_code == 0
    last = result.output.rstrip("\n").splitlines()[-1]
    principal = authenticate(session, last)
    assert principal.roles == {"analyst", "auditor"}
    listing = app.test_cli_runner().invoke(args=["tokens", "list"]).output
    assert str(principal.token_id) in listing and last not in listing
    revoked = app.test_cli_runner().invoke(args=["tokens", "revoke", str(principal.token_id)])
    assert revoked.exit_code == 0
    with pytest.raises(AuthenticationError):
        authenticate(session, last)
