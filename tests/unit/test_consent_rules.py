"""Consent rules that need no database: how often a participant may sign."""

import datetime as dt

from service.domain.consent import signing_wait

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def test_signing_is_allowed_below_the_daily_bound() -> None:
    recent = [NOW - dt.timedelta(hours=h) for h in (1, 2)]
    assert signing_wait(recent, NOW, per_day=3) is None


def test_at_the_bound_the_wait_ends_when_the_oldest_signature_leaves_the_day() -> None:
    recent = [NOW - dt.timedelta(hours=h) for h in (1, 5, 20)]
    assert signing_wait(recent, NOW, per_day=3) == 4 * 3600


def test_signatures_older_than_a_day_do_not_count() -> None:
    recent = [NOW - dt.timedelta(hours=h) for h in (1, 25, 30)]
    assert signing_wait(recent, NOW, per_day=2) is None
