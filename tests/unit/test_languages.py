"""A version's texts in several languages: every language must cover every text, the hash
covers every language, and nothing a response means depends on the language it was shown in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.instrument import InstrumentDefinitionSchema
from service.domain.canonical import content_hash
from service.domain.i18n import render, text_slots
from service.domain.instruments import DefinitionError, in_language, parse_instrument
from service.domain.scoring import score_answers

LANGUAGES = ["en-GB", "cy-GB", "pl-PL"]
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzâêŵŷ ", min_size=1, max_size=12)


@st.composite
def multilingual(draw: st.DrawFn) -> dict[str, Any]:
    """A scored questionnaire whose every text is a map over 1-3 languages."""
    languages = LANGUAGES[: draw(st.integers(1, 3))]

    def text() -> dict[str, str]:
        return {tag: draw(words) for tag in languages}

    n = draw(st.integers(1, 4))
    return {
        "id": "random",
        "version": "1.0.0",
        "kind": "questionnaire",
        "title": text(),
        "language": languages[0],
        "languages": languages,
        "translations": {tag: {"source": "original"} for tag in languages},
        "source": "Made up for a test",
        "preamble": text(),
        "choice_sets": {"f": [{"code": c, "label": text()} for c in range(4)]},
        "items": [
            {
                "id": f"q{i}",
                "text": text(),
                "help": text(),
                "type": "choice",
                "choices": "f",
                "required": True,
            }
            for i in range(n)
        ],
        "scores": [
            {
                "id": "total",
                "label": text(),
                "method": "sum",
                "participant_visible": True,
                "items": [f"q{i}" for i in range(n)],
                "bands": [{"min": 0, "max": 3 * n, "label": text()}],
            }
        ],
        "alerts": [
            {
                "id": "high",
                "when": {"item": "q0", "op": ">=", "value": 3},
                "severity": "routine",
                "signposting": text(),
            }
        ],
    }


@settings(max_examples=60, deadline=None)
@given(multilingual(), st.data())
def test_the_hash_changes_when_any_text_in_any_language_changes(
    definition: dict[str, Any], data: st.DataObject
) -> None:
    InstrumentDefinitionSchema().load(definition)
    before = parse_instrument(definition).sha256
    slots = list(text_slots(definition))
    path, container, key = slots[data.draw(st.integers(0, len(slots) - 1))]
    tag = data.draw(st.sampled_from(definition["languages"]))
    container[key][tag] += "!"
    assert parse_instrument(definition).sha256 != before, (path, tag)


@settings(max_examples=60, deadline=None)
@given(multilingual(), st.data())
def test_the_scores_do_not_depend_on_the_language(
    definition: dict[str, Any], data: st.DataObject
) -> None:
    default = parse_instrument(definition)
    answers = {i.id: data.draw(st.integers(0, 3)) for i in default.items}
    expected = [(s.id, s.value) for s in score_answers(default, answers)]
    for tag in definition["languages"]:
        shown = in_language(default, tag)
        assert shown.language == tag and shown.sha256 == default.sha256
        assert [i.id for i in shown.items] == [i.id for i in default.items]
        assert [c.code for i in shown.items for c in i.choices] == [
            c.code for i in default.items for c in i.choices
        ]
        assert [(s.id, s.value) for s in score_answers(shown, answers)] == expected
        assert shown.text_sha256 == content_hash(render(definition, tag))


def welsh_about_you() -> dict[str, Any]:
    return json.loads(Path("instruments/about-you/1.0.1.json").read_text(encoding="utf-8"))


def test_a_missing_translation_is_named_by_item_and_language() -> None:
    definition = welsh_about_you()
    del definition["items"][2]["text"]["cy-GB"]
    with pytest.raises(DefinitionError) as caught:
        parse_instrument(definition)
    item = definition["items"][2]["id"]
    assert (f"$.items[2].text ({item})", "has no cy-GB text") in caught.value.faults


def test_a_plain_string_in_a_version_of_two_languages_is_a_missing_translation() -> None:
    definition = welsh_about_you()
    definition["choice_sets"]["age_band"][0]["label"] = "Under 20"
    with pytest.raises(DefinitionError) as caught:
        parse_instrument(definition)
    assert caught.value.faults == [
        ("$.choice_sets.age_band[0].label", "is one string: give it in en-GB, cy-GB")
    ]


def test_a_language_without_a_translation_record_or_a_text_in_no_language_is_refused() -> None:
    definition = welsh_about_you()
    del definition["translations"]["cy-GB"]
    definition["title"]["pl-PL"] = "O tobie"
    with pytest.raises(DefinitionError) as caught:
        parse_instrument(definition)
    assert ("$.translations", "has no record for cy-GB") in caught.value.faults
    assert ("$.title", "pl-PL is not one of the version's languages") in caught.value.faults


def test_a_study_translation_says_who_reviewed_it_and_where_its_approval_stands() -> None:
    definition = welsh_about_you()
    del definition["translations"]["cy-GB"]["reviewed_by"]
    errors = InstrumentDefinitionSchema().validate(definition)
    assert "reviewed_by" in json.dumps(errors)


def test_the_welsh_versions_keep_the_english_versions_ids_codes_and_rules() -> None:
    for name, english, welsh in (
        ("about-you", "1.0.0", "1.0.1"),
        ("peer-support", "1.0.0", "1.0.1"),
        ("about-you", "1.1.0", "1.1.1"),
        ("peer-support", "1.1.0", "1.1.1"),
        ("consent", "1.1.0", "1.1.1"),
    ):
        old = json.loads(Path(f"instruments/{name}/{english}.json").read_text(encoding="utf-8"))
        new = json.loads(Path(f"instruments/{name}/{welsh}.json").read_text(encoding="utf-8"))
        shown = render(new, "en-GB")
        for dropped in ("version", "translation", "changes", "reconsent"):
            shown.pop(dropped, None), old.pop(dropped, None)
        assert shown == old, name
        assert new["translations"]["cy-GB"]["status"] == "awaiting ethics committee review"
        assert parse_instrument(new, "cy-GB").language == "cy-GB"


def test_the_standard_scales_stay_in_english_with_a_reason_in_both_languages() -> None:
    for name in ("phq-9", "gad-7", "pcl-5", "epds"):
        for path in Path(f"instruments/{name}").glob("*.json"):
            assert "languages" not in json.loads(path.read_text(encoding="utf-8")), path
    notes = json.loads(Path("instruments/languages.json").read_text(encoding="utf-8"))
    assert set(notes["untranslated"]["instruments"]) == {"phq-9", "gad-7", "pcl-5", "epds"}
    assert set(notes["untranslated"]["why"]) == {"en-GB", "cy-GB"}
