"""The access log: every staff action that reads or changes participant data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

    Filters are recorded as given: they are parameters such as a study ID, a seq or a date,
    never an answer or an identifier.
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
