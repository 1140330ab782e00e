"""Questionnaire -> draft definition: what maps, what is refused by name, and skip logic kept."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from schemas.instrument import InstrumentDefinitionSchema, ItemSchema
from service.domain.fhir import FhirBase, questionnaire
from service.domain.fhir_import import ImportRefused
from service.domain.i18n import render
from service.domain.instruments import condition_holds, parse_instrument
from service.services.definitions import draft_from_fhir

AT = FhirBase("https://study.example.org/fhir/r4")


def loinc_style() -> dict[str, Any]:
    """A Questionnaire from elsewhere: string codes with ordinalValues, a group-free list."""
    option = [
        {
            "valueCoding": {
                "system": "http://loinc.org",
                "code": code,
                "display": label,
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                        "valueDecimal": weight,
                    }
                ],
            }
        }
        for code, label, weight in (("LA6568-5", "Not at all", 0), ("LA6569-3", "Several", 1))
    ]
    return {
        "resourceType": "Questionnaire",
        "url": "http://example.org/Questionnaire/mood-check",
        "version": "2.0.0",
        "status": "active",
        "title": "Mood check",
        "item": [
            {
                "linkId": "/44250-9",
                "text": "Little interest?",
                "type": "choice",
                "answerOption": option,
            },
            {
                "linkId": "why",
                "text": "Why?",
                "type": "string",
                "enableWhen": [
                    {
                        "question": "/44250-9",
                        "operator": "=",
                        "answerCoding": {"system": "http://loinc.org", "code": "LA6569-3"},
                    }
                ],
            },
        ],
    }


def test_a_questionnaire_from_elsewhere_maps_with_ordinal_codes_and_notes() -> None:
    imported = draft_from_fhir(loinc_style())
    definition = imported.definition
    assert (definition["id"], definition["version"]) == ("mood-check", "2.0.0")
    first, second = definition["items"]
    assert first["id"] == "q_44250_9" and first["type"] == "choice"
    assert definition["choice_sets"][first["choices"]] == [
        {"code": 0, "label": "Not at all"},
        {"code": 1, "label": "Several"},
    ]
    assert second["enable_when"] == {"item": "q_44250_9", "op": "==", "value": 1}
    assert any("ordinalValues" in note for note in imported.notes)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda q: q["item"][1].update(type="open-choice"), "item[1].type"),
        (lambda q: q["item"][0].update(answerValueSet="http://x/vs"), "item[0].answerValueSet"),
        (
            lambda q: q["item"][0]["answerOption"][0]["valueCoding"].pop("extension"),
            "item[0].answerOption",
        ),
        (lambda q: q["item"][1]["enableWhen"][0].update(operator="!="), "item[1].enableWhen[0]"),
        (
            lambda q: (
                q["item"][1]["enableWhen"][0].update(operator="exists", answerBoolean=False)
                or q["item"][1]["enableWhen"][0].pop("answerCoding")
            ),
            "item[1].enableWhen[0]",
        ),
        (
            lambda q: q["item"].insert(0, {"linkId": "g", "type": "group", "item": []}),
            "item[0].type",
        ),
        (lambda q: q.update(version="2"), "version"),
        (lambda q: q["item"][1].update(item=[{"linkId": "x", "type": "string"}]), "item[1].item"),
    ],
)
def test_what_cannot_be_mapped_is_refused_by_name(change: Any, where: str) -> None:
    resource = loinc_style()
    change(resource)
    with pytest.raises(ImportRefused) as refused:
        draft_from_fhir(resource)
    assert where in [path for path, _ in refused.value.faults], refused.value.faults


CONDITIONS = [
    {"item": "a", "op": ">=", "value": 1},
    {"item": "a", "op": "!=", "value": 1},
    {"any": [{"item": "a", "op": "==", "value": 0}, {"item": "a", "op": "==", "value": 2}]},
    {"all": [{"item": "n", "op": "!=", "value": 3}, {"item": "b", "op": "==", "value": True}]},
    {"any": [{"item": "m", "op": "includes", "value": 1}, {"item": "n", "op": "<", "value": 2}]},
    {"any": [{"all": [{"item": "a", "op": "<", "value": 2}]}, {"item": "b", "op": "answered"}]},
]


@pytest.mark.parametrize("condition", CONDITIONS, ids=[json.dumps(c) for c in CONDITIONS])
def test_skip_logic_means_the_same_after_a_round_trip(condition: dict[str, Any]) -> None:
    """Checked on every combination of answers, not by comparing the conditions' text."""
    definition = {
        "id": "logic",
        "version": "1.0.0",
        "kind": "questionnaire",
        "title": "Logic",
        "language": "en-GB",
        "source": "test",
        "choice_sets": {"three": [{"code": c, "label": f"c{c}"} for c in range(3)]},
        "items": [
            {"id": "a", "text": "A", "type": "choice", "choices": "three", "required": False},
            {"id": "m", "text": "M", "type": "multi_choice", "choices": "three", "required": False},
            {"id": "n", "text": "N", "type": "integer", "required": False},
            {"id": "b", "text": "B", "type": "boolean", "required": False},
            {"id": "z", "text": "Z", "type": "text", "required": False, "enable_when": condition},
        ],
    }
    original = parse_instrument(definition)
    fhir = questionnaire(original, AT, "2026-11-26T00:00:00Z")
    back = parse_instrument(draft_from_fhir(json.loads(json.dumps(fhir))).definition)
    after = back.by_id["z"].enable_when
    assert after is not None
    values = {
        "a": [None, 0, 1, 2],
        "m": [None, [], [1], [0, 2]],
        "n": [None, 1, 3],
        "b": [None, True, False],
    }
    for combo in itertools.product(*values.values()):
        answers = {k: v for k, v in zip(values, combo, strict=True) if v is not None}
        assert condition_holds(condition, answers) == condition_holds(after, answers), answers


