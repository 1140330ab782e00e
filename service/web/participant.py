"""The participant's pages: the link, the session, help, the task list, sign-out.

Each handler is thin: it reads the form, calls the service function the JSON view calls and
renders a template. Errors a person can fix come back on the page (the NHS error-summary
pattern); anything else answers as the API does, as an HTML page for a browser.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.security import safe_join

from service.api.access import current_principal, participant_page, public
from service.db import get_session
from service.domain.consent import NEEDS_RECONSENT, NOT_CONSENTED
from service.domain.errors import NotFoundError
from service.domain.tasks import IN_PROGRESS, OPEN
from service.domain.tokens import TokenKind, token_kind
from service.services import responses
from service.services.context import participant_context
from service.services.interviews import has_open_invitation
from service.services.tokens import AuthenticationError, authenticate
from service.web import session as web_session
from service.web.language import (
    content_language,
    localised,
    remember_at_sign_in,
    source_language,
)
from service.web.words import gettext

STATIC = Path(__file__).parent / "static"
NHSUK_FRONTEND = "nhsuk-frontend-10.6.1"
SERVICE_NAME = "Peer Support After Miscarriage"

blp = Blueprint("web", __name__, url_prefix="/p")


@blp.app_context_processor
def _layout() -> dict[str, Any]:
    return {
        "service_name": gettext("Peer Support After Miscarriage"),
        "nhsuk": NHSUK_FRONTEND,
        "csrf_field": web_session.CSRF_FIELD,
    }


@blp.context_processor
def _csrf() -> dict[str, Any]:
    return {
        "csrf_token": web_session.current().csrf,
        "signed_in": web_session.current().token_id is not None,
    }


@blp.before_request
def _check_forms() -> Response | None:
    """Every form carries this browser's CSRF token; a bearer token (no cookie) needs none."""
    return csrf_refusal(web_session.check_csrf, "error.html")


def csrf_refusal(check: Callable[[], None], template: str) -> Response | None:
    """The 400 page for a form posted without its session's CSRF token; None if it has it
    (or if it came with a bearer token, which no other site can make a browser send)."""
    if request.method == "POST" and "Authorization" not in request.headers:
        try:
            check()
        except web_session.CsrfError:
            page = render_template(
                template,
                title=gettext("Sorry, there is a problem with this page"),
                detail=gettext(
                    "The page was open for too long, or your browser did not send back what "
                    "it was given. Go back, reload the page and try again."
                ),
            )
            return Response(page, status=400, mimetype="text/html")
    return None


@blp.after_request
def _finish(response: Response) -> Response:
    """Keep the session's idle clock running, and show a browser errors as a page."""
    if response.mimetype == "application/problem+json" and request.accept_mimetypes.accept_html:
        response = problem_page(response)
    if request.endpoint != "web.asset" and "Authorization" not in request.headers:
        web_session.store(response)
    return response


def problem_page(problem: Response, template: str = "error.html") -> Response:
    """A problem+json answer as a page for a browser, with the same status."""
    body = problem.get_json(silent=True) or {}
    status = problem.status_code
    if status == 401:
        title = gettext("Your session has ended")
        detail = gettext("For your privacy, we sign you out after 30 minutes without activity.")
    elif status == 403:
        title = gettext("You do not have access")
        detail = gettext("This page is not open to you.")
    elif status == 404:
        title = gettext("Page not found")
        detail = gettext("If you typed the web address, check it is correct.")
    else:
        title = str(body.get("title") or gettext("Sorry, there is a problem with the service"))
        detail = str(body.get("detail") or gettext("Try again later."))
    page = render_template(template, title=title, detail=detail, status=status)
    answer = Response(page, status=status, mimetype="text/html")
    for name in ("WWW-Authenticate", "Retry-After"):
        if name in problem.headers:
            answer.headers[name] = problem.headers[name]
    return answer


