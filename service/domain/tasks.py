"""What a participant is asked to do, and when: the protocol's tasks and their windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from service.domain.protocol import Protocol, Timepoint

NOT_YET_OPEN = "not-yet-open"
OPEN = "open"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
MISSED = "missed"
TASK_STATUSES = (NOT_YET_OPEN, OPEN, IN_PROGRESS, COMPLETED, MISSED)


@dataclass(frozen=True)
class Task:
    timepoint: str
    instrument: str
    version: str
    status: str
    opens: dt.date
    closes: dt.date
    response_id: str | None = None


@dataclass(frozen=True)
class ResponseSummary:
    """What the task list needs to know of a stored response."""

    id: str
    status: str  # "in-progress" or "submitted"
    version: str | None = None  # the instrument version it was started on


def window(timepoint: Timepoint, enrolled_on: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (both inclusive) on which a timepoint's questionnaires are open."""
    due = enrolled_on + dt.timedelta(days=timepoint.day)
    return (
        due - dt.timedelta(days=timepoint.window_before),
        due + dt.timedelta(days=timepoint.window_after),
    )


def task_status(
    today: dt.date, opens: dt.date, closes: dt.date, response: ResponseSummary | None
) -> str:
    if response is not None and response.status == "submitted":
        return COMPLETED
    if today < opens:
        return NOT_YET_OPEN
    if today > closes:
        return MISSED
    return IN_PROGRESS if response is not None else OPEN


def build_tasks(
    protocol: Protocol,
    enrolled_on: dt.date,
    today: dt.date,
    responses: Mapping[tuple[str, str], ResponseSummary],
) -> list[Task]:
    """Every task of the protocol in order, with its window and status.

    ``responses`` is keyed by (timepoint, instrument id). A task already started keeps
    the version it was started on, even after an amendment points new tasks at a newer one.
    """
    tasks = []
    for timepoint in protocol.timepoints:
        opens, closes = window(timepoint, enrolled_on)
        for instrument, version in timepoint.instruments:
            response = responses.get((timepoint.id, instrument))
            tasks.append(
                Task(
                    timepoint=timepoint.id,
                    instrument=instrument,
                    version=response.version or version if response else version,
                    status=task_status(today, opens, closes, response),
                    opens=opens,
                    closes=closes,
                    response_id=response.id if response else None,
                )
            )
    return tasks


def find_timepoint(protocol: Protocol, timepoint_id: str) -> Timepoint | None:
    return next((t for t in protocol.timepoints if t.id == timepoint_id), None)
