"""Validation and scoring cost per response, for each shipped questionnaire.

Run: .venv/bin/python bench/bench_scoring.py   (prints figures; never pass/fail)
"""

from __future__ import annotations

import random
import time

from service.config import PROJECT_ROOT
from service.domain.instruments import Instrument, enabled_items, validate_answers
from service.domain.scoring import score_answers, triggered_alerts
from service.services.definitions import load_definitions

ROUNDS = 5_000


def random_answers(inst: Instrument, rng: random.Random) -> dict[str, object]:
    answers: dict[str, object] = {}
    for item in inst.items:
        if item not in enabled_items(inst, answers):  # every question shown is answered
            continue
        if item.type == "choice":
            answers[item.id] = rng.choice(sorted(item.codes))
        elif item.type == "multi_choice":
            answers[item.id] = [min(item.codes)]
        elif item.type == "integer":
            answers[item.id] = int(item.min or 0)
        elif item.type == "boolean":
            answers[item.id] = rng.random() < 0.5
        elif item.type == "text":
            answers[item.id] = "x"
    return answers


def main() -> None:
    rng = random.Random(1)
    for inst in load_definitions(PROJECT_ROOT / "instruments").instruments:
        if inst.kind != "questionnaire":
            continue
        samples = [random_answers(inst, rng) for _ in range(100)]
        start = time.perf_counter()
        for i in range(ROUNDS):
            answers = samples[i % len(samples)]
            errors = validate_answers(inst, answers, complete=True)
            score_answers(inst, answers)
            triggered_alerts(inst, answers)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(ROUNDS):  # what every saved draft now adds: its item alert rules
            triggered_alerts(inst, samples[i % len(samples)], draft=True)
        draft = time.perf_counter() - start
        print(
            f"{inst.id:<13} {inst.version:<6} {len(inst.items):>3} items  "
            f"{elapsed / ROUNDS * 1e6:8.1f} us/response (validate+score+alerts)  "
            f"{draft / ROUNDS * 1e6:6.1f} us/draft save (alert rules)  "
            f"errors in last sample: {len(errors)}"
        )


if __name__ == "__main__":
    main()
