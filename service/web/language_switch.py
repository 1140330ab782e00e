"""The language switch on every participant page: a plain link in the header ("Cymraeg" on
an English page, "English" on a Welsh one, each marked with its own ``lang``) that leads back
to the same page in the other language. It needs no script and no form, so it works before
sign-in, from the first page; a link from another site cannot use it to change a signed-in
participant's choice, since the session cookie is SameSite=Strict."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, has_request_context, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from service.api.access import public
from service.domain.errors import NotFoundError
from service.web import session as web_session
from service.web.language import DEFAULT, LANGUAGES, page_language, switch_to
from service.web.participant import blp


@blp.app_context_processor
def _switch() -> dict[str, Any]:
    web = has_request_context() and request.blueprint == "web"
    here = page_language() if web else DEFAULT
    other = next(tag for tag in LANGUAGES if tag != here)
    switch_url = None
    if web:
        back = request.path.removeprefix(blp.url_prefix or "").strip("/")
        switch_url = url_for("web.switch_language", language=other, back=back or None)
    return {
        "page_lang": here,
        "other_lang": other,
        "other_lang_name": LANGUAGES[other],
        "switch_url": switch_url,
    }


def _back(path: str) -> str:
    """Where to go after switching: the page the link was on if it is one of ours that a GET
    can open; otherwise the start (or, signed in, the task list). Never another site."""
    fallback = url_for("web.home" if web_session.principal() else "web.start")
    if "//" in path or "\\" in path or ":" in path:
        return fallback
    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:  # no such page, a form's address only, or a redirect
        return fallback
    return path


@blp.route("/language/<language>", methods=["GET"], defaults={"back": ""})
@blp.route("/language/<language>/<path:back>", methods=["GET"])
@public
def switch_language(language: str, back: str) -> Response:
    """Read the pages in ``language`` from now on, back on the page the link was on."""
    if language not in LANGUAGES:
        raise NotFoundError(f"The pages are not in {language!r}.")
    switch_to(language)
    return redirect(_back(f"/p/{back}"), code=303)  # type: ignore[return-value]
