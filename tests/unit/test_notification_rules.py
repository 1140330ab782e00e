"""The pure rules of notifications: when a reminder is due, backoff, wording, settings."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from service.config import ConfigError, load_config
from service.domain.notifications import (
    DEFAULT_WORDING,
    FIRST_REMINDER,
    INVITATION,
    LAST_REMINDER,
    ReminderDays,
    WordingError,
    check_wording,
    describe_duration,
    parse_duration,
    parse_reminder_days,
    reminder_due,
    retry_delay,
)

OPENS, CLOSES = dt.date(2027, 3, 1), dt.date(2027, 3, 29)  # a 3-month window: 28 days
DAYS = ReminderDays(7, 3)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (OPENS - dt.timedelta(days=1), None),
        (OPENS, INVITATION),
        (OPENS + dt.timedelta(days=6), INVITATION),
        (OPENS + dt.timedelta(days=7), FIRST_REMINDER),
        (CLOSES - dt.timedelta(days=4), FIRST_REMINDER),
        (CLOSES - dt.timedelta(days=3), LAST_REMINDER),
        (CLOSES, LAST_REMINDER),
        (CLOSES + dt.timedelta(days=1), None),
    ],
)
def test_the_latest_message_due_in_a_window(today: dt.date, expected: str | None) -> None:
    assert reminder_due(OPENS, CLOSES, today, DAYS, invite=True) == expected


def test_a_window_that_opens_at_enrolment_has_no_invitation_but_its_reminders() -> None:
    opens, closes = dt.date(2027, 1, 1), dt.date(2027, 1, 15)  # baseline: 14 days
    assert reminder_due(opens, closes, opens, DAYS, invite=False) is None
    assert reminder_due(opens, closes, opens + dt.timedelta(days=7), DAYS, invite=False) == (
        FIRST_REMINDER
    )
    assert reminder_due(opens, closes, closes - dt.timedelta(days=3), DAYS, invite=False) == (
        LAST_REMINDER
    )


def test_a_short_window_skips_a_first_reminder_that_would_follow_the_last() -> None:
    opens, closes = dt.date(2027, 1, 1), dt.date(2027, 1, 9)
    days = [reminder_due(opens, closes, opens + dt.timedelta(days=n), DAYS, True) for n in range(9)]
    assert FIRST_REMINDER not in days and LAST_REMINDER in days


def test_retries_back_off_exponentially_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, 60, 3600, rng) for n in range(1, 10)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(3600, 60 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(retry_delay(3, 60, 3600, rng), 6) for _ in range(20)}) > 1


def test_wording_overrides_are_checked_for_kinds_placeholders_and_one_line_subjects() -> None:
    own = {"invitation": {"subject": "Time for your check-in", "body": "Open {link} by {closes}."}}
    assert check_wording(own)["invitation"] == (
        "Time for your check-in",
        "Open {link} by {closes}.",
    )
    assert check_wording({})["reminder-1"] == DEFAULT_WORDING["reminder-1"]
    with pytest.raises(WordingError, match="no message kind"):
        check_wording({"birthday": {"subject": "s", "body": "b"}})
    with pytest.raises(WordingError, match=r"\{name\} is not known"):
        check_wording({"invitation": {"subject": "Hello {name}", "body": "b"}})
    with pytest.raises(WordingError, match="one line"):
        check_wording({"invitation": {"subject": "a\nBcc: x@example.org", "body": "b"}})
    with pytest.raises(WordingError, match="subject"):
        check_wording({"invitation": {"subject": "only"}})


def test_no_default_wording_names_the_study_topic() -> None:
    text = json.dumps(DEFAULT_WORDING).lower()
    for word in ("miscarriage", "depress", "anxiety", "mental", "phq", "pregnan", "self-harm"):
        assert word not in text


def test_durations_and_reminder_days_are_parsed_or_refused() -> None:
    assert parse_duration("24h") == dt.timedelta(hours=24)
    assert parse_duration("90m") == dt.timedelta(minutes=90)
    assert describe_duration(dt.timedelta(hours=24)) == "1 day"
    assert describe_duration(dt.timedelta(minutes=90)) == "90 minutes"
    assert parse_reminder_days("7, 3") == ReminderDays(7, 3)
    for bad in ("7", "x,3", "0,3", "7,3,1"):
        with pytest.raises(ValueError):
            parse_reminder_days(bad)
    with pytest.raises(ValueError):
        parse_duration("tomorrow")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PSAM_SMTP_URL", "http://mail.example.org", "smtp:// or smtps://"),
        ("PSAM_SMTP_URL", "smtp://user@mail.example.org", "without a password"),
        ("PSAM_MAIL_FROM", "not an address", "one email address"),
        ("PSAM_SAFETY_EMAIL", "a@b.org, c@d.org", "one email address"),
        ("PSAM_ALERT_ESCALATE_AFTER", "soon", "a number and a unit"),
        ("PSAM_REMINDER_DAYS", "7", "two whole numbers"),
        ("PSAM_NOTIFY_MAX_ATTEMPTS", "0", "at least 1"),
        ("PSAM_MESSAGES_FILE", "/nonexistent/messages.json", "cannot be read"),
    ],
)
def test_a_bad_notification_setting_stops_the_start_naming_it(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as raised:
        load_config({variable: value})
    assert raised.value.variable == variable


def test_an_smtp_password_is_never_repeated_in_a_settings_error() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"PSAM_SMTP_URL": "smtp://mailer:Pa55word@mail.example.org/path"})
    assert "Pa55word" not in str(raised.value)


def test_a_messages_file_replaces_the_wording_it_names(tmp_path: Path) -> None:
    own = tmp_path / "messages.json"
    own.write_text(json.dumps({"reminder-2": {"subject": "Closing soon", "body": "{link}"}}))
    wording = load_config({"PSAM_MESSAGES_FILE": str(own)})["PSAM_MESSAGE_WORDING"]
    assert wording["reminder-2"] == ("Closing soon", "{link}")
    assert wording["invitation"] == DEFAULT_WORDING["invitation"]
