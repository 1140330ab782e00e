"""Amendment 1.1's questionnaires: every score at every band edge and with every missing-data
case, the score alerts at their thresholds, and the prorating rule the format allows."""

import copy
import json
from typing import Any

import pytest
from marshmallow import ValidationError

from schemas.instrument import InstrumentDefinitionSchema
from service.domain.instruments import DefinitionError, Instrument, Score, parse_instrument
from service.domain.scoring import compute_score, score_answers, triggered_alerts
from tests.conftest import INSTRUMENTS
from tests.unit.test_instrument_rules import BASE


def shipped(name: str, version: str = "1.1.0") -> Instrument:
    return parse_instrument(json.loads((INSTRUMENTS / name / f"{version}.json").read_text()))


def answers_totalling(inst: Instrument, score: Score, total: int) -> dict[str, int]:
    """Answers to a sum score's items that add up to ``total`` (highest codes first)."""
    answers: dict[str, int] = {}
    left = total
    for item_id in score.items:
        codes = sorted(inst.by_id[item_id].codes)
        code = max(c for c in codes if c <= left) if left >= codes[0] else codes[0]
        answers[item_id] = code
        left -= code
    assert left == 0, f"{score.id} cannot reach {total}"
    return answers


SUMS = [
    (name, score.id)
    for name in ("phq-9", "gad-7", "epds", "pcl-5")
    for score in shipped(name).scores
    if score.method == "sum"
]


@pytest.mark.parametrize(("name", "score_id"), SUMS)
def test_every_band_edge_of_every_sum_score(name: str, score_id: str) -> None:
    inst = shipped(name)
    score = next(s for s in inst.scores if s.id == score_id)
    edges = [(b.min, b.label) for b in score.bands] + [(b.max, b.label) for b in score.bands]
    if not edges:  # a cluster score: its lowest and highest values
        edges = [(0, None), (len(score.items) * 4, None)]
    for value, label in edges:
        answers = answers_totalling(inst, score, int(value))
        (result,) = [r for r in score_answers(inst, answers) if r.id == score_id]
        assert (result.value, result.band) == (value, label), (score_id, value)


@pytest.mark.parametrize(("name", "score_id"), SUMS)
def test_a_skipped_item_withholds_the_score_as_its_source_gives_no_rule(
    name: str, score_id: str
) -> None:
    inst = shipped(name)
    score = next(s for s in inst.scores if s.id == score_id)
    assert score.missing_rule == "withhold" and score.missing_source
    full = answers_totalling(inst, score, 0)
    for skipped in score.items:  # any one item left out
        partial = {k: v for k, v in full.items() if k != skipped}
        assert compute_score(score, inst.by_id, partial) is None
    assert compute_score(score, inst.by_id, {}) is None
    assert compute_score(score, inst.by_id, full) == 0


def test_the_epds_3a_subscale_is_items_3_4_5_with_its_cut_off_at_6() -> None:
    epds = shipped("epds")
    sub = next(s for s in epds.scores if s.id == "epds_3a")
    assert sub.items == ("epds_3", "epds_4", "epds_5") and not sub.participant_visible
    assert [(b.min, b.max) for b in sub.bands] == [(0, 5), (6, 9)]
    assert "Matthey" in (sub.source or "")
    five = {"epds_3": 3, "epds_4": 2, "epds_5": 0}
    six = {**five, "epds_5": 1}
    by = {r.id: r for r in score_answers(epds, six)}
    assert (by["epds_3a"].value, by["epds_3a"].band) == (6, "possible anxiety")
    assert by["epds_total"].value is None  # the total needs all ten
    assert {r.id: r for r in score_answers(epds, five)}["epds_3a"].band == "below threshold"


def test_no_epds_band_is_shown_to_participants_and_the_codebook_says_why() -> None:
    epds = shipped("epds")
    assert not any(s.participant_visible for s in epds.scores)
    assert "partners" in (epds.scores[0].note or "")
    assert "Postnatal" not in epds.title and "Postnatal" in epds.definition["source"]
    # The published wording of every item stays as it was.
    first = shipped("epds", "1.0.0")
    assert [i.text for i in epds.items] == [i.text for i in first.items]
    assert [i.choices for i in epds.items] == [i.choices for i in first.items]


def test_the_pcl5_rule_is_labelled_provisional_and_the_instruction_is_for_a_screen() -> None:
    pcl = shipped("pcl-5")
    rule = next(s for s in pcl.scores if s.method == "rule")
    assert "provisional" in rule.label.lower() and "month" in (rule.note or "")
    assert "circle" not in pcl.definition["preamble"]
    answers = {f"pcl5_{i}": 2 for i in range(1, 21)}
    assert compute_score(rule, pcl.by_id, answers) is True
    answers.pop("pcl5_20")
    assert compute_score(rule, pcl.by_id, answers) is None  # withheld, not "no"


