"""The researchers' dashboard figures, from values: recruitment by week and completion by
timepoint. Pure: the service gathers the dates and tasks, the page draws the bars."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.tasks import COMPLETED, IN_PROGRESS, MISSED, NOT_YET_OPEN, OPEN, Task


@dataclass(frozen=True)
class Week:
    starts: dt.date  # a Monday
    enrolled: int


@dataclass(frozen=True)
class TimepointProgress:
    """Of the questionnaires of a timepoint that have opened: how many were sent in, how
    many are still open, how many closed unanswered."""

    timepoint: str
    due: int
    completed: int
    open: int
    missed: int

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.due) if self.due else 0


def weekly(enrolled: Iterable[dt.date], today: dt.date, weeks: int = 12) -> list[Week]:
    """Enrolments in each of the last ``weeks`` weeks (Monday to Sunday), oldest first."""
    this_monday = today - dt.timedelta(days=today.weekday())
    counts = Counter(day - dt.timedelta(days=day.weekday()) for day in enrolled)
    return [
        Week(monday, counts.get(monday, 0))
        for monday in (this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1))
    ]


def progress(tasks: Iterable[Task], order: Iterable[str]) -> list[TimepointProgress]:
    """Completion per timepoint, in the protocol's ``order``; tasks not yet open do not count."""
    by_status: dict[str, Counter[str]] = {t: Counter() for t in order}
    for task in tasks:
        if task.timepoint in by_status and task.status != NOT_YET_OPEN:
            by_status[task.timepoint][task.status] += 1
    return [
        TimepointProgress(
            timepoint=timepoint,
            due=sum(counts.values()),
            completed=counts[COMPLETED],
            open=counts[OPEN] + counts[IN_PROGRESS],
            missed=counts[MISSED],
        )
        for timepoint, counts in by_status.items()
    ]
