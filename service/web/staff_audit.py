"""The auditors' console pages: both logs verified in plain words, the logs paged and
filtered, the checkpoints, the public key and the export file for ``psam-verify`` with the
exact command to run. The same service calls as the JSON API, so the same access-log events."""

from __future__ import annotations

from typing import Any

from flask import Response, request, stream_with_context
from marshmallow import ValidationError

from schemas.audit import LogQuerySchema
from service.api.access import current_principal, refuse_head, staff_page
from service.api.reading import page_query
from service.db import get_session
from service.domain.errors import NotFoundError
from service.domain.ledger import LOGS
from service.domain.log_export import canonical_line
from service.resources import ledger_writer
from service.services import auditor
from service.web.staff import blp, flatten_faults, render, with_faults

LOG_NAMES = {"consent": "Consent log", "access": "Access log"}


def _log(log: str) -> str:
    if log not in LOGS:
        raise NotFoundError(f"There is no log {log!r}.")
    return log


@blp.route("/audit", methods=["GET"])
@staff_page("auditor")
def audit_home() -> Response:
    """Both logs verified now, in words an ethics officer can read, and what to download."""
    session = get_session()
    writer, principal = ledger_writer(session), current_principal()
    results = [auditor.verify_log(session, writer, principal, log) for log in LOGS]
    return render("staff/audit.html", results=results, names=LOG_NAMES)


@blp.route("/audit/<log>", methods=["GET"])
@staff_page("auditor")
@page_query("study_id", "since", "until", "after_seq")
def audit_log(log: str) -> Response:
    """A page of a log's entries, filtered by study ID and time."""
    log = _log(log)
    asked = {k: v for k, v in request.args.items() if v}
    shown = dict(asked)
    for name in ("since", "until"):
        if len(asked.get(name, "")) == 10:  # a date input: YYYY-MM-DD, UTC midnight
            asked[name] += "T00:00:00+00:00"
    try:
        query = LogQuerySchema().load({**asked, "limit": 50})
    except ValidationError as exc:
        return _entries(log, shown, [], None, flatten_faults(exc.messages))
    session = get_session()
    entries, last = auditor.read_log(
        session, ledger_writer(session), current_principal(), log, query
    )
    return _entries(log, shown, entries, last, {})


def _entries(
    log: str, asked: dict[str, str], entries: list[Any], last: int | None, faults: dict[str, str]
) -> Response:
    return render(
        "staff/audit_log.html",
        422 if faults else 200,
        log=log,
        name=LOG_NAMES[log],
        asked=asked,
        entries=entries,
        next_after=last,
        others={k: v for k, v in asked.items() if k != "after_seq"},
        **with_faults(faults),
    )


@blp.route("/audit/<log>/checkpoints", methods=["GET"])
@staff_page("auditor")
def audit_checkpoints(log: str) -> Response:
    """The signed checkpoints of a log, to keep and to pass to psam-verify later."""
    log = _log(log)
    session = get_session()
    found = auditor.checkpoints(session, ledger_writer(session), current_principal(), log)
    return render(
        "staff/checkpoints.html", log=log, name=LOG_NAMES[log], checkpoints=[c for _, c in found]
    )


@blp.route("/audit/<log>/export", methods=["GET"])
@staff_page("auditor")
def audit_export(log: str) -> Response:
    """The log and its checkpoints as a psam-ledger-export/2 file, streamed."""
    refuse_head()
    log = _log(log)
    session = get_session()
    lines = auditor.export_lines(session, ledger_writer(session), current_principal(), log)
    response = Response(
        stream_with_context(canonical_line(record) for record in lines),
        content_type="application/x-ndjson; charset=utf-8",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{log}-log.jsonl"'
    return response


@blp.route("/audit/public-key", methods=["GET"])
@staff_page("auditor")
def audit_public_key() -> Response:
    """The Ed25519 key the checkpoints are signed with (PEM)."""
    session = get_session()
    pem = auditor.public_key(session, ledger_writer(session), current_principal())
    response = Response(pem, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="psam-checkpoint-key.pem"'
    return response
