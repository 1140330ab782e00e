"""The staff console under /staff/: sign-in, and each role's pages.

Each handler is as thin as its JSON twin: it reads the form with the same schema, calls the
same service function (which writes the same access-log event) and renders a template. A
page is declared with ``staff_page(roles)``: the console's session (or a staff bearer token)
admits, a caller without one of the roles gets 403, whatever the menu shows.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError

from schemas.consent import EnrolmentRequestSchema
from schemas.researcher import ParticipantQuerySchema
from service.api.access import current_principal, public, staff_page, study_id_from_path
from service.api.erasure import purge_after_commit
from service.api.reading import page_query
from service.db import get_session, utcnow
from service.domain.consent import CONSENT_STATES
from service.domain.errors import ConflictError, ContactNotPermittedError
from service.domain.tasks import TASK_STATUSES
from service.domain.tokens import STAFF_ROLES, TokenKind, token_kind
from service.resources import get_keys, ledger_writer, trail_of
from service.services import alerts, keys, notifications, researcher, tokens
from service.services.consent import withdraw
from service.services.participants import enrol_by_researcher
from service.services.tokens import AuthenticationError, authenticate
from service.web import staff_session
from service.web.letters import render_letter
from service.web.links import link_qr_svg, participant_link
from service.web.participant import SERVICE_NAME, csrf_refusal, problem_page

blp = Blueprint("staff", __name__, url_prefix="/staff")

# The pages of the menu, by the role that may see them: (endpoint, text).
MENU = {
    "researcher": (
        ("staff.dashboard", "Dashboard"),
        ("staff.alert_list", "Alerts"),
        ("staff.participant_list", "Participants"),
        ("staff.enrol_form", "Enrol a participant"),
        ("staff.interviews_page", "Interviews"),
    ),
    "analyst": (("staff.export_form", "Exports"),),
    "auditor": (("staff.audit_home", "Logs and verification"),),
    "admin": (
        ("staff.token_list", "Staff tokens"),
        ("staff.key_status", "Keys"),
        ("staff.outbox", "Messages"),
    ),
}


@blp.context_processor
def _console() -> dict[str, Any]:
    signed_in = staff_session.principal()
    roles = signed_in.roles if signed_in is not None else frozenset()
    return {
        "csrf_token": staff_session.current().csrf,
        "signed_in": signed_in is not None,
        "sign_out_url": url_for("staff.sign_out"),
        "site_name": f"{SERVICE_NAME} staff console",
        "column": "nhsuk-grid-column-full",
        "menu": [
            {"href": url_for(endpoint), "text": text}
            for role in STAFF_ROLES
            if role in roles
            for endpoint, text in MENU.get(role, ())
        ],
    }


@blp.before_request
def _check_forms() -> Response | None:
    """Every console form carries this browser's CSRF token; a bearer token needs none."""
    return csrf_refusal(staff_session.check_csrf, "staff/error.html")


@blp.after_request
def _finish(response: Response) -> Response:
    if response.mimetype == "application/problem+json" and request.accept_mimetypes.accept_html:
        if response.status_code == 401 and request.method == "GET":
            response = redirect(url_for("staff.sign_in_form"), code=303)  # type: ignore[assignment]
        else:
            response = problem_page(response, "staff/error.html")
    if "Authorization" not in request.headers:
        staff_session.store(response)
    return response


def render(template: str, status: int = 200, **values: Any) -> Response:
    return Response(render_template(template, **values), status=status, mimetype="text/html")


def with_faults(faults: dict[str, str]) -> dict[str, Any]:
    """What a template needs to show faults: by field, and as the NHS error summary's list."""
    return {
        "errors": faults,
        "error_list": [{"text": text, "href": f"#{name}"} for name, text in faults.items()],
    }


# --- signing in and out -----------------------------------------------------------------------


@blp.route("/", methods=["GET"])
@public
def console_home() -> Response:
    """The menu of the signed-in staff member's pages; the sign-in page for anyone else."""
    if staff_session.principal() is None:
        return redirect(url_for("staff.sign_in_form"), code=303)  # type: ignore[return-value]
    return render("staff/home.html")


@blp.route("/sign-in", methods=["GET"])
@public
def sign_in_form() -> Response:
    return render("staff/sign_in.html", **with_faults({}))


