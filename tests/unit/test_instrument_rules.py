"""Definition checks, skip logic and answer validation on small made-up instruments."""

import copy
from typing import Any

import pytest

from service.domain.instruments import DefinitionError, parse_instrument, validate_answers
from service.domain.scoring import score_answers

BASE: dict[str, Any] = {
    "id": "demo",
    "version": "1.0.0",
    "kind": "questionnaire",
    "title": "Demo",
    "language": "en-GB",
    "source": "test",
    "choice_sets": {
        "f3": [
            {"code": 0, "label": "No"},
            {"code": 1, "label": "Some"},
            {"code": 2, "label": "Lots"},
        ],
        "many": [{"code": 1, "label": "A"}, {"code": 2, "label": "B"}],
    },
    "items": [
        {"id": "q1", "text": "Q1", "type": "choice", "choices": "f3", "required": True},
        {"id": "q2", "text": "Q2", "type": "choice", "choices": "f3", "required": True},
        {
            "id": "q3",
            "text": "Why?",
            "type": "text",
            "required": True,
            "max_length": 5,
            "enable_when": {"item": "q1", "op": ">", "value": 0},
        },
        {"id": "n", "text": "N", "type": "integer", "required": False, "min": 0, "max": 10},
        {"id": "d", "text": "D", "type": "decimal", "required": False, "min": 0.5, "max": 2.5},
        {"id": "when", "text": "When", "type": "date", "required": False},
        {"id": "yes", "text": "Yes?", "type": "boolean", "required": False},
        {"id": "m", "text": "M", "type": "multi_choice", "choices": "many", "required": False},
        {
            "id": "mb",
            "text": "MB",
            "type": "text",
            "required": False,
            "enable_when": {
                "any": [
                    {"item": "m", "op": "includes", "value": 2},
                    {
                        "all": [
                            {"item": "yes", "op": "==", "value": True},
                            {"item": "n", "op": "answered"},
                        ]
                    },
                ]
            },
        },
    ],
    "scores": [
        {
            "id": "total",
            "label": "Total",
            "method": "sum",
            "items": ["q1", "q2"],
            "reverse": ["q2"],
            "participant_visible": True,
            "bands": [{"min": 0, "max": 1, "label": "low"}, {"min": 2, "max": 4, "label": "high"}],
        },
        {
            "id": "avg",
            "label": "Mean",
            "method": "mean",
            "items": ["q1", "q2", "n"],
            "participant_visible": False,
        },
        {
            "id": "many_high",
            "label": "High",
            "method": "count",
            "items": ["q1", "q2"],
            "count_when": {"op": ">=", "value": 2},
            "participant_visible": False,
        },
    ],
    "alerts": [
        {
            "id": "a1",
            "when": {"item": "q2", "op": "==", "value": 2},
            "severity": "routine",
            "signposting": "Talk to someone.",
        }
    ],
}


