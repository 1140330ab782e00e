"""The instrument renderer, in one place: items into pages, a posted page into answers.

Skip logic is the domain's (``enabled_items``): an item the answers so far do not enable is
on no page. A page's answers are read into the values the service checks (codes as whole
numbers, lists for several choices), with a fault in plain words for each question a person
must fix before going on.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from service.domain.instruments import Instrument, Item, enabled_items, value_fault
from service.web.words import format_date, gettext

PER_PAGE = 4


DATE_PARTS = ("day", "month", "year")


def year_fault() -> str:
    """The message for a year without 4 numbers, in the request's language."""
    return gettext("Year must include 4 numbers")


def part_names() -> dict[str, str]:
    """A date's parts as a message names them, in the request's language."""
    return {"day": gettext("day"), "month": gettext("month"), "year": gettext("year")}


def part_labels() -> dict[str, str]:
    """A date's parts as their inputs' labels, in the request's language."""
    return {"day": gettext("Day"), "month": gettext("Month"), "year": gettext("Year")}


def field_name(item: Item) -> str:
    return f"item-{item.id}"


def field_id(item: Item) -> str:
    """The id of a question's first input: where an error or a "Change" link leads."""
    return f"{field_name(item)}-day" if item.type == "date" else field_name(item)


def pages_of(instrument: Instrument, answers: Mapping[str, Any]) -> list[list[Item]]:
    """The items the answers so far enable, a few to a page (one page at least)."""
    items = enabled_items(instrument, answers)
    pages = [items[i : i + PER_PAGE] for i in range(0, len(items), PER_PAGE)]
    return pages or [[]]


def condition_items(cond: Mapping[str, Any] | None) -> set[str]:
    """The ids of the questions a condition reads."""
    if cond is None:
        return set()
    if "any" in cond or "all" in cond:
        return set().union(*(condition_items(c) for c in cond.get("any", cond.get("all", []))))
    return {str(cond["item"])}


def waiting_items(
    instrument: Instrument, answers: Mapping[str, Any], page: Sequence[Item]
) -> list[Item]:
    """Questions the answers so far leave out whose condition reads a question on this page.
    They go on the page hidden, so the page's script can show one as soon as an answer
    there brings it in; without the script the server brings it in after the save."""
    on_page = {item.id for item in page}
    enabled = {item.id for item in enabled_items(instrument, answers)}
    return [
        item
        for item in instrument.items
        if item.id not in enabled and condition_items(item.enable_when) & on_page
    ]


def known_answers(
    answers: Mapping[str, Any], shown: Sequence[Item], on_page: Sequence[Item]
) -> dict[str, Any]:
    """The saved answers from other pages that the shown questions' conditions read (the
    page's script needs them to decide as the server does), and no others."""
    read = set().union(*(condition_items(item.enable_when) for item in shown))
    here = {item.id for item in on_page}
    return {k: answers[k] for k in sorted(read - here) if k in answers}


@dataclass(frozen=True)
class Layout:
    shown: list[Item]  # the page's questions and its waiting ones, in the definition's order
    hidden: set[str]  # those the values on the page leave out
    known: dict[str, Any]  # saved answers from other pages that the conditions read


def layout(
    instrument: Instrument,
    answers: Mapping[str, Any],
    values: Mapping[str, Any],
    page: Sequence[Item],
) -> Layout:
    """What a page shows: its questions, the waiting ones, which of them the values on the
    page (the saved answers, or what was just posted) leave out, and what the script needs."""
    on_page = {item.id for item in page} | {
        item.id for item in waiting_items(instrument, answers, page)
    }
    shown = [item for item in instrument.items if item.id in on_page]
    present = {k: v for k, v in values.items() if v is not None}
    enabled = {item.id for item in enabled_items(instrument, present)}
    return Layout(
        shown,
        {item.id for item in shown if item.id not in enabled},
        known_answers(answers, shown, shown),
    )


def read_live_page(
    instrument: Instrument,
    answers: Mapping[str, Any],
    page: Sequence[Item],
    waiting: Sequence[Item],
    form: MultiDict[str, str],
) -> PageAnswers:
    """A posted page, its waiting questions included: a question the page's own answers
    leave out is neither answered nor in error (its answer, if any, is cleared by
    ``settle``); one they bring in is read like the others."""
    read = read_page([*page, *waiting], form)
    merged = {k: v for k, v in {**answers, **read.answers}.items() if v is not None}
    enabled = {item.id for item in enabled_items(instrument, merged)}
    on_page = {item.id for item in page}
    return PageAnswers(
        {k: v for k, v in read.answers.items() if k in enabled or k in on_page},
        {
            field_name(item): read.errors[field_name(item)]
            for item in [*page, *waiting]
            if item.id in enabled and field_name(item) in read.errors
        },
    )


def first_unanswered_page(pages: Sequence[Sequence[Item]], answers: Mapping[str, Any]) -> int:
    """The number (from 1) of the first page with an unanswered question; past the last page
    when every question is answered."""
    for number, page in enumerate(pages, start=1):
        if any(item.id not in answers for item in page):
            return number
    return len(pages) + 1


@dataclass(frozen=True)
class PageAnswers:
    answers: dict[str, Any]  # the page's answers; None clears an answer left blank
    errors: dict[str, str]  # field id -> what to fix


