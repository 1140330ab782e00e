"""Command line: ``flask --app wsgi db|instruments|tokens ...``."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

from service.db import get_session
from service.domain.tokens import STAFF_ROLES
from service.migrate import alembic_config
from service.services import tokens
from service.services.catalogue import sync_definitions
from service.services.definitions import DefinitionFileError, load_definitions

db_cli = AppGroup("db", help="Database schema migrations.")
instruments_cli = AppGroup("instruments", help="The instrument catalogue.")
tokens_cli = AppGroup("tokens", help="Staff API tokens.")


def _alembic() -> Config:
    return alembic_config(current_app.config["DATABASE_URL"])


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(_alembic(), revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    command.downgrade(_alembic(), revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    command.current(_alembic())


@instruments_cli.command("sync")
@click.option(
    "--directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Definitions folder (default: PSAM_INSTRUMENTS_DIR or instruments/).",
)
def instruments_sync(directory: Path | None) -> None:
    """Publish new definition versions; refuse any published one whose file has changed."""
    folder = directory or Path(current_app.config["PSAM_INSTRUMENTS_DIR"])
    try:
        definitions = load_definitions(folder)
    except DefinitionFileError as exc:
        raise click.ClickException(f"refused, nothing synced: {exc}") from None
    report = sync_definitions(get_session(), definitions)
    if report.refused:
        for changed in report.refused:
            click.echo(f"refused: {changed}", err=True)
        raise click.ClickException("published versions have changed; nothing was synced")
    for label in report.added:
        click.echo(f"added: {label}")
    click.echo(f"{len(report.added)} added, {len(report.unchanged)} unchanged")


@tokens_cli.command("create")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(STAFF_ROLES))
@click.option("--label", required=True, help="Who or what holds the token.")
@click.option("--expires-days", type=click.IntRange(min=1), default=None)
def tokens_create(roles: tuple[str, ...], label: str, expires_days: int | None) -> None:
    """Issue a staff token; it is printed once, alone on the last line."""
    row, token = tokens.create_staff_token(get_session(), roles, label, expires_days)
    click.echo(f"created token {row.id} ({', '.join(row.roles)}) for {label!r}; keep it safe:")
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List staff tokens (no secrets)."""
    for row in tokens.list_staff_tokens(get_session()):
        state = "revoked" if row.revoked_at else "active"
        expires = row.expires_at.isoformat() if row.expires_at else "never"
        click.echo(
            f"{row.id}  {row.hint:<16} {state:<8} expires {expires:<25} "
            f"{','.join(row.roles):<30} {row.label}"
        )


@tokens_cli.command("revoke")
@click.argument("token_id", type=click.UUID)
def tokens_revoke(token_id: uuid.UUID) -> None:
    """Revoke a staff token by its id (see 'tokens list')."""
    row = tokens.revoke_staff_token(get_session(), token_id)
    click.echo(f"revoked {row.id} ({row.label})")


@tokens_cli.command("bootstrap-admin")
def tokens_bootstrap_admin() -> None:
    """Create a first admin token, printed once, unless an active admin token exists."""
    session = get_session()
    if tokens.has_active_admin(session):
        click.echo("an active admin token exists; none created")
        return
    _row, token = tokens.create_staff_token(session, ["admin"], "first admin")
    click.echo("first admin token (shown once, store it now):")
    click.echo(token)


def register_commands(app: Flask) -> None:
    for group in (db_cli, instruments_cli, tokens_cli):
        app.cli.add_command(group)
