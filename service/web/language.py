"""The language of the participant pages: which one a person reads, and text in it.

The one place that decides a request's language (``page_language``): the choice this
browser made with the switch (its session cookie), else the signed-in participant's stored
choice, else the browser's ``Accept-Language``, else English. The web app's own words come
from the gettext catalogues in ``translations/`` (Flask-Babel); an instrument's texts come
from its definition, through one filter (``localised``) that marks a fragment in another
language than the page's with its own ``lang`` attribute. The staff console stays English.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel
from markupsafe import Markup, escape

from service.db import get_session
from service.domain.i18n import localise, negotiate, parse_accept_language, primary_subtag
from service.services.languages import choose_language, language_choice
from service.web import session as web_session
from service.web.words import gettext

TRANSLATIONS = Path(__file__).parent / "translations"
# The pages' languages, the default first, each named in itself (as the switch shows it).
LANGUAGES = {"en": "English", "cy": "Cymraeg"}
DEFAULT = "en"
DEFAULT_TAG = "en-GB"
# The tag an instrument's text map uses for each (the study writes en-GB, cy-GB).
CONTENT_TAGS = {"en": "en-GB", "cy": "cy-GB"}


def _stored_choice() -> str | None:
    found = web_session.principal()
    if found is None or found.study_id is None:
        return None
    return language_choice(get_session(), found.study_id)


def page_language() -> str:
    """This request's language for the participant pages (a key of ``LANGUAGES``)."""
    if "page_language" not in g:
        chosen = web_session.current().language or _stored_choice()
        if chosen not in LANGUAGES:
            # The pages' languages are primary subtags: "en-GB, cy;q=0.9" wants English.
            wanted = parse_accept_language(request.headers.get("Accept-Language"))
            chosen = negotiate([primary_subtag(tag) for tag in wanted], list(LANGUAGES))
        g.page_language = chosen
    found: str = g.page_language
    return found


def content_language() -> str:
    """The tag to ask an instrument's text maps for (``cy-GB`` on a Welsh page)."""
    return CONTENT_TAGS[page_language()]


def switch_to(language: str) -> None:
    """This browser reads ``language`` from now on; a signed-in participant keeps the choice
    on any device (one commit)."""
    web_session.choose_language(language)
    g.page_language = language
    found = web_session.principal()
    if found is not None and found.study_id is not None:
        choose_language(get_session(), found.study_id, language)


def remember_at_sign_in(study_id: str) -> None:
    """At sign-in, a choice made on this browser's first page becomes the participant's
    stored one; without one, the stored choice (from another device) comes back."""
    chosen = web_session.current().language
    if chosen in LANGUAGES:
        choose_language(get_session(), study_id, chosen)
    else:
        stored = language_choice(get_session(), study_id)
        if stored in LANGUAGES:
            web_session.choose_language(stored)


def source_language(source: Any) -> str:
    """The language of a definition's plain strings: ``source`` is a tag, or an instrument
    (its ``language``, else its definition's)."""
    if isinstance(source, str):
        return source
    language = getattr(source, "language", None)
    if language is None:
        definition = getattr(source, "definition", None) or {}
        language = definition.get("language")
    return str(language or "en-GB")


def localised(value: Any, source: Any = "en-GB") -> Markup:
    """A text (a string, or a map from tag to string) in the page's language, escaped;
    wrapped in ``<span lang="...">`` when it is in another language than the page's.
    ``source`` says what language a plain string is in (``source_language``)."""
    text, tag = localise(value, content_language(), source_language(source))
    if primary_subtag(tag) == page_language():
        return escape(text)
    return Markup('<span lang="{}">{}</span>').format(primary_subtag(tag), text)


def localised_text(value: Any, source: Any = "en-GB") -> str:
    """The same text without markup, for where none may go (a page's ``<title>``)."""
    return localise(value, content_language(), source_language(source))[0]


def language_name(tag: str) -> str:
    """A language's name in the page's words, with its tag: "Welsh (cy-GB)"."""
    names = {"en": gettext("English"), "cy": gettext("Welsh")}
    return f"{names.get(primary_subtag(tag), tag)} ({tag})"


@cache
def _study_languages(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def untranslated_note(instrument_id: str) -> str | None:
    """The study's sentence (``languages.json`` beside the definitions) on why a standard
    scale is shown only in English, in the page's language; None if it has none."""
    folder = Path(current_app.config["PSAM_INSTRUMENTS_DIR"])
    untranslated = _study_languages(folder / "languages.json").get("untranslated", {})
    if instrument_id not in untranslated.get("instruments", ()):
        return None
    why = untranslated.get("why", {})
    return str(localise(why, content_language(), DEFAULT_TAG)[0]) if why else None


def _selector() -> str:
    """Flask-Babel's locale: the participant pages' language; English for everything else."""
    if has_request_context() and request.blueprint == "web":
        return page_language()
    return DEFAULT


def init_languages(app: Flask) -> None:
    """Flask-Babel with the catalogues in ``translations/``, and the pages' filters."""
    Babel(app, locale_selector=_selector, default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.filters["localised"] = localised
    app.jinja_env.filters["localised_text"] = localised_text