def test_every_question_may_be_skipped_in_the_new_versions() -> None:
    for name in ("phq-9", "gad-7", "pcl-5", "epds", "peer-support", "about-you"):
        inst = shipped(name)
        assert not any(i.required for i in inst.items), name
        assert "skip any question" in inst.definition["preamble"], name
    assert not any(i.required for i in shipped("follow-up", "1.0.0").items)


def test_about_you_holds_no_contact_details_and_fits_a_partner() -> None:
    about = shipped("about-you")
    assert not any(i.identifying for i in about.items)
    assert {"ay_sex", "ay_gender_same", "ay_loss_type", "ay_living_children"} <= set(about.by_id)
    for item_id in ("ay_sex", "ay_gender_same", "ay_ethnicity", "ay_loss_type"):
        labels = [c.label for c in about.by_id[item_id].choices]
        assert "Prefer not to say" in labels, item_id
    assert "(or your partner)" not in about.by_id["ay_weeks"].text  # neutral wording


def test_peer_support_skips_helpfulness_when_there_was_none() -> None:
    peer = shipped("peer-support")
    from service.domain.instruments import enabled_items, validate_answers

    none_yet = {"ps_kinds": [0]}
    shown = {i.id for i in enabled_items(peer, none_yet)}
    assert "ps_helpfulness" not in shown and "ps_recommend" not in shown
    assert validate_answers(peer, {**none_yet, "ps_helpfulness": 3}, complete=True)
    video = {"ps_kinds": [6], "ps_helpfulness": 4, "ps_recommend": True}
    assert validate_answers(peer, video, complete=True) == {}
    other = {i.id for i in enabled_items(peer, {"ps_kinds": [8]})}
    assert "ps_kinds_other" in other


# --- alerts ----------------------------------------------------------------------------------


def phq9(total: int, item9: int = 0) -> dict[str, int]:
    inst = shipped("phq-9")
    answers = answers_totalling(inst, inst.scores[0], total - item9)
    return {**answers, "phq9_9": item9} if item9 else answers


@pytest.mark.parametrize(("total", "raised"), [(19, []), (20, ["phq9_severe"]), (27, None)])
def test_a_severe_phq9_total_raises_a_routine_alert_from_20(total: int, raised: Any) -> None:
    inst = shipped("phq-9")
    answers = phq9(total) if total < 27 else {f"phq9_{i}": 3 for i in range(1, 10)}
    found = triggered_alerts(inst, answers)
    if raised is None:  # 27 has item 9 endorsed too: both, each with its severity
        assert {(a.id, a.severity) for a in found} == {
            ("phq9_item9", "urgent"),
            ("phq9_severe", "routine"),
        }
    else:
        assert [a.id for a in found] == raised
        assert all(a.severity == "routine" and "GP" in a.signposting for a in found)


@pytest.mark.parametrize(("total", "fires"), [(12, False), (13, True)])
def test_an_epds_total_at_the_study_threshold_raises_a_routine_alert(
    total: int, fires: bool
) -> None:
    inst = shipped("epds")
    answers = answers_totalling(inst, inst.scores[0], total)
    answers["epds_10"], answers["epds_9"] = 0, answers["epds_9"] + answers["epds_10"]
    if answers["epds_9"] > 3:  # keep item 10 at 0 so only the total can fire
        answers["epds_8"] += answers["epds_9"] - 3
        answers["epds_9"] = 3
    assert sum(answers.values()) == total
    assert [a.id for a in triggered_alerts(inst, answers)] == (["epds_high"] if fires else [])


def test_a_draft_raises_item_alerts_at_once_but_no_total_alert() -> None:
    inst = shipped("phq-9")
    assert [a.id for a in triggered_alerts(inst, {"phq9_9": 1}, draft=True)] == ["phq9_item9"]
    severe = phq9(24)
    assert triggered_alerts(inst, severe, draft=True) == []
    assert [a.id for a in triggered_alerts(inst, severe)] == ["phq9_severe"]
    # An unanswered item 9 or a withheld total raises nothing.
    assert triggered_alerts(inst, {}, draft=False) == []
    partial = {k: v for k, v in severe.items() if k != "phq9_1"}
    assert triggered_alerts(inst, partial) == []


# --- the format: prorating, score conditions -------------------------------------------------

