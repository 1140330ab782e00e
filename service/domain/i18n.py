"""Text in one or several languages, and choosing which one a person reads.

A piece of text a participant sees is either a string (one language: the version's first)
or a map from a BCP 47 tag (``en-GB``, ``cy-GB``) to a string. Ids and codes are never
translated, so an answer means the same in every language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

LocalText = str | Mapping[str, str]


def primary_subtag(tag: str) -> str:
    """``cy-GB`` -> ``cy``: the part an HTML ``lang`` attribute and a match need."""
    return tag.split("-", 1)[0].lower()


def localise(value: Any, lang: str, fallback: str) -> tuple[str, str]:
    """The text of ``value`` in ``lang`` and the tag it is really in.

    A plain string is in ``fallback`` (the version's first language). A map without
    ``lang`` gives the ``fallback`` text, so a caller can mark that fragment with its own
    ``lang`` attribute.
    """
    if isinstance(value, str):
        return value, fallback
    if lang in value:
        return value[lang], lang
    wanted = primary_subtag(lang)
    for tag, text in value.items():
        if primary_subtag(tag) == wanted:
            return text, tag
    if fallback in value:
        return value[fallback], fallback
    tag, text = next(iter(value.items()))
    return text, tag


def negotiate(requested: Iterable[str], available: list[str]) -> str:
    """The first of ``requested`` (most wanted first) that ``available`` offers, matched on
    the whole tag and then on the primary subtag; otherwise ``available[0]``."""
    wanted = [tag for tag in requested if tag]
    for tag in wanted:
        for offered in available:
            if offered.lower() == tag.lower():
                return offered
    for tag in wanted:
        for offered in available:
            if primary_subtag(offered) == primary_subtag(tag):
                return offered
    return available[0]


def parse_accept_language(header: str | None) -> list[str]:
    """An ``Accept-Language`` header's tags, most wanted first (RFC 9110 section 12.5.4);
    ``*`` and tags with q=0 are left out."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        quality = 1.0
        for param in pieces[1:]:
            name, _, number = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
