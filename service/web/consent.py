"""The consent pages: the form's clauses as checkboxes, the typed name, the receipt.

The handler calls ``services.consent.sign_consent``, as the JSON view does; the faults it
reports come back in the error summary, in plain words, linked to the field.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import InvalidInputError, NotFoundError
from service.resources import get_keys, ledger_writer
from service.services.consent import history, sign_consent
from service.services.context import participant_context
from service.web.participant import blp

NEED_TO_AGREE = "You need to agree to this to take part"


def _study_id() -> str:
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError("Only a participant signs the consent form.")
    return study_id


def _page(errors: dict[str, str], ticked: set[str], name: str, status: int = 200) -> Response:
    form = participant_context(get_session(), _study_id()).catalogue.consent_form
    error_list = [{"text": text, "href": href} for href, text in errors.items()]
    page = render_template(
        "consent.html",
        form=form,
        errors=errors,
        error_list=error_list,
        clause_error=". ".join(v for k, v in errors.items() if k.startswith("#clauses")),
        ticked=ticked,
        typed_name=name,
        need_to_agree=NEED_TO_AGREE,
    )
    return Response(page, status=status, mimetype="text/html")


@blp.route("/consent", methods=["GET"])
@participant_page
def consent_form() -> Response:
    """The consent form in force, to read and sign."""
    return _page({}, set(), "")


@blp.route("/consent", methods=["POST"])
@participant_page
def sign() -> Response:
    session = get_session()
    form = participant_context(session, _study_id()).catalogue.consent_form
    ticked = set(request.form.getlist("clauses"))
    name = request.form.get("typed_name", "")
    clauses = {item.id: item.id in ticked for item in form.items}
    try:
        sign_consent(
            session,
            get_keys(),
            ledger_writer(session),
            current_principal(),
            per_day=current_app.config["PSAM_CONSENT_SIGNINGS_PER_DAY"],
            form_version=request.form.get("form_version", ""),
            form_hash=request.form.get("form_hash", ""),
            clauses=clauses,
            typed_name=name,
        )
    except InvalidInputError as exc:
        session.rollback()
        return _page(_plain_errors(exc.errors, form.items), ticked, name)
    return redirect(url_for("web.consent_receipt"), code=303)  # type: ignore[return-value]


def _plain_errors(faults: dict[str, list[str]], items: Any) -> dict[str, str]:
    """The service's faults in the words of the page, keyed by the field's anchor."""
    errors: dict[str, str] = {}
    if "form_version" in faults or "form_hash" in faults:
        errors["#clauses"] = (
            "The consent form has changed since you opened this page. Read it again, then sign"
        )
    for number, item in enumerate(items, start=1):
        if f"clauses.{item.id}" in faults:
            anchor = "#clauses" if number == 1 else f"#clauses-{number}"
            errors[anchor] = f"Tick “{item.text}” to take part: {NEED_TO_AGREE.lower()}"
    if "typed_name" in faults:
        errors["#typed-name"] = (
            "Type your full name to sign"
            if not request.form.get("typed_name", "").strip()
            else "Your name is too long: shorten it to sign"
        )
    return errors


@blp.route("/consent/receipt", methods=["GET"])
@participant_page
def consent_receipt() -> str:
    """What the participant signed, and where it sits in the consent log."""
    receipts = [r for r in history(get_session(), _study_id()) if r.type == "consent"]
    if not receipts:
        raise NotFoundError("You have not signed the consent form yet.")
    form = participant_context(get_session(), _study_id()).catalogue.consent_form
    texts = {item.id: item.text for item in form.items}
    return render_template("consent_receipt.html", receipt=receipts[-1], texts=texts)
