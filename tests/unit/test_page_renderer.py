"""The instrument renderer of the pages (service/web/forms.py): pages, skip logic, answers."""

from __future__ import annotations

import json

from werkzeug.datastructures import MultiDict

from service.domain.instruments import Instrument, parse_instrument
from service.web import forms
from tests.conftest import INSTRUMENTS


def load(instrument: str) -> Instrument:
    return parse_instrument(json.loads((INSTRUMENTS / instrument / "1.0.0.json").read_text()))


GAD7 = load("gad-7")
ALL_ZERO = {f"gad7_{i}": 0 for i in range(1, 8)}


def ids(pages: list[list[object]]) -> list[list[str]]:
    return [[item.id for item in page] for page in pages]  # type: ignore[attr-defined]


def test_items_come_a_few_to_a_page() -> None:
    pages = ids(forms.pages_of(GAD7, {}))
    assert pages == [["gad7_1", "gad7_2", "gad7_3", "gad7_4"], ["gad7_5", "gad7_6", "gad7_7"]]


def test_an_item_the_answers_do_not_enable_is_on_no_page() -> None:
    assert all("gad7_8" not in page for page in ids(forms.pages_of(GAD7, ALL_ZERO)))


def test_an_item_the_answers_enable_joins_the_pages() -> None:
    pages = ids(forms.pages_of(GAD7, {**ALL_ZERO, "gad7_3": 2}))
    assert pages[-1] == ["gad7_5", "gad7_6", "gad7_7", "gad7_8"]


def test_the_first_unanswered_page_is_where_a_participant_resumes() -> None:
    pages = forms.pages_of(GAD7, {})
    assert forms.first_unanswered_page(pages, {}) == 1
    assert forms.first_unanswered_page(pages, {f"gad7_{i}": 1 for i in range(1, 5)}) == 2
    assert forms.first_unanswered_page(pages, ALL_ZERO) == 3  # past the last: check answers


def test_a_page_reads_codes_as_whole_numbers() -> None:
    page = forms.pages_of(GAD7, {})[0]
    form = MultiDict({f"item-gad7_{i}": "2" for i in range(1, 5)})
    read = forms.read_page(page, form)
    assert read.errors == {}
    assert read.answers == {f"gad7_{i}": 2 for i in range(1, 5)}


def test_a_required_question_left_blank_is_named_in_plain_words() -> None:
    page = forms.pages_of(GAD7, {})[0]
    read = forms.read_page(page, MultiDict({"item-gad7_1": "1"}))
    assert read.errors == {f"item-gad7_{i}": "Choose one answer" for i in range(2, 5)}


def test_a_code_that_is_not_an_option_is_refused() -> None:
    page = forms.pages_of(GAD7, {})[0]
    form = MultiDict({**{f"item-gad7_{i}": "1" for i in range(2, 5)}, "item-gad7_1": "9"})
    assert forms.read_page(page, form).errors == {"item-gad7_1": "Choose from the options given"}
    form = MultiDict({**{f"item-gad7_{i}": "1" for i in range(2, 5)}, "item-gad7_1": "lots"})
    assert forms.read_page(page, form).errors == {"item-gad7_1": "Choose one of the options given"}


def test_an_answer_that_hides_a_later_item_clears_it() -> None:
    answered = {**ALL_ZERO, "gad7_3": 2, "gad7_8": 1}
    patch = forms.settle(GAD7, answered, {"gad7_3": 0})
    assert patch == {"gad7_3": 0, "gad7_8": None}


def test_an_answer_that_keeps_a_later_item_leaves_it() -> None:
    answered = {**ALL_ZERO, "gad7_3": 2, "gad7_8": 1}
    assert forms.settle(GAD7, answered, {"gad7_1": 1}) == {"gad7_1": 1}


def test_answers_are_shown_in_the_words_of_the_options() -> None:
    item = GAD7.by_id["gad7_1"]
    assert forms.display(item, 1) == "Several days"
    assert forms.display(item, None) == "Not answered"