@blp.route("/sign-in", methods=["POST"])
@public
def sign_in() -> Response:
    """A staff token, pasted once, exchanged for a console session; never shown again."""
    token = request.form.get("token", "").strip()
    fault = None
    if not token:
        fault = "Enter your staff token"
    elif token_kind(token) is TokenKind.PARTICIPANT:
        fault = "This is a participant's access code: enter your staff token"
    elif token_kind(token) is not TokenKind.STAFF:
        fault = "Enter the staff token exactly as you were given it, starting with psam_s_"
    else:
        try:
            found = authenticate(get_session(), token)
        except AuthenticationError:
            fault = "This token does not work: it may have been revoked or have expired"
    if fault is not None:
        return render("staff/sign_in.html", status=200, **with_faults({"token": fault}))
    staff_session.sign_in(found)
    return redirect(url_for("staff.console_home"), code=303)  # type: ignore[return-value]


@blp.route("/sign-out", methods=["POST"])
@public
def sign_out() -> Response:
    staff_session.sign_out()
    return render("staff/signed_out.html")


# --- researchers: the dashboard -----------------------------------------------------------------


@blp.route("/dashboard", methods=["GET"])
@staff_page("researcher")
def dashboard() -> Response:
    """Recruitment by week and completion by timepoint as small charts; open alerts and tasks."""
    session = get_session()
    figures = researcher.dashboard(
        session, ledger_writer(session), current_principal(), utcnow().date()
    )
    return render("staff/dashboard.html", figures=figures)


# --- researchers: alerts ------------------------------------------------------------------------


def _alerts_page(faults: dict[str, str], status: int = 200) -> Response:
    session = get_session()
    found = alerts.list_alerts(
        session, get_keys(), ledger_writer(session), current_principal(), None
    )
    # Open before acknowledged; urgent first; the longest waiting first.
    found.sort(key=lambda a: (a.status != "open", a.severity != "urgent", a.raised_at))
    by_token = {row.id: row.label for row in tokens.list_staff_tokens(session)}
    return render(
        "staff/alerts.html",
        status=status,
        open_alerts=[a for a in found if a.status == "open"],
        done=[a for a in found if a.status != "open"],
        notes={a.id: a.note for a in found if a.note is not None},
        labels=by_token,
        **with_faults(faults),
    )


@blp.route("/alerts", methods=["GET"])
@staff_page("researcher")
def alert_list() -> Response:
    """Open alerts, urgent and oldest first, then those acknowledged: by whom, when, the note."""
    return _alerts_page({})


@blp.route("/alerts/<uuid:alert_id>/ack", methods=["POST"])
@staff_page("researcher")
def acknowledge(alert_id: uuid.UUID) -> Response:
    note = request.form.get("note", "").strip()
    if not note:
        return _alerts_page({f"note-{alert_id}": "Enter a note of what was done"}, status=422)
    if len(note) > 2000:
        return _alerts_page({f"note-{alert_id}": "The note must be 2,000 characters or fewer"}, 422)
    session = get_session()
    alerts.acknowledge(
        session, get_keys(), ledger_writer(session), current_principal(), alert_id, note
    )
    return redirect(url_for("staff.alert_list"), code=303)  # type: ignore[return-value]


# --- researchers: participants ----------------------------------------------------------------


@blp.route("/participants", methods=["GET"])
@staff_page("researcher")
@page_query("consent_state", "site", "task_status", "after")
def participant_list() -> Response:
    """Participants with filters: consent state, site, task status; no identifiers."""
    asked = {name: value for name, value in request.args.items() if value}
    try:
        query = ParticipantQuerySchema().load(asked)
    except ValidationError as exc:
        return _participants_page(asked, [], None, flatten_faults(exc.messages))
    session = get_session()
    people, next_after = researcher.list_participants(
        session, ledger_writer(session), current_principal(), **query
    )
    return _participants_page(asked, people, next_after, {})


def _participants_page(
    asked: dict[str, str], people: list[Any], next_after: str | None, faults: dict[str, str]
) -> Response:
    filters = {
        name: [{"value": "", "text": "Any"}]
        + [{"value": v, "text": v, "selected": asked.get(name) == v} for v in values]
        for name, values in (("consent_state", CONSENT_STATES), ("task_status", TASK_STATUSES))
    }
    return render(
        "staff/participants.html",
        status=422 if faults else 200,
        people=people,
        next_after=next_after,
        query=asked,
        query_without_after={k: v for k, v in asked.items() if k != "after"},
        filters=filters,
        **with_faults(faults),
    )


@blp.route("/participants/<study_id>", methods=["GET"])
@staff_page("researcher")
def participant_detail(study_id: str) -> Response:
    """One participant: consent history, tasks and alerts, no identifiers; and what a
    researcher does for them (contact details, a new link, a withdrawal)."""
    return _detail(study_id_from_path(study_id))


