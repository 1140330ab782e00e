"""Consent: checking a signature against the form in force, and the state a log implies."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.domain.instruments import Instrument, version_key

WITHDRAWAL_SCOPES = ("no-further-contact", "stop", "stop-and-erase")
NOT_CONSENTED = "not-consented"
CONSENTED = "consented"
NEEDS_RECONSENT = "needs-reconsent"
WITHDRAWN = "withdrawn"
ERASED = "erased"
CONSENT_STATES = (NOT_CONSENTED, CONSENTED, NEEDS_RECONSENT, WITHDRAWN, ERASED)
MAX_NAME = 200
# The clause whose agreement lets researchers see contact details to arrange an interview.
INTERVIEW_CONTACT_CLAUSE = "c_contact_interview"


@dataclass(frozen=True)
class ConsentState:
    """Where a participant stands, derived from their events in the consent log."""

    state: str
    form_version: str | None = None
    form_hash: str | None = None
    clauses: Mapping[str, bool] = field(default_factory=dict)
    withdrawal: str | None = None

    @property
    def allows_contact(self) -> bool:
        """Consent in force (even if a newer form awaits signing) includes interview contact."""
        in_force = self.state in (CONSENTED, NEEDS_RECONSENT)
        return in_force and self.clauses.get(INTERVIEW_CONTACT_CLAUSE) is True


def signing_faults(
    form: Instrument,
    form_version: str,
    form_hash: str,
    clauses: Mapping[str, Any],
    typed_name: str,
) -> dict[str, list[str]]:
    """Every reason a signature cannot be accepted, keyed by field; empty when it can."""
    faults: dict[str, list[str]] = {}
    if form_version != form.version:
        faults["form_version"] = [
            f"version {form_version} is not the consent form in force ({form.version})"
        ]
    elif form_hash != form.sha256:
        faults["form_hash"] = ["does not match the consent form that was served"]
    for item in form.items:
        key = f"clauses.{item.id}"
        if item.id not in clauses:
            faults[key] = ["an answer (true or false) is required"]
        elif item.required and clauses[item.id] is not True:
            faults[key] = ["must be agreed to take part in the study"]
    for clause in clauses:
        if clause not in form.by_id:
            faults[f"clauses.{clause}"] = ["not a clause of this consent form"]
    name = typed_name.strip()
    if not name:
        faults["typed_name"] = ["type your full name to sign"]
    elif len(name) > MAX_NAME:
        faults["typed_name"] = [f"must be at most {MAX_NAME} characters"]
    return faults


def consent_state(
    events: Sequence[Mapping[str, Any]], current_version: str, contact_clauses: frozenset[str]
) -> ConsentState:
    """Fold a participant's consent-log events, oldest first, into their state now."""
    state = ConsentState(NOT_CONSENTED)
    for event in events:
        kind = event.get("type")
        if state.state == ERASED:
            break
        if kind == "consent" and state.state != WITHDRAWN:
            form = event["form"]
            state = ConsentState(CONSENTED, form["version"], form["sha256"], dict(event["clauses"]))
        elif kind == "withdrawal":
            scope = event["scope"]
            if scope == "no-further-contact":
                clauses = {
                    k: (False if k in contact_clauses else v) for k, v in state.clauses.items()
                }
                state = ConsentState(
                    state.state, state.form_version, state.form_hash, clauses, scope
                )
            elif scope == "stop":
                # No new data; what was given stays under the consent it was given with.
                state = ConsentState(
                    WITHDRAWN, state.form_version, state.form_hash, state.clauses, scope
                )
            else:
                state = ConsentState(ERASED, state.form_version, state.form_hash, {}, scope)
    if (
        state.state == CONSENTED
        and state.form_version is not None
        and version_key(state.form_version) < version_key(current_version)
    ):
        state = ConsentState(
            NEEDS_RECONSENT, state.form_version, state.form_hash, state.clauses, state.withdrawal
        )
    return state


def withdrawal_fault(state: ConsentState, scope: str) -> str | None:
    """Why a withdrawal cannot be recorded now, or None. ``stop`` and erasure are final."""
    if state.state == ERASED:
        return "this participant's data has already been erased"
    if state.state == WITHDRAWN and scope != "stop-and-erase":
        return "this participant has already withdrawn"
    return None


SIGNING_WINDOW = dt.timedelta(days=1)


def signing_wait(recent: Sequence[dt.datetime], now: dt.datetime, per_day: int) -> int | None:
    """Seconds until one more signature is allowed, or None when it is allowed now.

    ``recent`` holds the times of this participant's signatures in the last day. Re-signing
    is bounded because each signature is a permanent log entry.
    """
    within = sorted(t for t in recent if now - t < SIGNING_WINDOW)
    if len(within) < per_day:
        return None
    frees_at = within[len(within) - per_day] + SIGNING_WINDOW
    return max(1, math.ceil((frees_at - now).total_seconds()))


def signing_fault_for_state(state: ConsentState) -> str | None:
    """Why this participant cannot sign now, or None."""
    if state.state in (WITHDRAWN, ERASED):
        return "this participant has withdrawn from the study; withdrawal is final"
    return None
