"""The access log: every staff action that reads or changes participant data or access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from service.domain.crypto import Keyring
from service.domain.ledger import Entry
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal


def record_access(
    writer: LedgerWriter,
    principal: Principal,
    action: str,
    *,
    study_id: str | None = None,
    filters: Mapping[str, Any] | None = None,
    rows: int | None = None,
) -> Entry:
    """Append who did what, with which filters, to how many rows (the caller locks and commits).

    Filters are recorded as given: they are parameters such as a study ID, a seq, a date or a
    token id, never an answer, an identifier or a token's free-text label. The actor is the
    principal's ``actor()``: a token id or the command that was run, never a label.
    """
    return writer.append(
        "access",
        {
            "type": "access",
            "action": action,
            "study_id": study_id,
            "actor": principal.actor(),
            "filters": {k: v for k, v in (filters or {}).items() if v is not None},
            "rows": rows,
        },
    )


@dataclass(frozen=True)
class Trail:
    """Who is acting, and what it takes to append to the access log in any session.

    The API builds one from the request's principal, a command from its own name. A service
    that takes a trail records in the session that makes the change, which lets the multi-
    transaction key commands log in the one transaction where their change takes effect.
    """

    principal: Principal
    keyring: Keyring
    checkpoint_every: int

    def record(
        self,
        session: Session,
        action: str,
        *,
        study_id: str | None = None,
        filters: Mapping[str, Any] | None = None,
        rows: int | None = None,
    ) -> Entry:
        """Lock the access log and append one event in ``session`` (the caller commits)."""
        writer = LedgerWriter(session, self.keyring, self.checkpoint_every)
        writer.lock("access")
        return record_access(
            writer, self.principal, action, study_id=study_id, filters=filters, rows=rows
        )
