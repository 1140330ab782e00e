"""Which language a JSON API caller asks for: ``lang`` (query or body), else
``Accept-Language``; an unsupported ``lang`` is a 400 naming it."""

from __future__ import annotations

from flask import request
from marshmallow import Schema, fields

from service.db import get_session
from service.domain.i18n import negotiate, parse_accept_language, primary_subtag
from service.errors import UNSUPPORTED_LANGUAGE, ApiError
from service.services.catalogue import catalogue

LANG_DESCRIPTION = (
    "A BCP 47 tag (cy-GB, or cy): the language to show texts in. Without it, "
    "Accept-Language is used; a version without the language gives its first."
)


class LanguageQuerySchema(Schema):
    lang = fields.String(metadata={"description": LANG_DESCRIPTION})


def requested_language(lang: str | None = None) -> str | None:
    """The study language the caller asks for (``lang`` given, or in the query string, or
    the best match of ``Accept-Language``), or None when they ask for none."""
    lang = lang if lang is not None else request.args.get("lang")
    wanted = (
        [] if lang is not None else parse_accept_language(request.headers.get("Accept-Language"))
    )
    if lang is None and not wanted:
        return None  # nothing asked: no catalogue read (a submit's statements stay few)
    offered = list(catalogue(get_session()).languages)
    if lang is not None:
        for match in (str.lower, primary_subtag):
            found = [tag for tag in offered if match(tag) == match(lang)]
            if found and (match is str.lower or "-" not in lang):
                return found[0]
        raise ApiError(
            UNSUPPORTED_LANGUAGE,
            "The study has no text in the language 'lang' asks for.",
            errors={"lang": [f"must be one of {', '.join(offered)}"]},
        )
    return negotiate(wanted, offered)