def read_page(items: Sequence[Item], form: MultiDict[str, str]) -> PageAnswers:
    """The answers a posted page gives, and a fault for each question to fix."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in items:
        value, fault = _read(item, form)
        if fault is None and value is not None:
            checked = value_fault(item, value)
            if checked is not None:
                fault = _plain(item, checked)
        if fault is None and value is None and item.required:
            fault = _missing(item)
        if fault is not None:
            errors[field_name(item)] = fault
        else:
            answers[item.id] = value
    return PageAnswers(answers, errors)


def _read(item: Item, form: MultiDict[str, str]) -> tuple[Any, str | None]:
    name = field_name(item)
    if item.type == "multi_choice":
        try:
            codes = [int(v) for v in form.getlist(name)]
        except ValueError:
            return None, gettext("Choose from the options given")
        return (codes or None), None
    if item.type == "date":
        return read_date({part: form.get(f"{name}-{part}", "") for part in DATE_PARTS})
    text = form.get(name, "").strip()
    if not text:
        return None, None
    if item.type in ("choice", "integer"):
        try:
            return int(text), None
        except ValueError:
            if item.type == "choice":
                return None, gettext("Choose one of the options given")
            return None, gettext("Enter a whole number, like 3")
    if item.type == "decimal":
        try:
            number = float(text)
        except ValueError:
            return None, gettext("Enter a number, like 3.5")
        return (
            (number, None) if math.isfinite(number) else (None, gettext("Enter a number, like 3.5"))
        )
    if item.type == "boolean":
        if text not in ("yes", "no"):
            return None, gettext("Choose yes or no")
        return text == "yes", None
    return text, None  # text (checked by the domain)


def read_date(parts: Mapping[str, str]) -> tuple[str | None, str | None]:
    """A date typed as day, month and year: its ISO form, or the NHS message for what is
    wrong (nothing typed is no answer, not a fault)."""
    typed = {part: parts.get(part, "").strip() for part in DATE_PARTS}
    if not any(typed.values()):
        return None, None
    missing = [part for part in DATE_PARTS if not typed[part]]
    if missing:
        return None, gettext(
            "Date must include a %(parts)s",
            parts=gettext(" and ").join(part_names()[p] for p in missing),
        )
    if not all(value.isdigit() for value in typed.values()):
        return None, gettext("Date must be a real date")
    if len(typed["year"]) != 4:
        return None, year_fault()
    try:
        day = dt.date(int(typed["year"]), int(typed["month"]), int(typed["day"]))
    except ValueError:
        return None, gettext("Date must be a real date")
    return day.isoformat(), None


def date_inputs(
    item: Item, value: Any, form: Mapping[str, str] | None, error: str | None
) -> list[dict[str, Any]]:
    """The day, month and year inputs of a date question (nhsuk date-input's items): what
    the person typed when the page comes back with an error, else the saved answer."""
    name = field_name(item)
    if form is not None and error is not None:
        typed = {part: form.get(f"{name}-{part}", "") for part in DATE_PARTS}
    elif isinstance(value, str) and value:
        year, month, day = value.split("-")
        typed = {"day": day.lstrip("0"), "month": month.lstrip("0"), "year": year}
    else:
        typed = dict.fromkeys(DATE_PARTS, "")
    # NHS pattern: only the parts that are missing are marked, or all when the date is wrong.
    blank = [part for part in DATE_PARTS if not typed[part].strip()]
    if error is None:
        marked: set[str] = set()
    elif error == year_fault():
        marked = {"year"}
    else:
        marked = set(blank if 0 < len(blank) < len(DATE_PARTS) else DATE_PARTS)
    return [
        {
            "id": f"{name}-{part}",
            "name": f"{name}-{part}",
            "label": {"text": part_labels()[part]},
            "value": typed[part],
            "width": 4 if part == "year" else 2,
            "classes": "nhsuk-input--error" if part in marked else "",
        }
        for part in DATE_PARTS
    ]


def _missing(item: Item) -> str:
    if item.type in ("choice", "boolean"):
        return gettext("Choose one answer")
    if item.type == "multi_choice":
        return gettext("Choose at least one answer")
    if item.type == "date":
        return gettext("Enter a date")
    return gettext("Answer this question")


def _plain(item: Item, fault: str) -> str:
    """The domain's fault in the words of the page."""
    if item.type in ("integer", "decimal"):
        return gettext("Enter a number that %(rule)s", rule=fault.removeprefix("must "))
    if item.type == "date":
        return gettext("Date must be a real date")
    if item.type == "text" and "characters" in fault:
        return gettext("Your answer is too long: it %(fault)s", fault=fault)
    return gettext("Choose from the options given")


def display(item: Item, value: Any) -> str:
    """An answer as the participant gave it, for the check-your-answers page."""
    if value is None:
        return gettext("Not answered")
    labels = {c.code: c.label for c in item.choices}
    if item.type == "choice":
        return labels.get(value, str(value))
    if item.type == "multi_choice":
        return ", ".join(labels.get(v, str(v)) for v in value) or gettext("None")
    if item.type == "boolean":
        return gettext("Yes") if value else gettext("No")
    if item.type == "decimal" and isinstance(value, float):
        return f"{value:g}"
    if item.type == "date" and isinstance(value, str):
        try:
            return format_date(dt.date.fromisoformat(value), "d MMMM y")
        except ValueError:
            return value
    return str(value)


def settle(
    instrument: Instrument, answers: Mapping[str, Any], page: Mapping[str, Any]
) -> dict[str, Any]:
    """The patch a page makes: its answers, and a clearing (None) for every earlier answer
    that the new answers no longer enable (skip logic hides it, so it must go)."""
    patch = dict(page)
    merged = {k: v for k, v in {**answers, **page}.items() if v is not None}
    while True:
        enabled = {item.id for item in enabled_items(instrument, merged)}
        hidden = [item_id for item_id in merged if item_id not in enabled]
        if not hidden:
            return patch
        for item_id in hidden:
            patch[item_id] = None
            merged.pop(item_id)
