"""The language switch on every participant page: a one-button form (no JavaScript needed)
that posts the language and the page to come back to."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    current_app,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from service.api.access import public
from service.web import session as web_session
from service.web.language import DEFAULT, LANGUAGES, page_language, switch_to
from service.web.participant import blp
from service.web.words import gettext

BACK_FIELD = "back"


@blp.app_context_processor
def _switch() -> dict[str, Any]:
    web = has_request_context() and request.blueprint == "web"
    here = page_language() if web else DEFAULT
    other = next(tag for tag in LANGUAGES if tag != here)
    return {
        "page_lang": here,
        "other_lang": other,
        "other_lang_name": LANGUAGES[other],
        "back_field": BACK_FIELD,
    }


def _back(path: str) -> str:
    """Where to go after switching: the page the form was on if it is one of ours that a GET
    can open; otherwise the start (or, signed in, the task list). Never another site."""
    fallback = url_for("web.home" if web_session.principal() else "web.start")
    if not path.startswith("/p/") or "//" in path or "\\" in path:
        return fallback
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        return fallback
    except HTTPException:
        return fallback
    return path


@blp.route("/language", methods=["POST"])
@public
def switch_language() -> Response:
    """Read the pages in another language from now on, back on the same page."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        page = render_template(
            "error.html",
            title=gettext("Sorry, there is a problem with this page"),
            detail=gettext("Choose English or Cymraeg."),
            status=400,
        )
        return Response(page, status=400, mimetype="text/html")
    switch_to(language)
    return redirect(_back(request.form.get(BACK_FIELD, "")), code=303)  # type: ignore[return-value]
