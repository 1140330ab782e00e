"""The welcome page: what the study is, in plain English, before the consent form.

Its text is the participant information sheet of the version the consent form names
(``information_sheet_version``), kept beside the definitions in
``<PSAM_INSTRUMENTS_DIR>/information-sheets.json``, keyed by that version. The consent form
is a hashed definition that cannot change once published, so the sheet's text lives beside
it rather than in it; a new sheet is a new key, named by a new form version. A sheet in
another language is in ``information-sheets.<tag>.json`` (``cy-GB``), under the same keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import current_app, render_template

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import NotFoundError
from service.services.context import participant_context
from service.web.language import content_language
from service.web.participant import blp

SHEETS_FILE = "information-sheets.json"
ENGLISH = "en-GB"


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class InformationSheet:
    version: str
    title: str
    summary: str
    sections: tuple[Section, ...]


def parse_sheets(data: object) -> dict[str, InformationSheet]:
    """The sheets a file holds, by version; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("the file must hold an object keyed by version")
    sheets = {}
    for version, sheet in data.items():
        try:
            sheets[version] = InformationSheet(
                version=version,
                title=str(sheet["title"]),
                summary=str(sheet["summary"]),
                sections=tuple(
                    Section(str(s["heading"]), tuple(str(p) for p in s["paragraphs"]))
                    for s in sheet["sections"]
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"sheet {version!r} lacks {exc}") from None
    return sheets


@cache
def _sheets(path: Path) -> dict[str, InformationSheet]:
    if not path.is_file():
        return {}
    return parse_sheets(json.loads(path.read_text(encoding="utf-8")))


def information_sheet(
    version: str | None, language: str = ENGLISH
) -> tuple[InformationSheet | None, str]:
    """The information sheet of a version in ``language`` if the definitions folder has that
    text (``information-sheets.<tag>.json``), else in English; and the tag it is in."""
    if version is None:
        return None, ENGLISH
    folder = Path(current_app.config["PSAM_INSTRUMENTS_DIR"])
    if language != ENGLISH:
        translated = _sheets(folder / f"information-sheets.{language}.json").get(version)
        if translated is not None:
            return translated, language
    return _sheets(folder / SHEETS_FILE).get(version), ENGLISH


@blp.route("/welcome", methods=["GET"])
@participant_page
def welcome() -> str:
    """What the study is, before the consent form; one action: continue to the form."""
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError("Only a participant reads the welcome page.")
    catalogue = participant_context(get_session(), study_id).catalogue
    form = catalogue.consent_form_in(content_language())
    sheet, sheet_language = information_sheet(form.information_sheet_version, content_language())
    return render_template("welcome.html", form=form, sheet=sheet, sheet_language=sheet_language)
