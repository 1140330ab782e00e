"""Dates as the NHS date-input component: day, month and year read into an ISO date, with
the NHS error messages; the inputs marked as the pattern says."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from service.domain.instruments import Item
from service.web import forms

WHEN = Item(id="loss_date", text="When did your loss happen?", type="date", required=True)
OPTIONAL = Item(id="due_date", text="When was your baby due?", type="date")


def typed(day: str, month: str, year: str, item: Item = WHEN) -> MultiDict[str, str]:
    name = forms.field_name(item)
    return MultiDict({f"{name}-day": day, f"{name}-month": month, f"{name}-year": year})


@pytest.mark.parametrize(
    ("day", "month", "year", "expected"),
    [
        ("15", "3", "2025", "2025-03-15"),
        ("01", "12", "2024", "2024-12-01"),
        (" 9 ", "02", "2024", "2024-02-09"),
        ("29", "2", "2024", "2024-02-29"),  # a leap year
    ],
)
def test_a_real_date_is_read_as_iso(day: str, month: str, year: str, expected: str) -> None:
    read = forms.read_page([WHEN], typed(day, month, year))
    assert read.errors == {}
    assert read.answers == {"loss_date": expected}


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("31", "2", "2025", "Date must be a real date"),
        ("29", "2", "2025", "Date must be a real date"),
        ("0", "1", "2025", "Date must be a real date"),
        ("1", "13", "2025", "Date must be a real date"),
        ("a", "1", "2025", "Date must be a real date"),
        ("-1", "1", "2025", "Date must be a real date"),
        ("1", "1", "25", "Year must include 4 numbers"),
        ("", "3", "2025", "Date must include a day"),
        ("15", "", "", "Date must include a month and year"),
        ("", "", "", "Enter a date"),
    ],
)
def test_an_impossible_or_partial_date_gets_the_nhs_message(
    day: str, month: str, year: str, message: str
) -> None:
    read = forms.read_page([WHEN], typed(day, month, year))
    assert read.answers == {}
    assert read.errors == {"item-loss_date": message}


def test_an_optional_date_left_blank_is_no_answer() -> None:
    read = forms.read_page([OPTIONAL], typed("", "", "", OPTIONAL))
    assert read.errors == {}
    assert read.answers == {"due_date": None}


def test_a_date_reads_back_as_a_person_writes_it() -> None:
    assert forms.display(WHEN, "2025-03-15") == "15 March 2025"
    assert forms.field_id(WHEN) == "item-loss_date-day"


def test_only_the_missing_parts_are_marked_and_what_was_typed_comes_back() -> None:
    form = typed("15", "", "2025")
    inputs = forms.date_inputs(WHEN, None, form, "Date must include a month")
    assert [i["value"] for i in inputs] == ["15", "", "2025"]
    assert [i["classes"] for i in inputs] == ["", "nhsuk-input--error", ""]
    wrong = forms.date_inputs(WHEN, None, typed("31", "2", "2025"), "Date must be a real date")
    assert all(i["classes"] == "nhsuk-input--error" for i in wrong)
    saved = forms.date_inputs(WHEN, "2025-03-05", None, None)
    assert [i["value"] for i in saved] == ["5", "3", "2025"]
    assert [i["width"] for i in saved] == [2, 2, 4]