PRORATED: dict[str, Any] = {
    **{k: BASE[k] for k in ("id", "version", "kind", "title", "language", "source")},
    "choice_sets": {"f4": [{"code": c, "label": str(c)} for c in range(4)]},
    "items": [
        {"id": f"q{i}", "text": f"Q{i}", "type": "choice", "choices": "f4", "required": False}
        for i in range(1, 5)
    ],
    "scores": [
        {
            "id": "total",
            "label": "Total",
            "method": "sum",
            "items": ["q1", "q2", "q3", "q4"],
            "participant_visible": False,
            "missing": {"rule": "prorate", "max_missing": 1, "source": "a source that allows it"},
        }
    ],
    "alerts": [
        {
            "id": "high",
            "when": {"score": "total", "op": ">=", "value": 10},
            "severity": "routine",
            "signposting": "Help.",
        }
    ],
}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"q1": 3, "q2": 3, "q3": 3, "q4": 3}, 12),
        ({"q1": 3, "q2": 3, "q3": 3}, 12),  # 9 * 4 / 3
        ({"q1": 1, "q2": 1, "q3": 0}, 3),  # 2 * 4 / 3 = 2.67
        ({"q1": 1, "q2": 0, "q3": 0}, 1),  # 1.33
        ({"q1": 2, "q2": 1, "q3": 0}, 4),  # 4.0
        ({"q1": 3, "q2": 3}, None),  # two missing: more than the rule allows
        ({}, None),
    ],
)
def test_prorating_where_a_source_allows_it(answers: dict[str, int], expected: Any) -> None:
    InstrumentDefinitionSchema().load(PRORATED)
    inst = parse_instrument(PRORATED)
    assert compute_score(inst.scores[0], inst.by_id, answers) == expected


def test_prorating_rounds_half_up() -> None:
    data = copy.deepcopy(PRORATED)
    data["items"] = data["items"][:2] + [
        {"id": f"r{i}", "text": "R", "type": "choice", "choices": "f4", "required": False}
        for i in range(3)
    ]
    score = data["scores"][0]
    score["items"] = ["q1", "q2", "r0", "r1", "r2"]
    inst = parse_instrument(data)
    # 5 items, one skipped: (1 + 0 + 0 + 0) * 5 / 4 = 1.25 -> 1; (2+0+0+0)*5/4 = 2.5 -> 3
    assert compute_score(inst.scores[0], inst.by_id, {"q1": 1, "q2": 0, "r0": 0, "r1": 0}) == 1
    assert compute_score(inst.scores[0], inst.by_id, {"q1": 2, "q2": 0, "r0": 0, "r1": 0}) == 3


def test_a_score_alert_follows_the_prorated_score() -> None:
    inst = parse_instrument(PRORATED)
    assert [a.id for a in triggered_alerts(inst, {"q1": 3, "q2": 3, "q3": 2})] == ["high"]
    assert triggered_alerts(inst, {"q1": 3, "q2": 3, "q3": 1}) == []  # 7 * 4 / 3 = 9.33


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            lambda d: d["scores"][0].update(method="count", count_when={"op": ">", "value": 0}),
            "missing",
        ),
        (lambda d: d["scores"][0].update(reverse=["q1"]), "missing"),
        (lambda d: d["scores"][0]["missing"].update(max_missing=4), "missing"),
        (lambda d: d["alerts"][0]["when"].update(score="nope"), "score"),
        (lambda d: d["alerts"][0].update(when={"score": "total", "op": "answered"}), "op"),
        (
            lambda d: d["items"][1].update(enable_when={"score": "total", "op": ">", "value": 1}),
            "score",
        ),
    ],
)
def test_the_format_refuses_a_rule_that_means_nothing(change: Any, fault: str) -> None:
    data = copy.deepcopy(PRORATED)
    change(data)
    with pytest.raises(DefinitionError) as raised:
        parse_instrument(data)
    assert any(fault in path for path, _ in raised.value.faults), raised.value.faults


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["scores"][0]["missing"].pop("max_missing"), "max_missing"),
        (
            lambda d: d["scores"][0].update(
                missing={"rule": "withhold", "max_missing": 1, "source": "x"}
            ),
            "max_missing",
        ),
        (lambda d: d["scores"][0].update(missing={"rule": "guess", "source": "x"}), "rule"),
        (lambda d: d["scores"][0]["missing"].pop("source"), "source"),
        (lambda d: d["alerts"][0]["when"].update(item="q1"), "when"),
        (lambda d: d.update(changes=["new"]), "changes"),
        (lambda d: d.update(reconsent="required"), "reconsent"),
    ],
)
def test_the_schema_refuses_a_malformed_rule(change: Any, field: str) -> None:
    data = copy.deepcopy(PRORATED)
    change(data)
    with pytest.raises(ValidationError) as raised:
        InstrumentDefinitionSchema().load(data)
    assert field in json.dumps(raised.value.messages), raised.value.messages
