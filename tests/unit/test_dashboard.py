"""The dashboard's figures: enrolments by Monday-to-Sunday week, completion by timepoint."""

from __future__ import annotations

import datetime as dt

from service.domain.dashboard import TimepointProgress, Week, progress, weekly
from service.domain.tasks import Task

THURSDAY = dt.date(2026, 11, 26)


def test_enrolments_are_counted_by_monday_and_weeks_without_any_are_zero() -> None:
    days = [THURSDAY, dt.date(2026, 11, 23), dt.date(2026, 11, 22), dt.date(2026, 8, 1)]
    found = weekly(days, THURSDAY, weeks=3)
    assert found == [
        Week(dt.date(2026, 11, 9), 0),
        Week(dt.date(2026, 11, 16), 1),  # Sunday the 22nd belongs to the week of the 16th
        Week(dt.date(2026, 11, 23), 2),
    ]


def task(timepoint: str, status: str) -> Task:
    return Task(timepoint, "phq-9", "1.0.0", status, THURSDAY, THURSDAY)


def test_completion_counts_only_what_has_opened_in_the_protocols_order() -> None:
    tasks = [
        task("baseline", "completed"),
        task("baseline", "completed"),
        task("baseline", "in-progress"),
        task("baseline", "missed"),
        task("month-3", "not-yet-open"),
        task("consent", "open"),  # not a timepoint of the protocol
    ]
    found = progress(tasks, ["baseline", "month-3"])
    assert found == [
        TimepointProgress("baseline", due=4, completed=2, open=1, missed=1),
        TimepointProgress("month-3", due=0, completed=0, open=0, missed=0),
    ]
    assert [p.percent for p in found] == [50, 0]
