"""The study protocol: timepoints, their windows, and the instrument versions each asks for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.domain.canonical import content_hash
from service.domain.instruments import DefinitionError, version_key


@dataclass(frozen=True)
class Timepoint:
    id: str
    label: str
    day: int
    window_before: int
    window_after: int
    instruments: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Protocol:
    version: str
    title: str
    sha256: str
    timepoints: tuple[Timepoint, ...]
    definition: Mapping[str, Any] = field(repr=False, compare=False)
    effective_from: dt.date | None = None  # new tasks follow it from this day; None: at once


def parse_protocol(
    data: Mapping[str, Any], questionnaires: Collection[tuple[str, str]]
) -> Protocol:
    """Build the protocol, checking that it only asks for questionnaires that exist."""
    faults: list[tuple[str, str]] = []
    timepoints = []
    seen: set[str] = set()
    for i, raw in enumerate(data["timepoints"]):
        path = f"$.timepoints[{i}]"
        if raw["id"] in seen:
            faults.append((f"{path}.id", f"duplicate timepoint {raw['id']!r}"))
        seen.add(raw["id"])
        if raw["window_before"] > raw["day"]:
            faults.append((f"{path}.window_before", "would open before enrolment"))
        pairs = tuple((ref["id"], ref["version"]) for ref in raw["instruments"])
        for j, pair in enumerate(pairs):
            if pair not in questionnaires:
                faults.append((f"{path}.instruments[{j}]", f"no questionnaire {pair[0]} {pair[1]}"))
            if pair in pairs[:j]:
                faults.append((f"{path}.instruments[{j}]", "listed twice"))
        timepoints.append(
            Timepoint(
                raw["id"],
                raw["label"],
                raw["day"],
                raw["window_before"],
                raw["window_after"],
                pairs,
            )
        )
    effective = data.get("effective_from")
    if faults:
        raise DefinitionError(faults)
    return Protocol(
        data["version"],
        data["title"],
        content_hash(data),
        tuple(timepoints),
        data,
        dt.date.fromisoformat(effective) if effective else None,
    )


def protocol_in_force(protocols: Iterable[Protocol], day: dt.date) -> Protocol | None:
    """The highest version whose ``effective_from`` has come by ``day`` (or that has none)."""
    ready = [p for p in protocols if p.effective_from is None or p.effective_from <= day]
    return max(ready, key=lambda p: version_key(p.version), default=None)
