"""Answering a questionnaire: preamble, pages of a few questions, check, submit, result.

Every page saves a draft with ``services.responses.save_answers`` (the JSON API's PATCH);
coming back resumes at the first page with an unanswered question.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import ConflictError, InvalidInputError, NotFoundError
from service.domain.i18n import primary_subtag
from service.domain.instruments import Instrument
from service.domain.tasks import COMPLETED, Task
from service.resources import get_keys
from service.services import responses
from service.services.context import participant_context
from service.web import forms
from service.web.language import (
    content_language,
    localised,
    page_language,
    source_language,
    untranslated_note,
)
from service.web.participant import blp
from service.web.words import gettext, lazy_gettext

CHANGE_FIELD = "after"  # "check" on a page opened from the check page
TIMEPOINTS = {
    "baseline": lazy_gettext("Now"),
    "month-3": lazy_gettext("After 3 months"),
    "month-6": lazy_gettext("After 6 months"),
}


def _study_id() -> str:
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError("Only a participant answers questionnaires.")
    return study_id


def _go(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


def _response(response_id: uuid.UUID) -> tuple[responses.ResponseView, Instrument]:
    session = get_session()
    view = responses.get_response(session, get_keys(), _study_id(), response_id)
    return view, responses.instrument(session, view.instrument, view.version, content_language())


def _task(session: Session, timepoint: str, instrument_id: str) -> Task:
    """This participant's task for an instrument at a timepoint, or NotFoundError."""
    context = participant_context(session, _study_id())
    for task in responses.tasks_for(session, context):
        if task.timepoint == timepoint and task.instrument == instrument_id:
            return task
    raise NotFoundError(f"There is no questionnaire {instrument_id} at {timepoint}.")


@blp.route("/questionnaires/<timepoint>/<instrument_id>", methods=["GET"])
@participant_page
def questionnaire(timepoint: str, instrument_id: str) -> str:
    """A questionnaire's preamble, with a button to start (or a link to carry on)."""
    session = get_session()
    task = _task(session, timepoint, instrument_id)
    inst = responses.instrument(session, instrument_id, task.version, content_language())
    return render_template(
        "questionnaire.html",
        task=task,
        inst=inst,
        when=TIMEPOINTS.get(timepoint, timepoint),
        done=task.status == COMPLETED,
        language_note=language_note(inst),
    )


def language_note(inst: Instrument) -> str | None:
    """Why a questionnaire is in another language than the page, if it is (a standard
    scale is shown only in a published translation, and none is available for it here)."""
    if primary_subtag(source_language(inst)) == page_language():
        return None
    return untranslated_note(inst.id) or gettext(
        "This questionnaire is a standard scale, tested in the words it was published in. "
        "We do not have a published Welsh version of it, so it is shown in English. "
        "The study team can help if you have any questions about it."
    )


@blp.route("/questionnaires/<timepoint>/<instrument_id>", methods=["POST"])
@participant_page
def start_questionnaire(timepoint: str, instrument_id: str) -> Response:
    session = get_session()
    task = _task(session, timepoint, instrument_id)
    if task.response_id is not None:
        return _go("web.resume", response_id=task.response_id)
    try:
        started = responses.start_response(
            session,
            get_keys(),
            _study_id(),
            instrument_id=instrument_id,
            version=task.version,
            timepoint=timepoint,
            answers={},
            submit=False,
            language=content_language(),
        )
    except ConflictError:  # started a moment ago, in another tab
        session.rollback()
        return _go("web.home")
    return _go("web.resume", response_id=started.id)


@blp.route("/answers/<uuid:response_id>", methods=["GET"])
@participant_page
def resume(response_id: uuid.UUID) -> Response:
    """Carry on where the participant left off: the first page with an unanswered question."""
    view, inst = _response(response_id)
    if view.status == "submitted":
        return _go("web.done", response_id=response_id)
    pages = forms.pages_of(inst, view.answers)
    number = forms.first_unanswered_page(pages, view.answers)
    if number > len(pages):
        return _go("web.check", response_id=response_id)
    return _go("web.page", response_id=response_id, number=number)


def _render_page(
    view: responses.ResponseView,
    inst: Instrument,
    number: int,
    values: dict[str, Any],
    errors: dict[str, str],
    changing: bool = False,
) -> str:
    pages = forms.pages_of(inst, view.answers)
    items = pages[number - 1]
    shape = forms.layout(inst, view.answers, values, items)
    return render_template(
        "page.html",
        changing=changing,
        view=view,
        inst=inst,
        items=shape.shown,
        hidden=shape.hidden,
        known=shape.known,
        number=number,
        count=len(pages),
        values=values,
        errors=errors,
        error_list=[
            {"text": errors[forms.field_name(i)], "href": f"#{forms.field_id(i)}"}
            for i in shape.shown
            if forms.field_name(i) in errors
        ],
        field_name=forms.field_name,
        date_inputs=forms.date_inputs,
        typed=request.form if errors else None,
        change_field=CHANGE_FIELD,
    )


