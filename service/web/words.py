"""The pages' own words in the request's language: Flask-Babel's functions, typed.

Strings marked with ``gettext`` or ``lazy_gettext`` here (and ``_`` in the templates) are
what ``make catalogues`` extracts into ``translations/``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import babel.dates
import flask_babel
from flask import has_app_context
from flask_babel import lazy_gettext as lazy_gettext


def gettext(message: str, **values: Any) -> str:
    """``message`` in the request's language, with ``%(name)s`` filled from ``values``."""
    return str(flask_babel.gettext(message, **values))


def format_date(day: dt.date | dt.datetime, pattern: str = "d MMMM y") -> str:
    """A date as a person reads it in the request's language ("26 Tachwedd 2026"); in
    English outside an application (the renderer's unit tests)."""
    if not has_app_context():
        return str(babel.dates.format_date(day, pattern, locale="en_GB"))
    return str(flask_babel.format_date(day, pattern))


def format_datetime(when: dt.datetime, pattern: str) -> str:
    """A time (UTC) in the request's language."""
    return str(flask_babel.format_datetime(when, pattern))