# What each withdrawal scope keeps and removes, for the researcher recording it.
WITHDRAWAL_CHOICES = {
    "no-further-contact": (
        "No further contact",
        "The study stops contacting them. Their answers stay; they may still answer.",
    ),
    "stop": (
        "Stop taking part",
        "No more questionnaires. The answers already given stay in the study. Cannot be undone.",
    ),
    "stop-and-erase": (
        "Stop and erase",
        "No more questionnaires; their answers and contact details are erased for good and "
        "their link stops working. Only the record that they left is kept. Cannot be undone.",
    ),
}


def _detail(study_id: str, faults: dict[str, str] | None = None) -> Response:
    session = get_session()
    view = researcher.participant_detail(
        session, get_keys(), ledger_writer(session), current_principal(), study_id
    )
    return render(
        "staff/participant.html",
        422 if faults else 200,
        person=view,
        scopes=[
            {"value": value, "text": text, "hint": {"text": meaning}}
            for value, (text, meaning) in WITHDRAWAL_CHOICES.items()
        ],
        **with_faults(faults or {}),
    )


@blp.route("/participants/<study_id>/messages", methods=["GET"])
@staff_page("researcher")
def participant_messages(study_id: str) -> Response:
    """What was sent, or is to be sent, to or about a participant: kind, when, outcome."""
    session = get_session()
    study_id = study_id_from_path(study_id)
    rows = researcher.participant_messages(
        session, ledger_writer(session), current_principal(), study_id
    )
    return render("staff/messages.html", study_id=study_id, messages=rows)


@blp.route("/participants/<study_id>/contact", methods=["GET"])
@staff_page("researcher")
def participant_contact(study_id: str) -> Response:
    """Contact details, only while their consent in force allows interview contact (logged)."""
    session = get_session()
    try:
        contact = researcher.contact_details(
            session,
            get_keys(),
            ledger_writer(session),
            current_principal(),
            study_id_from_path(study_id),
        )
    except ContactNotPermittedError as exc:
        session.rollback()
        return render("staff/contact.html", 403, study_id=study_id, contact=None, refused=str(exc))
    return render("staff/contact.html", study_id=study_id, contact=contact, refused=None)


@blp.route("/participants/<study_id>/withdrawal", methods=["POST"])
@staff_page("researcher")
def participant_withdrawal(study_id: str) -> Response:
    """Record a withdrawal on the participant's behalf, once it is confirmed."""
    study_id = study_id_from_path(study_id)
    scope = request.form.get("scope", "")
    faults = {}
    if scope not in WITHDRAWAL_CHOICES:
        faults["scope"] = "Choose what the participant asked for"
    if request.form.get("confirmed") != "yes":
        faults["confirmed"] = "Confirm that the participant asked for this"
    if faults:
        return _detail(study_id, faults)
    session = get_session()
    if scope == "stop-and-erase":
        purge_after_commit()
    try:
        receipt = withdraw(session, ledger_writer(session), current_principal(), study_id, scope)
    except ConflictError as exc:
        session.rollback()
        return _detail(study_id, {"scope": str(exc)})
    return render(
        "staff/withdrawn.html",
        study_id=study_id,
        title=WITHDRAWAL_CHOICES[scope][0],
        receipt=receipt,
    )


@blp.route("/participants/<study_id>/link", methods=["POST"])
@staff_page("researcher")
def participant_new_link(study_id: str) -> Response:
    """A new link for a participant who lost theirs; the old one stops working at once."""
    session = get_session()
    sid, token = researcher.reissue_token(
        session, ledger_writer(session), current_principal(), study_id_from_path(study_id)
    )
    return _link_page(sid, token, reissued=True)


@blp.route("/enrol", methods=["GET"])
@staff_page("researcher")
def enrol_form() -> Response:
    return render("staff/enrol.html", values={}, **with_faults({}))


@blp.route("/enrol", methods=["POST"])
@staff_page("researcher")
def enrol() -> Response:
    """Enrol: the study ID and the participant's link, shown on this page once only."""
    values = {
        name: request.form.get(name, "").strip() for name in ("site", "name", "email", "phone")
    }
    contact = {k: v for k, v in values.items() if k != "site" and v}
    body: dict[str, Any] = {"contact": contact} if contact else {}
    if values["site"]:
        body["site"] = values["site"]
    try:
        loaded = EnrolmentRequestSchema().load(body)
    except ValidationError as exc:
        faults = flatten_faults(exc.messages)
        return render("staff/enrol.html", 422, values=values, **with_faults(faults))
    session = get_session()
    made = enrol_by_researcher(
        session,
        get_keys(),
        ledger_writer(session),
        current_principal(),
        loaded.get("contact"),
        loaded.get("site"),
    )
    return _link_page(made.study_id, made.token, reissued=False)


