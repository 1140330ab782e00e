"""Text in one or several languages, and choosing which one a person reads.

A piece of text a participant sees is either a string (one language: the version's first)
or a map from a BCP 47 tag (``en-GB``, ``cy-GB``) to a string. Ids and codes are never
translated, so an answer means the same in every language.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
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


# --- a definition's texts in several languages ----------------------------------------------

# Where a definition holds text a participant reads. Everything else (ids, codes, conditions,
# sources, notes for analysts) is the same in every language.
_TOP_TEXTS = ("title", "preamble")
_ITEM_TEXTS = ("text", "help")
TRANSLATION_SOURCES = ("original", "published", "study translation")
_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def is_language_tag(tag: Any) -> bool:
    """A well-formed BCP 47 tag of the kind the study uses (``en-GB``, ``cy``, ``pa-Guru-IN``)."""
    return isinstance(tag, str) and len(tag) <= 35 and _TAG.match(tag) is not None


def languages_of(definition: Mapping[str, Any]) -> list[str]:
    """A version's languages, the default first: ``languages``, or the one ``language``."""
    listed = definition.get("languages")
    return list(listed) if listed else [definition["language"]]


def text_slots(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """Every place a participant-facing text sits: ``(JSON path, container, key)``, in the
    definition's order, whether it holds a string or a language map."""
    for key in _TOP_TEXTS:
        if key in definition:
            yield f"$.{key}", definition, key
    changes = definition.get("changes", [])
    for i in range(len(changes)):
        yield f"$.changes[{i}]", changes, i  # type: ignore[misc]
    for name, options in definition.get("choice_sets", {}).items():
        for i, option in enumerate(options):
            yield f"$.choice_sets.{name}[{i}].label", option, "label"
    for i, item in enumerate(definition.get("items", [])):
        for key in _ITEM_TEXTS:
            if key in item:
                yield f"$.items[{i}].{key}", item, key
    for i, score in enumerate(definition.get("scores", [])):
        yield f"$.scores[{i}].label", score, "label"
        for j, band in enumerate(score.get("bands", [])):
            yield f"$.scores[{i}].bands[{j}].label", band, "label"
    for i, alert in enumerate(definition.get("alerts", [])):
        yield f"$.alerts[{i}].signposting", alert, "signposting"


def _where(definition: Mapping[str, Any], path: str) -> str:
    """A path with the item id it falls in, so a translator finds it: ``$.items[3].text
    (ay_age)``."""
    match = re.match(r"^\$\.items\[(\d+)\]", path)
    if match:
        return f"{path} ({definition['items'][int(match.group(1))]['id']})"
    return path


def translation_faults(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every way a definition's languages fail to cover its texts, or its translation
    records fail to describe its languages; empty when every language has every text."""
    faults: list[tuple[str, str]] = []
    languages = languages_of(definition)
    if len(set(languages)) != len(languages):
        faults.append(("$.languages", "lists a language more than once"))
    if "languages" in definition:
        if languages[0] != definition["language"]:
            faults.append(("$.languages", "the first language must be the 'language' field's"))
        records = definition.get("translations", {})
        for tag in languages:
            if tag not in records:
                faults.append(("$.translations", f"has no record for {tag}"))
        for tag in records:
            if tag not in languages:
                faults.append((f"$.translations.{tag}", "is not one of the version's languages"))
    elif "translations" in definition:
        faults.append(("$.translations", "only a version that lists 'languages' has them"))
    several = len(languages) > 1
    for path, container, key in text_slots(definition):
        value = container[key]
        where = _where(definition, path)
        if isinstance(value, str):
            if several:
                faults.append((where, f"is one string: give it in {', '.join(languages)}"))
            continue
        for tag in languages:
            if tag not in value:
                faults.append((where, f"has no {tag} text"))
        for tag in value:
            if tag not in languages:
                faults.append((where, f"{tag} is not one of the version's languages"))
    return faults


def render(definition: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The definition as a person reading ``lang`` sees it: every text one string, the
    ``language`` it is in, and that language's translation record. Its canonical JSON is
    "the exact text shown", which a consent receipt's text hash covers."""
    languages = languages_of(definition)
    lang = negotiate([lang], languages)
    default = languages[0]
    shown = copy.deepcopy(dict(definition))
    for _, container, key in text_slots(shown):
        container[key] = localise(container[key], lang, default)[0]  # type: ignore[index]
    records = shown.pop("translations", {})
    shown.pop("languages", None)
    shown["language"] = lang
    if lang in records:
        shown["translation"] = records[lang]
    return shown
