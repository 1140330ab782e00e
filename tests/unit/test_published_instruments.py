"""The published instrument definitions, checked at the edges of their scoring rules.

Each definition in ``instruments/`` is loaded as the service loads it, then fed answer sets
built here so that totals land exactly on band edges, alert thresholds and the DSM-5 rule's
minimum. The expected values are the published ones (PHQ-9, GAD-7, PCL-5, EPDS manuals),
written out here rather than read back from the definitions under test.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pytest

from service.config import PROJECT_ROOT
from service.domain.instruments import Instrument, enabled_items, validate_answers
from service.domain.scoring import ScoreResult, score_answers, triggered_alerts
from service.services.definitions import load_instrument_file

INSTRUMENTS = PROJECT_ROOT / "instruments"

PHQ9_ITEMS = [f"phq9_{n}" for n in range(1, 10)]
GAD7_ITEMS = [f"gad7_{n}" for n in range(1, 8)]
PCL5_ITEMS = [f"pcl5_{n}" for n in range(1, 21)]
EPDS_ITEMS = [f"epds_{n}" for n in range(1, 11)]

PCL5_CLUSTERS = {
    "pcl5_b": range(1, 6),
    "pcl5_c": range(6, 8),
    "pcl5_d": range(8, 15),
    "pcl5_e": range(15, 21),
}
# The fewest items of each cluster, rated 2 or more, that meet the DSM-5 rule.
PCL5_DSM5_MINIMUM = {"pcl5_b": 1, "pcl5_c": 1, "pcl5_d": 2, "pcl5_e": 2}

CONSENT_REQUIRED = {"c_information_sheet", "c_voluntary", "c_audit", "c_take_part"}
CONSENT_OPTIONAL = {"c_contact_interview", "c_audio_recording", "c_future_research"}


# --- helpers ----------------------------------------------------------------------------------


@functools.cache
def instrument(instrument_id: str) -> Instrument:
    return load_instrument_file(INSTRUMENTS / instrument_id / "1.0.0.json")


def spread(item_ids: Sequence[str], total: int, top: int) -> dict[str, int]:
    """Answers to ``item_ids`` summing to ``total``, as even as possible, none above ``top``."""
    if not 0 <= total <= top * len(item_ids):
        raise ValueError(f"{total} cannot be made from {len(item_ids)} items of 0..{top}")
    base, extra = divmod(total, len(item_ids))
    answers = {item_id: base + (1 if i < extra else 0) for i, item_id in enumerate(item_ids)}
    assert sum(answers.values()) == total
    assert all(0 <= v <= top for v in answers.values())
    return answers


def scores(inst: Instrument, answers: dict[str, Any]) -> dict[str, ScoreResult]:
    return {result.id: result for result in score_answers(inst, answers)}


def alert_ids(inst: Instrument, answers: dict[str, Any]) -> list[str]:
    return [alert.id for alert in triggered_alerts(inst, answers)]


def enabled_ids(inst: Instrument, answers: dict[str, Any]) -> set[str]:
    return {item.id for item in enabled_items(inst, answers)}


def assert_complete_and_valid(inst: Instrument, answers: dict[str, Any]) -> None:
    assert validate_answers(inst, answers, complete=True) == {}


def pcl5_items(cluster: str) -> list[str]:
    return [f"pcl5_{n}" for n in PCL5_CLUSTERS[cluster]]


def pcl5_minimal_diagnosis(rating: int = 2) -> dict[str, int]:
    """Exactly the DSM-5 minimum endorsed at ``rating``; every other item 0."""
    answers = dict.fromkeys(PCL5_ITEMS, 0)
    for cluster, needed in PCL5_DSM5_MINIMUM.items():
        for item_id in pcl5_items(cluster)[:needed]:
            answers[item_id] = rating
    return answers


def about_you_answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "ay_role": 1,
        "ay_age_band": 3,
        "ay_months_since": 2,
        "ay_previous_losses": 0,
        "ay_ethnicity": 1,
    }
    answers.update(overrides)
    return answers


def peer_support_answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "ps_kinds": [2],
        "ps_contacts": 4,
        "ps_helpfulness": 3,
        "ps_recommend": True,
    }
    answers.update(overrides)
    return answers


# --- every definition --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument_id", "kind"),
    [
        ("phq-9", "questionnaire"),
        ("gad-7", "questionnaire"),
        ("pcl-5", "questionnaire"),
        ("epds", "questionnaire"),
        ("peer-support", "questionnaire"),
        ("about-you", "questionnaire"),
        ("consent", "consent"),
    ],
)
def test_each_published_definition_loads_as_version_1_0_0_of_its_kind(
    instrument_id: str, kind: str
) -> None:
    inst = instrument(instrument_id)
    assert (inst.id, inst.version, inst.kind) == (instrument_id, "1.0.0", kind)


# --- PHQ-9 -------------------------------------------------------------------------------------


def test_phq9_has_nine_scored_items_and_an_optional_difficulty_item() -> None:
    inst = instrument("phq-9")
    assert [item.id for item in inst.items] == [*PHQ9_ITEMS, "phq9_10"]
    total = next(s for s in inst.scores if s.id == "phq9_total")
    assert list(total.items) == PHQ9_ITEMS
    assert all(inst.by_id[i].required for i in PHQ9_ITEMS)
    assert not inst.by_id["phq9_10"].required


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_total_falls_in_the_published_band(total: int, band: str) -> None:
    inst = instrument("phq-9")
    answers = spread(PHQ9_ITEMS, total, 3)
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)["phq9_total"]
    assert (result.value, result.band) == (total, band)
    assert result.participant_visible


def test_phq9_total_of_10_is_moderate() -> None:
    answers = dict(zip(PHQ9_ITEMS, [2, 2, 1, 1, 1, 1, 1, 1, 0], strict=True))
    result = scores(instrument("phq-9"), answers)["phq9_total"]
    assert (result.value, result.band) == (10, "moderate")


def test_phq9_difficulty_item_is_not_counted_in_the_total() -> None:
    inst = instrument("phq-9")
    answers = {**spread(PHQ9_ITEMS, 4, 3), "phq9_10": 3}
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)["phq9_total"]
    assert (result.value, result.band) == (4, "minimal")


def test_phq9_difficulty_item_is_refused_when_every_item_is_0() -> None:
    inst = instrument("phq-9")
    answers = {**dict.fromkeys(PHQ9_ITEMS, 0), "phq9_10": 0}
    assert "phq9_10" not in enabled_ids(inst, answers)
    errors = validate_answers(inst, answers, complete=True)
    assert list(errors) == ["phq9_10"]
    assert "not shown" in errors["phq9_10"][0]


@pytest.mark.parametrize("raised", PHQ9_ITEMS)
def test_phq9_difficulty_item_is_accepted_when_any_one_item_is_1(raised: str) -> None:
    inst = instrument("phq-9")
    answers = {**dict.fromkeys(PHQ9_ITEMS, 0), raised: 1, "phq9_10": 2}
    assert "phq9_10" in enabled_ids(inst, answers)
    assert_complete_and_valid(inst, answers)


def test_phq9_difficulty_item_is_not_required_when_shown() -> None:
    inst = instrument("phq-9")
    answers = {**dict.fromkeys(PHQ9_ITEMS, 0), "phq9_4": 1}
    assert "phq9_10" in enabled_ids(inst, answers)
    assert_complete_and_valid(inst, answers)


@pytest.mark.parametrize("item9", [1, 3])
def test_phq9_item9_alert_fires_when_item9_is_at_least_1(item9: int) -> None:
    inst = instrument("phq-9")
    answers = {**dict.fromkeys(PHQ9_ITEMS, 0), "phq9_9": item9}
    alerts = triggered_alerts(inst, answers)
    assert [a.id for a in alerts] == ["phq9_item9"]
    assert alerts[0].severity == "urgent"
    assert "116 123" in alerts[0].signposting


def test_phq9_item9_alert_does_not_fire_when_item9_is_0_even_with_a_high_total() -> None:
    inst = instrument("phq-9")
    answers = {**spread(PHQ9_ITEMS[:8], 24, 3), "phq9_9": 0}
    result = scores(inst, answers)["phq9_total"]
    assert (result.value, result.band) == (24, "severe")
    assert alert_ids(inst, answers) == []


# --- GAD-7 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_total_falls_in_the_published_band(total: int, band: str) -> None:
    inst = instrument("gad-7")
    answers = spread(GAD7_ITEMS, total, 3)
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)["gad7_total"]
    assert (result.value, result.band) == (total, band)


def test_gad7_total_cannot_exceed_21() -> None:
    inst = instrument("gad-7")
    total = next(s for s in inst.scores if s.id == "gad7_total")
    assert list(total.items) == GAD7_ITEMS
    assert (total.bands[0].min, total.bands[-1].max) == (0, 21)


def test_gad7_difficulty_item_is_refused_when_every_item_is_0() -> None:
    inst = instrument("gad-7")
    answers = {**dict.fromkeys(GAD7_ITEMS, 0), "gad7_8": 1}
    assert "gad7_8" not in enabled_ids(inst, answers)
    assert list(validate_answers(inst, answers, complete=True)) == ["gad7_8"]


@pytest.mark.parametrize("raised", GAD7_ITEMS)
def test_gad7_difficulty_item_is_shown_and_optional_when_any_one_item_is_above_0(
    raised: str,
) -> None:
    inst = instrument("gad-7")
    answers = {**dict.fromkeys(GAD7_ITEMS, 0), raised: 1}
    assert "gad7_8" in enabled_ids(inst, answers)
    assert_complete_and_valid(inst, answers)
    assert_complete_and_valid(inst, {**answers, "gad7_8": 3})


def test_gad7_raises_no_alerts_even_at_the_maximum_score() -> None:
    inst = instrument("gad-7")
    answers = {**dict.fromkeys(GAD7_ITEMS, 3), "gad7_8": 3}
    assert_complete_and_valid(inst, answers)
    assert inst.alerts == ()
    assert alert_ids(inst, answers) == []


# --- PCL-5 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "below threshold"),
        (32, "below threshold"),
        (33, "probable PTSD"),
        (80, "probable PTSD"),
    ],
)
def test_pcl5_total_falls_on_the_published_side_of_the_33_cut_off(total: int, band: str) -> None:
    inst = instrument("pcl-5")
    answers = spread(PCL5_ITEMS, total, 4)
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)["pcl5_total"]
    assert (result.value, result.band) == (total, band)


def test_pcl5_scores_are_not_shown_to_participants() -> None:
    results = score_answers(instrument("pcl-5"), dict.fromkeys(PCL5_ITEMS, 0))
    assert len(results) == 6
    assert not any(result.participant_visible for result in results)


@pytest.mark.parametrize("cluster", sorted(PCL5_CLUSTERS))
def test_pcl5_cluster_severity_is_the_sum_of_its_published_items(cluster: str) -> None:
    inst = instrument("pcl-5")
    # A different rating for neighbouring items, so a cluster one item too wide or too
    # narrow gives a different sum.
    answers = {f"pcl5_{n}": (n * 3) % 5 for n in range(1, 21)}
    expected = sum(answers[item_id] for item_id in pcl5_items(cluster))
    result = scores(inst, answers)
    assert result[cluster].value == expected
    assert sum(result[c].value for c in PCL5_CLUSTERS) == result["pcl5_total"].value  # type: ignore[misc]


@pytest.mark.parametrize("cluster", sorted(PCL5_CLUSTERS))
def test_pcl5_cluster_severity_counts_only_its_own_items(cluster: str) -> None:
    inst = instrument("pcl-5")
    answers = dict.fromkeys(PCL5_ITEMS, 0)
    answers.update(dict.fromkeys(pcl5_items(cluster), 4))
    result = scores(inst, answers)
    assert result[cluster].value == 4 * len(PCL5_CLUSTERS[cluster])
    assert [c for c in PCL5_CLUSTERS if result[c].value] == [cluster]


def test_pcl5_dsm5_rule_is_met_by_exactly_1_b_1_c_2_d_and_2_e_items_rated_2() -> None:
    inst = instrument("pcl-5")
    answers = pcl5_minimal_diagnosis()
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)
    assert result["pcl5_dsm5"].value is True
    assert result["pcl5_dsm5"].band is None
    assert (result["pcl5_total"].value, result["pcl5_total"].band) == (12, "below threshold")


@pytest.mark.parametrize("lowered_to", [0, 1])
@pytest.mark.parametrize("cluster", sorted(PCL5_CLUSTERS))
def test_pcl5_dsm5_rule_is_not_met_when_one_cluster_is_one_item_short(
    cluster: str, lowered_to: int
) -> None:
    inst = instrument("pcl-5")
    answers = pcl5_minimal_diagnosis()
    last_endorsed = pcl5_items(cluster)[PCL5_DSM5_MINIMUM[cluster] - 1]
    answers[last_endorsed] = lowered_to
    assert scores(inst, answers)["pcl5_dsm5"].value is False


def test_pcl5_items_rated_1_are_not_endorsed_for_the_dsm5_rule() -> None:
    inst = instrument("pcl-5")
    answers = dict.fromkeys(PCL5_ITEMS, 1)
    result = scores(inst, answers)
    assert (result["pcl5_total"].value, result["pcl5_total"].band) == (20, "below threshold")
    assert result["pcl5_dsm5"].value is False


@pytest.mark.parametrize(("rating", "met"), [(1, False), (2, True), (3, True), (4, True)])
def test_pcl5_dsm5_rule_counts_an_item_as_endorsed_from_a_rating_of_2(
    rating: int, met: bool
) -> None:
    inst = instrument("pcl-5")
    assert scores(inst, pcl5_minimal_diagnosis(rating))["pcl5_dsm5"].value is met


def test_pcl5_scores_are_withheld_while_an_item_is_unanswered() -> None:
    inst = instrument("pcl-5")
    answers = pcl5_minimal_diagnosis()
    del answers["pcl5_20"]
    result = scores(inst, answers)
    assert result["pcl5_total"].value is None
    assert result["pcl5_e"].value is None
    assert result["pcl5_dsm5"].value is None
    assert result["pcl5_b"].value == 2


# --- EPDS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "below threshold"),
        (12, "below threshold"),
        (13, "probable depression"),
        (30, "probable depression"),
    ],
)
def test_epds_total_falls_on_the_published_side_of_the_13_cut_off(total: int, band: str) -> None:
    inst = instrument("epds")
    answers = spread(EPDS_ITEMS, total, 3)
    assert_complete_and_valid(inst, answers)
    result = scores(inst, answers)["epds_total"]
    assert (result.value, result.band) == (total, band)


@pytest.mark.parametrize(
    ("number", "codes"),
    [
        (1, (0, 1, 2, 3)),
        (2, (0, 1, 2, 3)),
        (3, (3, 2, 1, 0)),
        (4, (0, 1, 2, 3)),
        (5, (3, 2, 1, 0)),
        (6, (3, 2, 1, 0)),
        (7, (3, 2, 1, 0)),
        (8, (3, 2, 1, 0)),
        (9, (3, 2, 1, 0)),
        (10, (3, 2, 1, 0)),
    ],
)
def test_epds_item_options_carry_the_published_codes_top_to_bottom(
    number: int, codes: tuple[int, ...]
) -> None:
    item = instrument("epds").by_id[f"epds_{number}"]
    assert tuple(choice.code for choice in item.choices) == codes


def test_epds_total_adds_the_codes_as_given_without_reversing_any_item() -> None:
    inst = instrument("epds")
    total = next(s for s in inst.scores if s.id == "epds_total")
    assert total.reverse == frozenset()
    # Every item answered with its top option: 0 for items 1, 2 and 4, 3 for the rest.
    answers = {item_id: inst.by_id[item_id].choices[0].code for item_id in EPDS_ITEMS}
    result = scores(inst, answers)["epds_total"]
    assert (result.value, result.band) == (21, "probable depression")


@pytest.mark.parametrize("item10", [1, 2, 3])
def test_epds_item10_alert_fires_when_item10_is_above_0(item10: int) -> None:
    inst = instrument("epds")
    answers = {**dict.fromkeys(EPDS_ITEMS, 0), "epds_10": item10}
    alerts = triggered_alerts(inst, answers)
    assert [a.id for a in alerts] == ["epds_item10"]
    assert alerts[0].severity == "urgent"


def test_epds_item10_alert_does_not_fire_when_item10_is_0_even_with_a_high_total() -> None:
    inst = instrument("epds")
    answers = {**dict.fromkeys(EPDS_ITEMS[:9], 3), "epds_10": 0}
    assert scores(inst, answers)["epds_total"].value == 27
    assert alert_ids(inst, answers) == []


# --- answer validation -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [4, -1, True, False, "2", 2.0, None, [2]])
def test_a_phq9_item_refuses_a_value_that_is_not_one_of_its_codes(value: Any) -> None:
    inst = instrument("phq-9")
    answers = {**dict.fromkeys(PHQ9_ITEMS, 0), "phq9_5": value}
    errors = validate_answers(inst, answers, complete=True)
    assert list(errors) == ["phq9_5"]
    assert len(errors["phq9_5"]) == 1


def test_every_fault_in_an_answer_set_is_reported_at_once_keyed_by_item_id() -> None:
    inst = instrument("phq-9")
    answers: dict[str, Any] = dict.fromkeys(PHQ9_ITEMS, 0)
    answers.update({"phq9_1": 4, "phq9_2": True, "phq9_3": "2", "phq9_99": 1})
    del answers["phq9_4"]
    errors = validate_answers(inst, answers, complete=True)
    assert set(errors) == {"phq9_1", "phq9_2", "phq9_3", "phq9_4", "phq9_99"}
    assert all(len(messages) == 1 for messages in errors.values())
    assert errors["phq9_1"] == ["must be one of the codes [0, 1, 2, 3]"]
    assert errors["phq9_4"] == ["an answer is required"]
    assert errors["phq9_99"] == ["unknown item"]


def test_a_partial_answer_set_is_accepted_when_not_complete() -> None:
    inst = instrument("phq-9")
    answers = {"phq9_1": 2, "phq9_9": 0}
    assert validate_answers(inst, answers, complete=False) == {}
    assert validate_answers(inst, {}, complete=False) == {}


def test_a_partial_answer_set_is_refused_item_by_item_when_complete() -> None:
    inst = instrument("phq-9")
    answers = {"phq9_1": 2, "phq9_9": 0}
    errors = validate_answers(inst, answers, complete=True)
    assert set(errors) == set(PHQ9_ITEMS) - {"phq9_1", "phq9_9"}


def test_a_partial_answer_set_still_has_each_given_answer_checked() -> None:
    inst = instrument("phq-9")
    errors = validate_answers(inst, {"phq9_1": 4, "phq9_2": 1, "phq9_x": 0}, complete=False)
    assert set(errors) == {"phq9_1", "phq9_x"}


# --- about-you ---------------------------------------------------------------------------------


def test_about_you_role_other_is_accepted_when_role_is_other() -> None:
    inst = instrument("about-you")
    assert_complete_and_valid(inst, about_you_answers(ay_role=3, ay_role_other="Grandmother"))


def test_about_you_role_other_is_optional_when_role_is_other() -> None:
    inst = instrument("about-you")
    answers = about_you_answers(ay_role=3)
    assert "ay_role_other" in enabled_ids(inst, answers)
    assert_complete_and_valid(inst, answers)


@pytest.mark.parametrize("role", [1, 2])
def test_about_you_role_other_is_refused_unless_role_is_other(role: int) -> None:
    inst = instrument("about-you")
    answers = about_you_answers(ay_role=role, ay_role_other="Grandmother")
    assert "ay_role_other" not in enabled_ids(inst, answers)
    assert list(validate_answers(inst, answers, complete=True)) == ["ay_role_other"]


def test_about_you_role_other_is_refused_when_role_is_unanswered() -> None:
    inst = instrument("about-you")
    errors = validate_answers(inst, {"ay_role_other": "Grandmother"}, complete=False)
    assert list(errors) == ["ay_role_other"]


def test_about_you_identifying_items_are_exactly_the_three_contact_items() -> None:
    inst = instrument("about-you")
    identifying = {item.id for item in inst.items if item.identifying}
    assert identifying == {"ay_contact_name", "ay_contact_email", "ay_contact_phone"}
    assert not any(inst.by_id[i].required for i in identifying)


@pytest.mark.parametrize(("weeks", "accepted"), [(0, False), (1, True), (23, True), (24, False)])
def test_about_you_weeks_are_accepted_only_from_1_to_23(weeks: int, accepted: bool) -> None:
    inst = instrument("about-you")
    errors = validate_answers(inst, about_you_answers(ay_weeks=weeks), complete=True)
    assert (errors == {}) is accepted
    if not accepted:
        assert list(errors) == ["ay_weeks"]


@pytest.mark.parametrize("weeks", [12.5, "12", True])
def test_about_you_weeks_must_be_a_whole_number(weeks: Any) -> None:
    inst = instrument("about-you")
    errors = validate_answers(inst, about_you_answers(ay_weeks=weeks), complete=True)
    assert errors == {"ay_weeks": ["must be a whole number"]}


def test_about_you_weeks_may_be_left_out() -> None:
    inst = instrument("about-you")
    assert not inst.by_id["ay_weeks"].required
    assert_complete_and_valid(inst, about_you_answers())


# --- peer-support ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "accepted"),
    [
        ([1, 3], True),
        ([5], True),
        ([1, 2, 3, 4, 5], True),
        ([], False),
        ([1, 1], False),
        ([9], False),
        ([1, 9], False),
        ([True], False),
        (1, False),
    ],
)
def test_peer_support_kinds_accepts_only_a_non_empty_list_of_distinct_known_codes(
    kinds: Any, accepted: bool
) -> None:
    inst = instrument("peer-support")
    errors = validate_answers(inst, peer_support_answers(ps_kinds=kinds), complete=True)
    assert (errors == {}) is accepted
    if not accepted:
        assert list(errors) == ["ps_kinds"]


def test_peer_support_kinds_is_required() -> None:
    inst = instrument("peer-support")
    answers = peer_support_answers()
    del answers["ps_kinds"]
    assert validate_answers(inst, answers, complete=True) == {"ps_kinds": ["an answer is required"]}


@pytest.mark.parametrize(
    ("helpfulness", "accepted"),
    [(0, False), (1, True), (2, True), (3, True), (4, True), (5, True), (6, False)],
)
def test_peer_support_helpfulness_is_rated_from_1_to_5(helpfulness: int, accepted: bool) -> None:
    inst = instrument("peer-support")
    errors = validate_answers(inst, peer_support_answers(ps_helpfulness=helpfulness), complete=True)
    assert (errors == {}) is accepted
    assert tuple(c.code for c in inst.by_id["ps_helpfulness"].choices) == (1, 2, 3, 4, 5)


# --- consent -----------------------------------------------------------------------------------


def test_consent_clauses_are_all_boolean() -> None:
    inst = instrument("consent")
    assert len(inst.items) == 7
    assert {item.type for item in inst.items} == {"boolean"}
    assert inst.scores == ()
    assert inst.alerts == ()


def test_consent_required_and_optional_clauses_are_the_published_ones() -> None:
    inst = instrument("consent")
    assert {item.id for item in inst.items if item.required} == CONSENT_REQUIRED
    assert {item.id for item in inst.items if not item.required} == CONSENT_OPTIONAL


def test_consent_is_complete_with_only_the_required_clauses_answered() -> None:
    inst = instrument("consent")
    assert_complete_and_valid(inst, dict.fromkeys(CONSENT_REQUIRED, True))


@pytest.mark.parametrize("clause", sorted(CONSENT_REQUIRED))
def test_consent_is_incomplete_without_each_required_clause(clause: str) -> None:
    inst = instrument("consent")
    answers = dict.fromkeys(CONSENT_REQUIRED - {clause}, True)
    assert validate_answers(inst, answers, complete=True) == {clause: ["an answer is required"]}


@pytest.mark.parametrize("value", [1, "yes", 0])
def test_consent_clause_refuses_a_value_that_is_not_true_or_false(value: Any) -> None:
    inst = instrument("consent")
    answers: dict[str, Any] = {**dict.fromkeys(CONSENT_REQUIRED, True), "c_audit": value}
    assert validate_answers(inst, answers, complete=True) == {"c_audit": ["must be true or false"]}


def test_consent_information_sheet_clause_names_the_information_sheet_version() -> None:
    inst = instrument("consent")
    assert inst.information_sheet_version is not None
    number, _, date = inst.information_sheet_version.partition(", dated ")
    assert number
    assert date
    text = inst.by_id["c_information_sheet"].text
    assert f"information sheet version {number} dated {date}" in text
