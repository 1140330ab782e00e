"""Fixed-window rate limits kept in the database, so every worker and replica shares them."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.crypto import Keyring
from service.models import RateLimitWindow

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Limit:
    count: int
    period: dt.timedelta

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"10/hour"``, ``"5/minute"``..."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)\s*", text)
        if not match:
            raise ValueError(f"a rate limit looks like '10/hour', not {text!r}")
        return cls(int(match.group(1)), dt.timedelta(seconds=_PERIODS[match.group(2)]))


def window_key(keyring: Keyring, name: str, client: str) -> str:
    """The stored key of a client's window: keyed, because a bare hash of an IPv4 address
    is reversed by trying all four billion of them."""
    return keyring.mac("rate-limit-client", f"{name}\n{client}".encode()).hex()


def hit(session: Session, keyring: Keyring, name: str, client: str, limit: Limit) -> int | None:
    """Count one request; None when it is within the limit, else seconds until it resets.

    Runs in a transaction of its own (committed here) so that a refused or failed request
    still counts.
    """
    key = window_key(keyring, name, client)
    now = utcnow()
    for _attempt in range(2):
        row = session.get(RateLimitWindow, key, with_for_update=True)
        if row is None:
            session.add(RateLimitWindow(key=key, window_start=now, count=1))
        elif now - row.window_start >= limit.period:
            row.window_start, row.count = now, 1
        else:
            row.count += 1
        try:
            session.commit()
            break
        except IntegrityError:  # another worker opened this window a moment ago
            session.rollback()
    row = session.get(RateLimitWindow, key)
    if row is None or row.count <= limit.count:
        return None
    remaining = row.window_start + limit.period - now
    return max(1, math.ceil(remaining.total_seconds()))