@blp.route("/start", methods=["GET"])
@public
def start() -> str:
    """Where the link in a letter leads: the access code comes in the fragment (read by
    start.js, never sent in a URL) or is typed in."""
    return render_template("start.html", errors={}, code_value="")


@blp.route("/start", methods=["POST"])
@public
def start_session() -> Response | str:
    code = request.form.get("access_code", "").strip()
    error = None
    if not code:
        error = gettext("Enter the access code from your letter or email")
    elif token_kind(code) is not TokenKind.PARTICIPANT:
        error = gettext("Enter the access code exactly as it appears, starting with psam_p_")
    else:
        try:
            found = authenticate(get_session(), code)
        except AuthenticationError:
            # Says why without saying which: the page must not tell whoever holds an old
            # letter that this person left the study.
            error = gettext(
                "This access code does not work. A link stops working when the study team "
                "sends a new one, or when you leave the study and your answers are deleted. "
                "If you did not leave, ask the study team for a new link"
            )
    if error is not None:
        # The code is never shown again: it may be someone's key.
        return render_template("start.html", errors={"access_code": error}, code_value="")
    web_session.sign_in(found)
    remember_at_sign_in(str(found.study_id))
    # Someone who has not signed the form in force reads what the study is first.
    state = participant_context(get_session(), str(found.study_id)).consent.state
    first = "web.welcome" if state in (NOT_CONSENTED, NEEDS_RECONSENT) else "web.home"
    return redirect(url_for(first), code=303)  # type: ignore[return-value]


@blp.route("/help", methods=["GET"])
@public
def get_help() -> str:
    """Who to call now: 999, NHS 111, Samaritans."""
    return render_template("help.html")


@blp.route("/sign-out", methods=["POST"])
@public
def sign_out() -> str:
    web_session.sign_out()
    return render_template("signed_out.html")


def own_study_id(what: str) -> str:
    """The signed-in participant's study ID; a staff token has no such page (404)."""
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError(f"Only a participant has {what}.")
    return study_id


@blp.route("/", methods=["GET"])
@participant_page
def home() -> str:
    """The participant's questionnaires by timepoint; the next open one is the main action."""
    study_id = own_study_id("questionnaires")
    session = get_session()
    context = participant_context(session, study_id)
    tasks = responses.tasks_for(session, context)
    # The consent comes first; then what was started, so that it is finished; then the next.
    consent = [t for t in tasks if t.timepoint == "consent"]
    started = [t for t in tasks if t.status == IN_PROGRESS]
    next_task = next(iter(consent + started + [t for t in tasks if t.status == OPEN]), None)
    # Each title in the page's language where the instrument has it, marked if not.
    titles = {
        (t.instrument, t.version): localised(inst.title, inst)
        for t in tasks
        if t.timepoint != "consent"
        for inst in [responses.instrument(session, t.instrument, t.version, content_language())]
    }
    # Someone who signed an earlier form sees what is new in the one they are asked to sign.
    renewing = bool(consent) and context.consent.form_version is not None
    form = context.catalogue.consent_form_in(content_language())
    return render_template(
        "home.html",
        titles=titles,
        study_id=study_id,
        consent=context.consent,
        changes=form.changes if renewing else (),
        form_language=source_language(form),
        tasks=tasks,
        next_task=next_task,
        interview_open=has_open_invitation(session, study_id),
    )


@blp.route("/assets/<path:name>", methods=["GET"])
@public
def asset(name: str) -> Response:
    """The page's own files and the vendored nhsuk-frontend release."""
    found = safe_join(str(STATIC), name)
    if found is None or not Path(found).is_file():
        raise NotFoundError(f"There is no file {name!r}.")
    response = Response(Path(found).read_bytes(), mimetype=_mimetype(name))
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.add_etag()
    response.make_conditional(request)
    return response


def _mimetype(name: str) -> str:
    if name.endswith(".js"):
        return "text/javascript"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
