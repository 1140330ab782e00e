"""The participant pages' message catalogues: every string the templates and modules mark
has a translation in every language, none fuzzy, with the same placeholders (Babel's API)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from service.config import PROJECT_ROOT
from service.web.language import LANGUAGES, TRANSLATIONS

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TRANSLATED = [tag for tag in LANGUAGES if tag != "en"]


def _marked() -> set[str | tuple[str, ...]]:
    """Every msgid the templates and modules mark, as `make catalogues` extracts them."""
    with open(PROJECT_ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message)
    return found


def test_the_templates_and_modules_mark_the_pages_words() -> None:
    marked = _marked()
    assert "Sign in with your access code" in marked  # a template's
    assert "Enter the access code from your letter or email" in marked  # a module's
    assert "You need to agree to this to take part" in marked  # a lazy one
    assert len(marked) > 150


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_string_has_a_translation_that_is_not_fuzzy(language: str) -> None:
    path = Path(TRANSLATIONS) / language / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as po:
        catalogue = read_po(po)
    assert not catalogue.fuzzy, "the catalogue's header is marked fuzzy"
    faults = []
    for marked in sorted(_marked(), key=str):
        msgid = marked[0] if isinstance(marked, tuple) else marked
        entry = catalogue.get(msgid)
        if entry is None:
            faults.append(f"missing: {msgid!r}")
            continue
        if entry.fuzzy:
            faults.append(f"fuzzy: {msgid!r}")
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(strings):
            faults.append(f"untranslated: {msgid!r}")
        wanted = set(PLACEHOLDER.findall(msgid))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                faults.append(f"placeholders differ: {msgid!r}")
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_says_it_is_a_study_translation_awaiting_review(language: str) -> None:
    path = Path(TRANSLATIONS) / language / "LC_MESSAGES" / "messages.po"
    head = path.read_text(encoding="utf-8").split('msgid ""')[0]
    assert "STUDY TRANSLATION AWAITING REVIEW" in head


def test_the_compiled_catalogues_are_built_not_committed() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*.mo" in ignored
    for language in TRANSLATED:  # built at install (make), so the pages can use them
        assert (Path(TRANSLATIONS) / language / "LC_MESSAGES" / "messages.mo").is_file()