def _link_page(study_id: str, token: str, *, reissued: bool) -> Response:
    """The page that shows a participant's link once: the link, its QR code, and the
    deployment's letter holding both, printed alone by the print style sheet."""
    link = participant_link(token)
    qr_svg = link_qr_svg(link)
    letter = render_letter(
        current_app.extensions["psam_letter"],
        study_id=study_id,
        link=link,
        access_code=token,
        qr_svg=qr_svg,
        today=utcnow().date(),
    )
    page = render(
        "staff/enrolled.html",
        study_id=study_id,
        link=link,
        qr_svg=Markup(qr_svg),  # noqa: S704  # nosec B704 (made by segno from the link)
        letter=letter,
        reissued=reissued,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


def flatten_faults(messages: Any) -> dict[str, str]:
    """marshmallow's nested messages, one fault per form field (``contact.email``: ``email``)."""
    flat: dict[str, str] = {}
    for name, texts in dict(messages).items():
        if isinstance(texts, dict):
            flat.update(flatten_faults(texts))
        else:
            flat[name] = "; ".join(map(str, texts))
    return flat


# --- admins: staff tokens -----------------------------------------------------------------------


def _tokens_page(
    faults: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Response:
    rows = tokens.list_staff_tokens(get_session(), trail=trail_of(current_principal()))
    return render(
        "staff/tokens.html",
        status=422 if faults else 200,
        rows=rows,
        role_items=[
            {
                "value": role,
                "text": role.capitalize(),
                "checked": role in (values or {}).get("roles", ()),
            }
            for role in STAFF_ROLES
        ],
        values=values or {},
        **with_faults(faults or {}),
    )


@blp.route("/tokens", methods=["GET"])
@staff_page("admin")
def token_list() -> Response:
    """Every staff token (never a secret), a form to create one and a button to revoke."""
    return _tokens_page()


@blp.route("/tokens", methods=["POST"])
@staff_page("admin")
def token_create() -> Response:
    """A new staff token: its secret is on this page once, and nowhere else, ever."""
    label = request.form.get("label", "").strip()
    roles = request.form.getlist("roles")
    faults: dict[str, str] = {}
    if not label:
        faults["label"] = "Enter a label: who or what the token is for"
    elif len(label) > 200:
        faults["label"] = "The label must be 200 characters or fewer"
    if not roles or not set(roles) <= set(STAFF_ROLES):
        faults["roles"] = "Select at least one role"
    if faults:
        return _tokens_page(faults, {"label": label, "roles": roles})
    row, secret = tokens.create_staff_token(
        get_session(), roles, label, trail=trail_of(current_principal())
    )
    return render("staff/token_created.html", row=row, secret=secret)


@blp.route("/keys", methods=["GET"])
@staff_page("admin")
def key_status() -> Response:
    """The keyring: each key-encryption key, its state, and how many data keys it wraps."""
    session = get_session()
    found = keys.key_status(session, get_keys())
    trail_of(current_principal()).record(session, "keys.status.read", rows=len(found))
    session.commit()
    return render("staff/keys.html", keks=found)


@blp.route("/notifications", methods=["GET"])
@staff_page("admin")
def outbox() -> Response:
    """The worker's backlog (due now, the oldest's age, failed) and the messages that
    failed or were cancelled, with their last error (never an address), to queue again."""
    session = get_session()
    waiting = notifications.backlog(session, utcnow())
    stuck = [
        row
        for status in ("failed", "cancelled")
        for row in notifications.list_messages(session, status=status, limit=100)
    ]
    trail_of(current_principal()).record(
        session, "notifications.list", filters={"status": "failed,cancelled"}, rows=len(stuck)
    )
    session.commit()
    return render("staff/outbox.html", backlog=waiting, stuck=stuck)


@blp.route("/notifications/<uuid:message_id>/retry", methods=["POST"])
@staff_page("admin")
def outbox_retry(message_id: uuid.UUID) -> Response:
    """Queue a failed or cancelled message again, due now, with its tries reset."""
    session = get_session()
    row = notifications.retry(session, message_id)
    trail_of(current_principal()).record(
        session, "notifications.retry", study_id=row.study_id, rows=1
    )
    session.commit()
    return redirect(url_for("staff.outbox"), code=303)  # type: ignore[return-value]


@blp.route("/tokens/<uuid:token_id>/revoke", methods=["POST"])
@staff_page("admin")
def token_revoke(token_id: uuid.UUID) -> Response:
    tokens.revoke_staff_token(get_session(), token_id, trail=trail_of(current_principal()))
    return redirect(url_for("staff.token_list"), code=303)  # type: ignore[return-value]
