"""A date question on a page: the NHS date-input component, its error linked to the day."""

from __future__ import annotations

from flask import Flask, render_template

from service.web import forms
from tests.unit.test_date_input import WHEN, typed
from tests.web.conftest import Page


def test_the_page_renders_a_date_as_the_nhs_date_input(app: Flask) -> None:
    with app.test_request_context("/p/answers/x/page/1"):
        html = render_template(
            "page.html",
            view={"id": "00000000-0000-0000-0000-000000000000"},
            inst={"title": "About you", "definition": {}},
            items=[WHEN],
            number=1,
            count=1,
            values={},
            errors={"item-loss_date": "Date must be a real date"},
            error_list=[{"text": "Date must be a real date", "href": "#item-loss_date-day"}],
            field_name=forms.field_name,
            date_inputs=forms.date_inputs,
            typed=typed("31", "2", "2025"),
            changing=False,
            change_field="after",
        )
    page = Page(html)
    assert "When did your loss happen?" in page._all("legend")
    assert page.labels[:3] == ["Day", "Month", "Year"]
    assert 'id="item-loss_date-day"' in html
    assert 'name="item-loss_date-year"' in html
    assert 'value="31"' in html
    assert page.href("Date must be a real date") == "#item-loss_date-day"
    assert "nhsuk-date-input" in html
