"""Consent form 1.1.0 and the amendment's rules: re-consent per version, clauses shown only
to some, and which protocol version new tasks follow on a given day."""

import datetime as dt
import json
from typing import Any

import pytest

from service.domain.consent import (
    CONSENTED,
    NEEDS_RECONSENT,
    consent_state,
    recorded_clauses,
    signing_faults,
)
from service.domain.instruments import parse_instrument
from service.domain.protocol import parse_protocol, protocol_in_force
from service.domain.tasks import ResponseSummary, build_tasks
from tests.conftest import INSTRUMENTS

FORM = parse_instrument(json.loads((INSTRUMENTS / "consent" / "1.1.0.json").read_text()))


def signed(version: str) -> dict[str, Any]:
    form = {"id": "consent", "version": version, "sha256": "x"}
    return {"type": "consent", "form": form, "clauses": {"c_take_part": True}}


def all_yes(**changes: bool) -> dict[str, bool]:
    return {i.id: True for i in FORM.items} | changes


def test_the_form_carries_what_is_new_and_its_reconsent_rule() -> None:
    assert FORM.reconsent == "required" and len(FORM.changes) >= 3
    assert FORM.by_id["c_safety_contact"].required
    assert FORM.by_id["c_retention"].required and "years" in FORM.by_id["c_retention"].text
    assert not FORM.by_id["c_anonymised_quotes"].required
    assert (
        "withdraw" in FORM.by_id["c_voluntary"].text and "erased" in FORM.by_id["c_voluntary"].text
    )


def test_every_required_clause_must_be_agreed_including_the_safety_statement() -> None:
    assert signing_faults(FORM, "1.1.0", FORM.sha256, all_yes(), "Sam Lee") == {}
    faults = signing_faults(FORM, "1.1.0", FORM.sha256, all_yes(c_safety_contact=False), "Sam")
    assert list(faults) == ["clauses.c_safety_contact"]


def test_audio_and_quotes_are_asked_only_of_those_agreeing_to_interview_contact() -> None:
    no_contact = {
        k: v
        for k, v in all_yes(c_contact_interview=False).items()
        if k not in ("c_audio_recording", "c_anonymised_quotes")
    }
    assert signing_faults(FORM, "1.1.0", FORM.sha256, no_contact, "Sam Lee") == {}
    assert recorded_clauses(FORM, no_contact)["c_audio_recording"] is False
    explicit_no = {**no_contact, "c_audio_recording": False}
    assert signing_faults(FORM, "1.1.0", FORM.sha256, explicit_no, "Sam Lee") == {}
    ticked = {**no_contact, "c_audio_recording": True}
    faults = signing_faults(FORM, "1.1.0", FORM.sha256, ticked, "Sam Lee")
    assert list(faults) == ["clauses.c_audio_recording"]
    # With contact agreed, the audio clause needs an answer like any other.
    missing = {k: v for k, v in all_yes().items() if k != "c_audio_recording"}
    assert list(signing_faults(FORM, "1.1.0", FORM.sha256, missing, "Sam")) == [
        "clauses.c_audio_recording"
    ]


@pytest.mark.parametrize(
    ("policies", "state", "offered"),
    [
        ({"1.0.0": None, "1.1.0": "required"}, NEEDS_RECONSENT, None),
        ({"1.0.0": None, "1.1.0": "optional"}, CONSENTED, "1.1.0"),
        ({"1.0.0": None, "1.1.0": None}, NEEDS_RECONSENT, None),  # no rule: as before
    ],
)
def test_a_version_says_whether_earlier_signers_must_reconsent(
    policies: dict[str, Any], state: str, offered: Any
) -> None:
    found = consent_state([signed("1.0.0")], "1.1.0", frozenset(), policies)
    assert (found.state, found.form_version, found.offered_version) == (state, "1.0.0", offered)


def test_a_required_version_between_them_still_requires_reconsent() -> None:
    policies = {"1.0.0": None, "1.1.0": "required", "1.2.0": "optional"}
    assert consent_state([signed("1.0.0")], "1.2.0", frozenset(), policies).state == (
        NEEDS_RECONSENT
    )
    # Who signed 1.1.0 may continue under it, and is offered 1.2.0.
    later = consent_state([signed("1.1.0")], "1.2.0", frozenset(), policies)
    assert (later.state, later.offered_version) == (CONSENTED, "1.2.0")
    current = consent_state([signed("1.2.0")], "1.2.0", frozenset(), policies)
    assert (current.state, current.offered_version) == (CONSENTED, None)


# --- the protocol amendment ------------------------------------------------------------------

QUESTIONNAIRES = {(n, v) for n in ("a", "b") for v in ("1.0.0", "1.1.0")}


def protocol(version: str, ask: str, effective: str | None = None) -> Any:
    data: dict[str, Any] = {
        "version": version,
        "title": "t",
        "timepoints": [
            {
                "id": "baseline",
                "label": "Baseline",
                "day": 0,
                "window_before": 0,
                "window_after": 30,
                "instruments": [{"id": "a", "version": ask}, {"id": "b", "version": ask}],
            }
        ],
    }
    if effective:
        data["effective_from"] = effective
    return parse_protocol(data, QUESTIONNAIRES)


def test_new_tasks_follow_the_amended_protocol_from_its_stated_day() -> None:
    first, amended = protocol("1.0.0", "1.0.0"), protocol("1.1.0", "1.1.0", "2027-01-04")
    assert protocol_in_force([first, amended], dt.date(2027, 1, 3)) is first
    assert protocol_in_force([first, amended], dt.date(2027, 1, 4)) is amended
    assert protocol_in_force([amended], dt.date(2027, 1, 3)) is None


def test_a_task_started_before_the_amendment_keeps_its_version() -> None:
    amended = protocol("1.1.0", "1.1.0", "2027-01-04")
    day = dt.date(2027, 1, 5)
    started = {("baseline", "a"): ResponseSummary("r1", "in-progress", "1.0.0")}
    tasks = {t.instrument: t for t in build_tasks(amended, day, day, started)}
    assert (tasks["a"].version, tasks["a"].status, tasks["a"].response_id) == (
        "1.0.0",
        "in-progress",
        "r1",
    )
    assert (tasks["b"].version, tasks["b"].status) == ("1.1.0", "open")


def test_the_shipped_amendment_states_its_day_and_asks_for_the_new_versions() -> None:
    data = json.loads((INSTRUMENTS / "protocol-1.1.0.json").read_text())
    assert dt.date.fromisoformat(data["effective_from"])
    asked = {(r["id"], r["version"]) for t in data["timepoints"] for r in t["instruments"]}
    assert {v for _, v in asked} == {"1.1.0", "1.0.0"}
    assert ("follow-up", "1.0.0") in asked and ("about-you", "1.1.0") in asked
    first = json.loads((INSTRUMENTS / "protocol.json").read_text())
    assert first["version"] == "1.0.0" and "effective_from" not in first
