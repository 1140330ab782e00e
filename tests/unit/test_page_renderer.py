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


ABOUT_YOU = load("about-you")


def test_a_condition_names_the_questions_it_reads() -> None:
    assert forms.condition_items(None) == set()
    gad7_8 = next(item for item in GAD7.items if item.id == "gad7_8")
    assert forms.condition_items(gad7_8.enable_when) == {f"gad7_{i}" for i in range(1, 8)}


def test_a_question_an_answer_on_the_page_may_bring_in_waits_on_that_page() -> None:
    page = forms.pages_of(ABOUT_YOU, {})[0]
    assert [item.id for item in forms.waiting_items(ABOUT_YOU, {}, page)] == ["ay_role_other"]
    later = forms.pages_of(ABOUT_YOU, {})[1]
    assert forms.waiting_items(ABOUT_YOU, {}, later) == []
    shape = forms.layout(ABOUT_YOU, {}, {}, page)
    assert [item.id for item in shape.shown][:2] == ["ay_role", "ay_role_other"]
    assert shape.hidden == {"ay_role_other"}
    assert forms.layout(ABOUT_YOU, {}, {"ay_role": 3}, page).hidden == set()


def test_the_script_gets_only_the_saved_answers_that_the_page_conditions_read() -> None:
    first = {f"gad7_{i}": 0 for i in range(1, 5)}
    saved = {**first, "gad7_1": 2}
    page = forms.pages_of(GAD7, saved)[1]
    shape = forms.layout(GAD7, saved, saved, page)
    assert shape.known == saved
    assert forms.layout(GAD7, saved, saved, forms.pages_of(GAD7, saved)[0]).known == {}


def test_a_posted_page_reads_what_its_answers_bring_in_and_drops_what_they_leave_out() -> None:
    page = forms.pages_of(ABOUT_YOU, {})[0]
    waiting = forms.waiting_items(ABOUT_YOU, {}, page)
    base = {"item-ay_age_band": "1", "item-ay_months_since": "2"}
    brought = forms.read_live_page(
        ABOUT_YOU,
        {},
        page,
        waiting,
        MultiDict({**base, "item-ay_role": "3", "item-ay_role_other": "x"}),
    )
    assert brought.errors == {}
    assert brought.answers["ay_role_other"] == "x"
    left = forms.read_live_page(
        ABOUT_YOU,
        {},
        page,
        waiting,
        MultiDict({**base, "item-ay_role": "1", "item-ay_role_other": "x"}),
    )
    assert "ay_role_other" not in left.answers
    # A required question that an answer on its own page leaves out is not asked for.
    data = json.loads((INSTRUMENTS / "gad-7" / "1.0.0.json").read_text())
    data["items"][7]["required"] = True
    strict = parse_instrument(data)
    saved = {**ALL_ZERO, "gad7_7": 1}
    gad_page = forms.pages_of(strict, saved)[1]
    assert "gad7_8" in [item.id for item in gad_page]
    emptied = MultiDict({f"item-gad7_{i}": "0" for i in range(5, 8)})
    assert forms.read_page(gad_page, emptied).errors == {"item-gad7_8": "Choose one answer"}
    assert forms.read_live_page(strict, saved, gad_page, [], emptied).errors == {}
