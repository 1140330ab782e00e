"""The interview state machine: every (state, action) pair, allowed or refused."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.interviews import (
    ACTIONS,
    OPEN,
    STATES,
    TRANSITIONS,
    SlotRequest,
    TransitionError,
    describe_slot,
    frees_slot,
    next_state,
    reminder_due_at,
    slot_faults,
)

ALLOWED = {
    ("invited", "accept"): "accepted",
    ("invited", "accept-slot"): "scheduled",
    ("invited", "decline"): "declined",
    ("invited", "schedule"): "scheduled",
    ("invited", "cancel"): "cancelled",
    ("accepted", "accept-slot"): "scheduled",
    ("accepted", "decline"): "declined",
    ("accepted", "schedule"): "scheduled",
    ("accepted", "cancel"): "cancelled",
    ("scheduled", "decline"): "declined",
    ("scheduled", "schedule"): "scheduled",
    ("scheduled", "done"): "done",
    ("scheduled", "cancel"): "cancelled",
}
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in STATES for a in ACTIONS])
def test_every_pair_is_allowed_exactly_as_listed_or_refused(state: str, action: str) -> None:
    if (state, action) in ALLOWED:
        assert next_state(state, action) == ALLOWED[(state, action)]
    else:
        with pytest.raises(TransitionError, match=f"that is {state} cannot be"):
            next_state(state, action)


def test_the_table_is_the_one_listed_here_and_final_states_lead_nowhere() -> None:
    assert TRANSITIONS == ALLOWED
    assert {state for state, _ in TRANSITIONS} == set(OPEN)
    for final in set(STATES) - OPEN:
        assert all(next_state_refused(final, a) for a in ACTIONS)


def next_state_refused(state: str, action: str) -> bool:
    try:
        next_state(state, action)
    except TransitionError:
        return True
    return False


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(TransitionError, match="not an interview action"):
        next_state("invited", "reschedule-twice")


def test_only_declined_and_cancelled_free_their_slot() -> None:
    assert [s for s in STATES if frees_slot(s)] == ["declined", "cancelled"]


def test_a_slot_in_the_past_too_short_naive_or_of_an_unknown_mode_is_named() -> None:
    ok = SlotRequest(NOW + dt.timedelta(days=1), 60, "video")
    assert slot_faults(ok, NOW) == {}
    assert set(slot_faults(SlotRequest(NOW, 60, "video"), NOW)) == {"starts_at"}
    naive = SlotRequest(dt.datetime(2030, 1, 1, 10, 0), 60, "video")
    assert "offset" in slot_faults(naive, NOW)["starts_at"][0]
    assert set(slot_faults(SlotRequest(ok.starts_at, 14, "video"), NOW)) == {"minutes"}
    assert set(slot_faults(SlotRequest(ok.starts_at, 241, "video"), NOW)) == {"minutes"}
    assert set(slot_faults(SlotRequest(ok.starts_at, 60, "fax"), NOW)) == {"mode"}


def test_the_reminder_is_due_the_day_before_and_a_slot_reads_plainly() -> None:
    starts = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert reminder_due_at(starts) == dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
    assert describe_slot(starts, 60, "in_person") == (
        "Tuesday 1 December 2026 at 10:00 (UTC), 60 minutes, in person"
    )
