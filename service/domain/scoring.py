"""Scores, bands and safety alert rules for a complete, validated set of answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.instruments import (
    PRORATE,
    Answers,
    Instrument,
    Item,
    Score,
    compare,
    condition_holds,
)

ScoreValue = int | float | bool | None


@dataclass(frozen=True)
class ScoreResult:
    id: str
    label: str
    value: ScoreValue
    band: str | None
    participant_visible: bool


@dataclass(frozen=True)
class AlertResult:
    id: str
    severity: str
    signposting: str


def score_answers(instrument: Instrument, answers: Answers) -> list[ScoreResult]:
    """Compute every score of an instrument, in definition order."""
    results = []
    for score in instrument.scores:
        value = compute_score(score, instrument.by_id, answers)
        results.append(
            ScoreResult(
                id=score.id,
                label=score.label,
                value=value,
                band=band_for(score, value),
                participant_visible=score.participant_visible,
            )
        )
    return results


def compute_score(score: Score, items: Mapping[str, Item], answers: Answers) -> ScoreValue:
    """One score's value; None when an item it needs was not answered.

    A sum, count or rule over a partly answered set would understate the score and could
    hide a clinical threshold, so those give None rather than a number, unless the score's
    published source allows prorating a sum: then, with at most ``max_missing`` items
    skipped, the mean of the items answered times the number of items, rounded half up to
    a whole number. A mean is taken over the items answered.
    """
    if score.method == "rule":
        needed = score.referenced_items()
        if any(i not in answers for i in needed):
            return None
        return all(
            sum(condition_holds({**c.when, "item": i}, answers) for i in c.items) >= c.at_least
            for c in score.criteria
        )
    values = [
        _item_value(items[i], answers[i], i in score.reverse) for i in score.items if i in answers
    ]
    if score.method == "mean":
        return sum(values) / len(values) if values else None
    missing = len(score.items) - len(values)
    if missing and score.method == "sum" and score.missing_rule == PRORATE:
        if missing > score.max_missing:
            return None
        return prorate(values, len(score.items))
    if missing:
        return None
    if score.method == "sum":
        return sum(values)
    when = score.count_when or {}
    return sum(1 for v in values if compare(v, when["op"], when["value"]))


def prorate(values: list[int | float], of_items: int) -> int:
    """The mean of the answered items scaled to the full number of items, rounded half up
    (not Python's round-half-to-even: 12.5 becomes 13, as a person scoring by hand would)."""
    total = sum(values) * of_items
    whole, rest = divmod(total, len(values))
    return int(whole) + (1 if 2 * rest >= len(values) else 0)


def _item_value(item: Item, answer: Any, reverse: bool) -> int | float:
    value = int(answer) if isinstance(answer, bool) else answer
    if reverse:
        bounds = item.value_range()
        if bounds is None:  # parse_instrument refuses reverse items without bounds
            raise ValueError(f"{item.id} cannot be reversed")
        low, high = bounds
        value = low + high - value
        if isinstance(low, int) and isinstance(high, int):
            value = int(value)
    return value


def band_for(score: Score, value: ScoreValue) -> str | None:
    """The label of the band holding a value, if any."""
    if value is None or isinstance(value, bool):
        return None
    for band in score.bands:
        if band.min <= value <= band.max:
            return band.label
    return None


def triggered_alerts(
    instrument: Instrument, answers: Answers, *, draft: bool = False
) -> list[AlertResult]:
    """The safety alert rules that the answers (and, once submitted, their scores) meet.

    A saved draft is checked too, against its answers alone: an endorsed self-harm item
    must reach the team even if the participant never submits, while a total is only
    final once the answers are.
    """
    scores = (
        {}
        if draft
        else {s.id: compute_score(s, instrument.by_id, answers) for s in instrument.scores}
    )
    return [
        AlertResult(a.id, a.severity, a.signposting)
        for a in instrument.alerts
        if condition_holds(a.when, answers, scores)
    ]