@blp.route("/answers/<uuid:response_id>/page/<int:number>", methods=["GET"])
@participant_page
def page(response_id: uuid.UUID, number: int) -> Response | str:
    return _show_page(response_id, number, changing=False)


@blp.route("/answers/<uuid:response_id>/page/<int:number>/change", methods=["GET"])
@participant_page
def change_page(response_id: uuid.UUID, number: int) -> Response | str:
    """A page opened from "Check your answers": saving it goes back to the check page."""
    return _show_page(response_id, number, changing=True)


def _show_page(response_id: uuid.UUID, number: int, *, changing: bool) -> Response | str:
    view, inst = _response(response_id)
    if view.status == "submitted":
        return _go("web.done", response_id=response_id)
    pages = forms.pages_of(inst, view.answers)
    if not 1 <= number <= len(pages):
        return _go("web.resume", response_id=response_id)
    return _render_page(view, inst, number, view.answers, {}, changing)


@blp.route("/answers/<uuid:response_id>/page/<int:number>", methods=["POST"])
@participant_page
def save_page(response_id: uuid.UUID, number: int) -> Response | str:
    view, inst = _response(response_id)
    if view.status == "submitted":
        return _go("web.done", response_id=response_id)
    pages = forms.pages_of(inst, view.answers)
    if not 1 <= number <= len(pages):
        return _go("web.resume", response_id=response_id)
    changing = request.form.get(CHANGE_FIELD) == "check"
    items = pages[number - 1]
    waiting = forms.waiting_items(inst, view.answers, items)
    read = forms.read_live_page(inst, view.answers, items, waiting, request.form)
    if read.errors:
        shown = {**view.answers, **{k: v for k, v in read.answers.items() if v is not None}}
        return _render_page(view, inst, number, shown, read.errors, changing)
    patch = forms.settle(inst, view.answers, read.answers)
    session = get_session()
    try:
        saved = responses.save_answers(session, get_keys(), _study_id(), response_id, patch)
    except InvalidInputError:
        session.rollback()
        return _go("web.resume", response_id=response_id)
    pages = forms.pages_of(inst, saved.answers)
    if changing:  # back to the check page, unless the change brought in a new question
        return _go("web.resume", response_id=response_id)
    if number < len(pages):
        return _go("web.page", response_id=response_id, number=number + 1)
    # An answer may have brought in a question on this page or an earlier one: a required
    # one is asked; optional ones left blank are named on the check page (you may skip them).
    required = any(i.required and i.id not in saved.answers for page in pages for i in page)
    return _go("web.resume" if required else "web.check", response_id=response_id)


@blp.route("/answers/<uuid:response_id>/check", methods=["GET"])
@participant_page
def check(response_id: uuid.UUID) -> Response | str:
    """Check your answers, with a link to change each."""
    view, inst = _response(response_id)
    if view.status == "submitted":
        return _go("web.done", response_id=response_id)
    pages = forms.pages_of(inst, view.answers)
    rows = [
        {
            "key": {"html": localised(item.text, inst)},
            "value": {"html": _shown_answer(item, view.answers.get(item.id), inst)},
            "actions": {
                "items": [
                    {
                        "href": url_for(
                            "web.change_page",
                            response_id=response_id,
                            number=number,
                            _anchor=forms.field_id(item),
                        ),
                        "text": gettext("Change"),
                        "visuallyHiddenText": localised(item.text, inst).striptags(),
                    }
                ]
            },
        }
        for number, items in enumerate(pages, start=1)
        for item in items
    ]
    skipped = [item for items in pages for item in items if item.id not in view.answers]
    # A required question blocks sending; an optional one left blank gets a gentle check.
    missing = any(item.required for item in skipped)
    return render_template(
        "check.html", view=view, inst=inst, rows=rows, missing=missing, skipped=len(skipped)
    )


@blp.route("/answers/<uuid:response_id>/check", methods=["POST"])
@participant_page
def submit(response_id: uuid.UUID) -> Response:
    session = get_session()
    try:
        responses.submit_response(session, get_keys(), _study_id(), response_id)
    except InvalidInputError:
        session.rollback()
        return _go("web.resume", response_id=response_id)
    except ConflictError:  # already submitted (a second tap)
        session.rollback()
    return _go("web.done", response_id=response_id)


@blp.route("/answers/<uuid:response_id>/done", methods=["GET"])
@participant_page
def done(response_id: uuid.UUID) -> Response | str:
    """After submitting: any signposting first, then the scores in words."""
    view, inst = _response(response_id)
    if view.status != "submitted":
        return _go("web.resume", response_id=response_id)
    return render_template("done.html", view=view, inst=inst)


def _shown_answer(item: Any, value: Any, inst: Instrument) -> Markup:
    """An answer on the check page: a choice's label is the instrument's text (marked with
    its language), anything else the page's own words."""
    if item.type == "choice" and value is not None:
        return localised(forms.display(item, value), inst)
    return escape(forms.display(item, value))