def demo(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def faults_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as info:
        parse_instrument(data)
    return info.value.faults


def test_the_demo_definition_is_accepted_and_hashed() -> None:
    inst = parse_instrument(demo())
    assert len(inst.sha256) == 64
    assert parse_instrument(demo(title="Other")).sha256 != inst.sha256


def test_a_duplicate_item_id_is_named_by_its_path() -> None:
    data = demo()
    data["items"][1]["id"] = "q1"
    assert ("$.items[1].id", "duplicate item id 'q1'") in faults_of(data)


def test_a_condition_may_not_look_forward() -> None:
    data = demo()
    data["items"][0]["enable_when"] = {"item": "q2", "op": "==", "value": 1}
    assert [p for p, _ in faults_of(data)] == ["$.items[0].enable_when.item"]


def test_an_unknown_choice_set_and_a_condition_code_outside_it_are_faults() -> None:
    data = demo()
    data["items"][1]["choices"] = "nope"
    data["items"][2]["enable_when"] = {"item": "q1", "op": "==", "value": 7}
    paths = [p for p, _ in faults_of(data)]
    assert "$.items[1].choices" in paths
    assert "$.items[2].enable_when.value" in paths


def test_bands_with_a_gap_or_short_of_the_range_are_faults() -> None:
    data = demo()
    data["scores"][0]["bands"] = [
        {"min": 0, "max": 1, "label": "a"},
        {"min": 3, "max": 4, "label": "b"},
    ]
    assert ("$.scores[0].bands[1].min", "leaves a gap after the band before it") in faults_of(data)
    data["scores"][0]["bands"] = [{"min": 0, "max": 3, "label": "a"}]
    assert ("$.scores[0].bands", "bands must cover 0..4") in faults_of(data)


def test_a_score_over_a_text_item_is_a_fault() -> None:
    data = demo()
    data["scores"][0]["items"] = ["q1", "q3"]
    data["scores"][0]["reverse"] = []
    data["scores"][0]["bands"] = []
    assert ("$.scores[0].items", "'q3' is a text item: not scorable") in faults_of(data)


def test_a_consent_form_only_has_boolean_clauses() -> None:
    data = demo(kind="consent", scores=[], alerts=[], information_sheet_version="1")
    assert ("$.items[0].type", "a consent clause must be boolean") in faults_of(data)


def test_every_fault_in_the_answers_is_reported_at_once_keyed_by_item() -> None:
    inst = parse_instrument(demo())
    errors = validate_answers(
        inst,
        {"q1": 5, "n": 11, "d": 0.1, "when": "2026-02-30", "yes": "true", "m": [1, 1], "x": 1},
        complete=True,
    )
    assert set(errors) == {"q1", "q2", "n", "d", "when", "yes", "m", "x"}
    assert errors["q2"] == ["an answer is required"]
    assert errors["x"] == ["unknown item"]
    assert errors["n"] == ["must be at most 10"]


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("q1", True),
        ("q1", 1.0),
        ("q1", "1"),
        ("n", 2.5),
        ("n", True),
        ("d", float("nan")),
        ("when", "25/11/2026"),
        ("n", 10**400),
        ("m", 1),
        ("m", [3]),
        ("q3", None),
    ],
)
def test_values_of_the_wrong_kind_are_refused(item: str, value: Any) -> None:
    inst = parse_instrument(demo())
    answers = {"q1": 1, "q2": 0, "q3": "ok", item: value}
    assert item in validate_answers(inst, answers, complete=True)


def test_a_hidden_item_must_be_left_out_and_a_shown_required_item_given() -> None:
    inst = parse_instrument(demo())
    assert validate_answers(inst, {"q1": 0, "q2": 0}, complete=True) == {}
    hidden = validate_answers(inst, {"q1": 0, "q2": 0, "q3": "no"}, complete=True)
    assert hidden["q3"][0].startswith("this item is not shown")
    assert validate_answers(inst, {"q1": 1, "q2": 0}, complete=True) == {
        "q3": ["an answer is required"]
    }


def test_nested_any_and_all_conditions_decide_visibility() -> None:
    inst = parse_instrument(demo())
    base = {"q1": 0, "q2": 0}
    assert "mb" in validate_answers(inst, {**base, "mb": "x"}, complete=True)
    assert validate_answers(inst, {**base, "m": [2], "mb": "x"}, complete=True) == {}
    assert validate_answers(inst, {**base, "yes": True, "n": 0, "mb": "x"}, complete=True) == {}
    assert "mb" in validate_answers(inst, {**base, "yes": True, "mb": "x"}, complete=True)


def test_a_partial_set_may_leave_out_required_items_but_not_carry_bad_values() -> None:
    inst = parse_instrument(demo())
    assert validate_answers(inst, {"q1": 2}, complete=False) == {}
    assert set(validate_answers(inst, {"q1": 9}, complete=False)) == {"q1"}


def test_sum_with_a_reversed_item_mean_and_count() -> None:
    inst = parse_instrument(demo())
    scores = {s.id: s for s in score_answers(inst, {"q1": 2, "q2": 0, "q3": "x", "n": 7})}
    assert (scores["total"].value, scores["total"].band) == (4, "high")
    assert scores["avg"].value == pytest.approx(3.0)
    assert scores["many_high"].value == 1


def test_a_sum_missing_an_item_is_no_score_rather_than_an_understated_one() -> None:
    inst = parse_instrument(demo())
    scores = {s.id: s for s in score_answers(inst, {"q1": 2})}
    assert scores["total"].value is None and scores["total"].band is None
    assert scores["avg"].value == 2
