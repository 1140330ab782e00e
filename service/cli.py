"""Command line: ``flask --app wsgi db|instruments|tokens ...``.

A command that reads or changes participant data or access writes one access-log event,
naming the command (``{"kind": "cli", "command": "tokens create"}``), not the person at the
keyboard: the server has no reliable way to know them, and an OS user name would put a
person's name in an immutable log. ``docs/access-log.md`` lists which commands log what.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError

from service.db import get_db, get_session
from service.domain.crypto import Keyring, KeyringError
from service.domain.errors import DomainError
from service.domain.fhir_import import ImportRefused
from service.domain.ledger import LOGS
from service.domain.log_export import canonical_line
from service.domain.tokens import STAFF_ROLES
from service.migrate import alembic_config
from service.resources import get_keys, ledger_writer, trail_of
from service.services import exports, ledger, tokens
from service.services.audit import Trail
from service.services.catalogue import sync_definitions
from service.services.definitions import DefinitionFileError, draft_from_fhir, load_definitions
from service.services.erasure import purge_erasures
from service.services.keyring import KeyringSource, write_keyring_file
from service.services.keys import (
    RewrapReport,
    add_primary_kek,
    key_status,
    record_new_keyring,
    retire_kek,
    rewrap_data_keys,
)
from service.services.tokens import Principal
from service.worker import notifications_cli, recordings_cli, worker_command

db_cli = AppGroup("db", help="Database schema migrations.")
instruments_cli = AppGroup("instruments", help="The instrument catalogue.")
tokens_cli = AppGroup("tokens", help="Staff API tokens.")
keys_cli = AppGroup("keys", help="The keyring: KEKs, rotation, retirement.")
audit_cli = AppGroup("audit", help="The consent and access logs.")
export_cli = AppGroup("export", help="Analyst exports to files.")
erasure_cli = AppGroup("erasure", help="Erasure: purging erased rows from the database files.")
_log_option = click.option(
    "--log", "logs", type=click.Choice(LOGS), multiple=True, help="Default: both logs."
)


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
    report = sync_definitions(get_session(), definitions, trail=_trail("instruments sync"))
    if report.refused:
        for changed in report.refused:
            click.echo(f"refused: {changed}", err=True)
        raise click.ClickException("published versions have changed; nothing was synced")
    for label in report.added:
        click.echo(f"added: {label}")
    click.echo(f"{len(report.added)} added, {len(report.unchanged)} unchanged")


@instruments_cli.command("import-fhir")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option("--id", "instrument_id", help="The instrument id (default: from the url).")
@click.option("--version", "version", help="The version (default: the Questionnaire's).")
def instruments_import_fhir(
    file: Path, out: Path | None, instrument_id: str | None, version: str | None
) -> None:
    """Turn a FHIR R4 Questionnaire into a draft definition file; refuse what cannot map."""
    try:
        resource = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{file} is not JSON: {exc}") from None
    try:
        imported = draft_from_fhir(resource, instrument_id=instrument_id, version=version)
    except ImportRefused as exc:
        for path, message in exc.faults:
            click.echo(f"cannot map {path}: {message}", err=True)
        raise click.ClickException("refused: nothing was written") from None
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)
    text = json.dumps(imported.definition, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}: a draft; review it, then place it as instruments/ID/VERSION.json")


@tokens_cli.command("create")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(STAFF_ROLES))
@click.option("--label", required=True, help="Who or what holds the token.")
@click.option("--expires-days", type=click.IntRange(min=1), default=None)
def tokens_create(roles: tuple[str, ...], label: str, expires_days: int | None) -> None:
    """Issue a staff token; it is printed once, alone on the last line."""
    row, token = tokens.create_staff_token(
        get_session(), roles, label, expires_days, trail=_trail("tokens create")
    )
    click.echo(f"created token {row.id} ({', '.join(row.roles)}) for {label!r}; keep it safe:")
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List staff tokens (no secrets)."""
    for row in tokens.list_staff_tokens(get_session(), trail=_trail("tokens list")):
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
    row = tokens.revoke_staff_token(get_session(), token_id, trail=_trail("tokens revoke"))
    click.echo(f"revoked {row.id} ({row.label})")