def test_every_instrument_file_survives_the_round_trip_exactly() -> None:
    """Exactly for a version in one language; a version in several comes back in its default
    language (FHIR carries the default's texts only: docs/languages.md)."""
    several = 0
    for path in sorted(Path("instruments").glob("*/*.json")):
        definition = json.loads(path.read_text())
        fhir = questionnaire(parse_instrument(definition), AT, "2026-11-26T00:00:00Z")
        back = draft_from_fhir(json.loads(json.dumps(fhir))).definition
        if "languages" in definition:
            several += 1
            expected = render(definition, definition["languages"][0])
            del expected["translation"]
            assert back == expected, path
        else:
            assert back == definition, path
    assert several >= 5


def every_feature() -> list[dict[str, Any]]:
    """A questionnaire and a consent form that between them use every key the definition
    format has (the test below checks that they do): what the round trip must carry, exactly
    or in our extensions."""
    common = {"language": "en-GB", "source": "Made up for a test", "preamble": "Read this."}
    yes_no = [{"code": 1, "label": "Yes"}, {"code": 0, "label": "No"}]
    asked = {
        "id": "every-question",
        "version": "2.3.4",
        "kind": "questionnaire",
        "title": "Every question",
        **common,
        "choice_sets": {"yn": yes_no, "kept_for_later": yes_no},
        "items": [
            {
                "id": "q_main",
                "text": "Agreed?",
                "type": "choice",
                "choices": "yn",
                "required": True,
            },
            {"id": "q_more", "text": "More?", "type": "choice", "choices": "yn", "required": False},
            {
                "id": "q_count",
                "text": "How many?",
                "type": "integer",
                "required": False,
                "min": 0,
                "max": 9,
                "identifying": True,
                "help": "A whole number.",
                "enable_when": {
                    "any": [
                        {"all": [{"item": "q_more", "op": "==", "value": 1}]},
                        {"item": "q_main", "op": "answered"},
                    ]
                },
            },
            {
                "id": "q_note",
                "text": "Anything else?",
                "type": "text",
                "required": False,
                "max_length": 200,
            },
        ],
        "scores": [
            {
                "id": "agreed",
                "label": "Agreed",
                "method": "sum",
                "items": ["q_main", "q_more"],
                "participant_visible": False,
                "missing": {"rule": "prorate", "max_missing": 1, "source": "A manual"},
                "source": "A paper",
                "note": "A caveat",
            }
        ],
        "alerts": [
            {
                "id": "many",
                "when": {"score": "agreed", "op": ">=", "value": 1},
                "severity": "routine",
                "signposting": "Call us.",
            }
        ],
    }
    signed = {
        "id": "every-clause",
        "version": "2.0.0",
        "kind": "consent",
        "title": "Every clause",
        **common,
        "information_sheet_version": "2.0, dated 1 January 2027",
        "changes": ["A new clause.", "A clause asked only after another."],
        "reconsent": "optional",
        "choice_sets": {},
        "items": [
            {"id": "c_main", "text": "I agree.", "type": "boolean", "required": True},
            {
                "id": "c_contact",
                "text": "Contact me.",
                "type": "boolean",
                "required": False,
                "contact": True,
            },
            {
                "id": "c_follow",
                "text": "Record it.",
                "type": "boolean",
                "required": False,
                "enable_when": {"item": "c_contact", "op": "==", "value": True},
            },
        ],
        "scores": [],
        "alerts": [],
    }
    return [asked, signed]


def test_every_key_of_the_definition_format_survives_the_round_trip() -> None:
    schema = InstrumentDefinitionSchema()
    definitions = every_feature()
    items = [item for d in definitions for item in d["items"]]
    scores = [score for d in definitions for score in d["scores"]]
    # A key the format gains must be added above, and so must find its place in the mapping.
    # A version's other languages are not carried (the Questionnaire is in its default).
    assert {k for d in definitions for k in d} == set(schema.fields) - {"languages", "translations"}
    assert {k for item in items for k in item} == set(ItemSchema().fields)
    assert {k for score in scores for k in score} >= {"missing", "source", "note"}
    for definition in definitions:
        schema.load(definition)  # valid definitions, so the test is of the mapping only
        fhir = questionnaire(parse_instrument(definition), AT, "2026-11-26T00:00:00Z")
        Questionnaire.model_validate(fhir)
        assert draft_from_fhir(json.loads(json.dumps(fhir))).definition == definition
    asked, signed = (
        questionnaire(parse_instrument(d), AT, "2026-11-26T00:00:00Z") for d in definitions
    )
    # What FHIR R4 says itself goes there, not into an extension.
    follow = next(i for i in signed["item"] if i["linkId"] == "c_follow")
    assert follow["enableWhen"] == [
        {"question": "c_contact", "operator": "=", "answerBoolean": True}
    ]
    names = [e["url"].rpartition("/")[2] for e in signed["extension"]]
    assert names.count("psam-change") == 2 and names.count("psam-reconsent") == 1
    names = [e["url"].rpartition("/")[2] for e in asked["extension"]]
    assert names.count("psam-choice-set") == 1  # kept_for_later: no item carries it
    assert "psam-change" not in names and "psam-reconsent" not in names


@pytest.mark.parametrize(
    "value",
    ['{"name": "Bad Name", "choices": []}', '{"name": "yn", "choices": []}', "not json"],
)
def test_an_unusable_choice_set_extension_is_refused(value: str) -> None:
    fhir = questionnaire(parse_instrument(every_feature()[0]), AT, "2026-11-26T00:00:00Z")
    for ext in fhir["extension"]:
        if ext["url"].endswith("/psam-choice-set"):
            ext["valueString"] = value
    with pytest.raises(ImportRefused) as refused:
        draft_from_fhir(fhir)
    assert any("choice set" in path for path, _ in refused.value.faults)