@tokens_cli.command("bootstrap-admin")
def tokens_bootstrap_admin() -> None:
    """Create a first admin token, printed once, unless an active admin token exists."""
    session = get_session()
    if tokens.has_active_admin(session):
        click.echo("an active admin token exists; none created")
        return
    _row, token = tokens.create_staff_token(
        session, ["admin"], "first admin", trail=_trail("tokens bootstrap-admin")
    )
    click.echo("first admin token (shown once, store it now):")
    click.echo(token)


def _keyring_errors(func: Callable[..., None]) -> Callable[..., None]:
    """Report keyring problems as a one-line error, not a traceback."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except KeyringError as exc:
            raise click.ClickException(f"no usable keyring: {exc}") from None

    run._keyring_errors = True  # type: ignore[attr-defined]
    return run


@keys_cli.command("init")
@click.option("--if-missing", is_flag=True, help="Succeed, doing nothing, when one exists.")
@_keyring_errors
def keys_init(if_missing: bool) -> None:
    """Create the keyring file (mode 0600); an existing keyring is never overwritten."""
    keys = get_keys()
    if keys.path is None or not keys.writable:
        raise click.ClickException("the keyring comes from PSAM_KEYRING_JSON; nothing to create")
    if keys.path.exists():
        if if_missing:
            click.echo(f"keyring at {keys.path} exists; left as it is")
            return
        raise click.ClickException(f"a keyring already exists at {keys.path}; left as it is")
    write_keyring_file(keys.path, Keyring.generate(), create=True)
    click.echo(f"created keyring {keys.path} (mode 0600): back it up somewhere safe")
    if not _keyring_creation_logged():
        click.echo("no database yet: the access log starts with 'db upgrade'")


@keys_cli.command("status")
@_keyring_errors
def keys_status() -> None:
    """KEKs with their state and how many data keys each wraps."""
    for kek in key_status(get_session(), _keys()):
        click.echo(f"{kek.id:<24} {kek.state:<20} {kek.created_at:<22} {kek.data_keys} data keys")


def _progress_run(label: str, batch_size: int, pause: float, command: str) -> RewrapReport:
    bar: Any = None

    def start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label=label, file=sys.stderr)
        bar.__enter__()

    try:
        return rewrap_data_keys(
            get_db().sessionmaker,
            _keys(),
            batch_size=batch_size,
            pause=pause,
            on_total=start,
            on_batch=lambda n: bar.update(n),
            trail=_trail(command),
            action=command.replace(" ", "."),
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


_batch_option = click.option(
    "--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True
)
_pause_option = click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=0.0,
    show_default=True,
    help="Seconds to wait between batches, to spare a busy database.",
)


@keys_cli.command("rotate")
@_batch_option
@_pause_option
@_keyring_errors
def keys_rotate(batch_size: int, pause: float) -> None:
    """Add a new primary KEK and re-wrap every data key to it, online, in batches."""
    new = add_primary_kek(_keys())
    click.echo(f"new primary KEK {new}; re-wrapping data keys")
    report = _progress_run("re-wrapping", batch_size, pause, "keys rotate")
    click.echo(f"{report.rewrapped} data keys re-wrapped to {report.primary}")


@keys_cli.command("rewrap")
@_batch_option
@_pause_option
@_keyring_errors
def keys_rewrap(batch_size: int, pause: float) -> None:
    """Finish an interrupted rotation: re-wrap what is not yet under the primary KEK."""
    report = _progress_run("re-wrapping", batch_size, pause, "keys rewrap")
    click.echo(f"{report.rewrapped} data keys re-wrapped to {report.primary}")


@keys_cli.command("retire")
@click.argument("kek_id")
@_keyring_errors
def keys_retire(kek_id: str) -> None:
    """Destroy a KEK; refused while any data key is still wrapped by it."""
    retire_kek(get_db().sessionmaker, _keys(), kek_id, trail=_trail("keys retire"))
    click.echo(f"{kek_id} destroyed: its material is gone from the keyring")


def _keys() -> KeyringSource:
    keys = get_keys()
    try:
        keys.current()
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    return keys


def _trail(command: str) -> Trail:
    """How a command names itself in the access log."""
    _keys()
    return trail_of(Principal.operator(command))


def _keyring_creation_logged() -> bool:
    """Log ``keys init`` when the database has an access log. It runs before ``db upgrade``
    on a new installation, so the database may not exist yet: a SQLite file is not created
    by connecting to it here, and a PostgreSQL database that cannot be reached is reported."""
    url = get_db().engine.url
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file and not Path(str(url.database)).exists():
        return False
    try:
        return record_new_keyring(get_session(), _trail("keys init"))
    except OperationalError:
        return False


@audit_cli.command("checkpoint")
@_log_option
@click.option(
    "--if-due",
    is_flag=True,
    help="Only where an entry has waited PSAM_CHECKPOINT_INTERVAL seconds unsigned (for cron).",
)
def audit_checkpoint(logs: tuple[str, ...], if_due: bool) -> None:
    """Sign a checkpoint of each log as it stands now."""
    keyring = _keys().current()
    interval = current_app.config["PSAM_CHECKPOINT_INTERVAL"]
    for log in logs or LOGS:
        if if_due:
            checkpoint = ledger.checkpoint_if_due(get_session(), keyring, log, interval)
            if checkpoint is None:
                click.echo(f"{log}: no checkpoint due")
                continue
        else:
            checkpoint = ledger.make_checkpoint(get_session(), keyring, log)
            if checkpoint is None:
                click.echo(f"{log}: empty, nothing to sign")
                continue
        click.echo(f"{log}: checkpoint at length {checkpoint.length}, head {checkpoint.head_hash}")


@audit_cli.command("verify")
@_log_option
def audit_verify(logs: tuple[str, ...]) -> None:
    """Verify each log in the database; exit 1 naming the first bad seq."""
    keyring = _keys().current()
    failed = False
    session = get_session()
    length = 0
    for log in logs or LOGS:
        result = ledger.verify_stored_log(session, keyring, log)
        length += result.length
        state = "ok" if result.ok else f"FAILED at seq {result.first_bad_seq}"
        click.echo(
            f"{log}: {state}; {result.length} entries, "
            f"{result.checkpoints_checked} checkpoints checked"
        )
        for problem in result.problems:
            click.echo(f"  {problem}")
        failed = failed or not result.ok
    _trail("audit verify").record(
        session, "audit.verify", filters={"logs": list(logs or LOGS)}, rows=length
    )
    session.commit()
    if failed:
        raise SystemExit(1)


@audit_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--log", type=click.Choice(LOGS), default="consent", show_default=True)
@click.option("--public-key-out", type=click.Path(dir_okay=False, path_type=Path))
def audit_export(out: Path, log: str, public_key_out: Path | None) -> None:
    """Write a log and its checkpoints as JSON lines, for 'psam-verify'."""
    keyring = _keys().current()
    session = get_session()
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for record in ledger.export_records(session, keyring, log):
            handle.write(canonical_line(record))
            count += record["kind"] == "entry"
    # After the file is written: the export holds the log as it was when it was read.
    _trail("audit export").record(session, f"audit.{log}-log.export", rows=count)
    session.commit()
    click.echo(f"wrote {count} {log}-log entries to {out}")
    if public_key_out is not None:
        public_key_out.write_text(ledger.public_key_pem(keyring))
        click.echo(f"wrote the checkpoint public key to {public_key_out}")


@export_cli.command("responses")
@click.option("--instrument", required=True)
@click.option("--version", "versions", multiple=True, help="Repeat for several; default all.")
@click.option("--timepoint")
@click.option("--submitted-since", type=click.DateTime(), help="UTC")
@click.option("--submitted-until", type=click.DateTime(), help="UTC")
@click.option("--consent-clause")
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson"]), default="csv")
@click.option("--labels", is_flag=True, help="Option labels instead of codes.")
@click.option("--include-free-text", is_flag=True)
@click.option("--pseudonyms", type=click.Choice(["study-id", "per-export"]), default="study-id")
@click.option(
    "--submitted",
    type=click.Choice(["time", "day", "none"]),
    help="Default: time, or day with per-export pseudonyms.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_responses(
    instrument: str,
    versions: tuple[str, ...],
    timepoint: str | None,
    submitted_since: dt.datetime | None,
    submitted_until: dt.datetime | None,
    consent_clause: str | None,
    fmt: str,
    labels: bool,
    include_free_text: bool,
    pseudonyms: str,
    submitted: str | None,
    out: Path,
) -> None:
    """Export responses to a file, with the same filters and manifest as the API."""
    request = exports.ExportRequest(
        instrument=instrument,
        versions=versions,
        timepoint=timepoint,
        submitted_since=_utc(submitted_since),
        submitted_until=_utc(submitted_until),
        consent_clause=consent_clause,
        format=fmt,
        labels=labels,
        include_free_text=include_free_text,
        pseudonyms=pseudonyms,
        submitted=submitted,
    )
    session, keys, operator = get_session(), _keys(), Principal.operator("export responses")
    try:
        export = exports.begin_export(session, ledger_writer(session), operator, request)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    db = get_db()
    reading = db.export_sessionmaker()  # a standby when PSAM_EXPORT_DATABASE_URL is set
    primary = db.read_sessionmaker if db.export_engine is not None else None
    completed = False
    try:
        export.point = exports.read_point(reading)
        with (
            out.open("wb") as handle,
            click.progressbar(
                length=exports.count_rows(reading, export), label="exporting", file=sys.stderr
            ) as bar,
        ):
            for chunk in exports.export_chunks(reading, keys, export, primary=primary):
                handle.write(chunk)
                bar.update(export.rows - bar.pos)
        completed = True
    finally:
        reading.close()
        manifest = exports.finish_export(
            session, ledger_writer(session), operator, export, completed
        )
    click.echo(f"export {manifest.id}: {manifest.row_count} rows, sha256 {manifest.sha256}")
    if manifest.skipped_count:
        click.echo(
            f"skipped {manifest.skipped_count} rows that could not be decrypted: see the manifest",
            err=True,
        )


@erasure_cli.command("purge")
@click.option(
    "--wait-seconds",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How long to wait for each table lock (requests queue behind a waiting rewrite) "
    "and, on SQLite, for readers.",
)
def erasure_purge(wait_seconds: int) -> None:
    """Complete every pending erasure purge (run it from cron, e.g. every minute); exit 1
    while any stays pending."""
    report = purge_erasures(get_db(), wait_seconds)
    click.echo(
        f"{len(report.purged)} purged, {len(report.waiting)} pending "
        f"({report.seconds:.2f} s)" + (f": {report.reason}" if report.reason else "")
    )
    if report.waiting:
        raise SystemExit(1)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def register_commands(app: Flask) -> None:
    groups = (
        db_cli,
        instruments_cli,
        tokens_cli,
        keys_cli,
        audit_cli,
        export_cli,
        erasure_cli,
        notifications_cli,
        recordings_cli,
    )
    for group in groups:
        for cmd in group.commands.values():
            # Any command that reaches a missing or unusable keyring stops with one line.
            if cmd.callback is not None and not getattr(cmd.callback, "_keyring_errors", False):
                cmd.callback = _keyring_errors(cmd.callback)
        app.cli.add_command(group)
    callback = worker_command.callback
    if callback is not None and not getattr(callback, "_keyring_errors", False):
        worker_command.callback = _keyring_errors(callback)
    app.cli.add_command(worker_command)
