"""The consent pages: the form's clauses as checkboxes, the typed name, the receipt.

The handler calls ``services.consent.sign_consent``, as the JSON view does; the faults it
reports come back in the error summary, in plain words, linked to the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import InvalidInputError, NotFoundError
from service.domain.instruments import Instrument
from service.resources import get_keys, ledger_writer
from service.services.consent import Receipt, history, sign_consent
from service.services.context import participant_context
from service.web.language import content_language, language_name, source_language
from service.web.participant import SERVICE_NAME, blp
from service.web.receipt_pdf import receipt_pdf
from service.web.words import format_datetime, gettext, lazy_gettext

NEED_TO_AGREE = lazy_gettext("You need to agree to this to take part")
# The checkboxes' own message when several needed boxes are blank (the summary names each).
SEVERAL_MISSING = lazy_gettext("Tick each box that says you need to agree to it to take part")
# What each clause is about, in a few words, for the error messages ("Tick the box to agree
# to ..."). The published form cannot change (its hash is signed), so the short names live
# here; a clause without one is named by its number.
CLAUSE_NAMES = {
    "c_information_sheet": lazy_gettext("having read the information sheet"),
    "c_voluntary": lazy_gettext("taking part of your own free will"),
    "c_audit": lazy_gettext("the study's records being checked"),
    "c_take_part": lazy_gettext("taking part in the study"),
    "c_contact_interview": lazy_gettext("being contacted about an interview"),
    "c_audio_recording": lazy_gettext("your interview being recorded"),
    "c_future_research": lazy_gettext("your data being used in future research"),
}


def clause_name(clause_id: str, number: int) -> str:
    """A clause's short name, or "statement N" for a clause this page has no name for."""
    if clause_id in CLAUSE_NAMES:
        return str(CLAUSE_NAMES[clause_id])
    return gettext("statement %(number)s", number=number)


def _study_id() -> str:
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError("Only a participant signs the consent form.")
    return study_id


def _page(errors: dict[str, str], ticked: set[str], name: str, status: int = 200) -> Response:
    form = _form()
    error_list = [{"text": text, "href": href} for href, text in errors.items()]
    page = render_template(
        "consent.html",
        form=form,
        errors=errors,
        error_list=error_list,
        clause_errors=[v for k, v in errors.items() if k.startswith("#clauses")],
        ticked=ticked,
        typed_name=name,
        need_to_agree=str(NEED_TO_AGREE),
        several_missing=str(SEVERAL_MISSING),
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
    form = _form()
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
            # The language and the hash of the exact text this form was shown in.
            language=request.form.get("form_language") or form.language,
            text_hash=request.form.get("text_hash") or None,
        )
    except InvalidInputError as exc:
        session.rollback()
        return _page(_plain_errors(exc.errors, form.items), ticked, name)
    return redirect(url_for("web.consent_receipt"), code=303)  # type: ignore[return-value]


def _plain_errors(faults: dict[str, list[str]], items: Any) -> dict[str, str]:
    """The service's faults in the words of the page, keyed by the field's anchor."""
    errors: dict[str, str] = {}
    if {"form_version", "form_hash", "text_hash"} & set(faults):
        errors["#clauses"] = gettext(
            "The consent form has changed since you opened this page. Read it again, then sign"
        )
    for number, item in enumerate(items, start=1):
        if f"clauses.{item.id}" in faults:
            anchor = "#clauses" if number == 1 else f"#clauses-{number}"
            errors[anchor] = gettext(
                "Tick the box to agree to %(what)s", what=clause_name(item.id, number)
            )
    if "typed_name" in faults:
        errors["#typed-name"] = (
            gettext("Type your full name to sign")
            if not request.form.get("typed_name", "").strip()
            else gettext("Your name is too long: shorten it to sign")
        )
    return errors


def _last_consent() -> Receipt:
    receipts = [r for r in history(get_session(), _study_id()) if r.type == "consent"]
    if not receipts:
        raise NotFoundError("You have not signed the consent form yet.")
    return receipts[-1]


def _form(language: str | None = None) -> Instrument:
    """The consent form in force, in ``language`` (by default the page's) where it has it."""
    catalogue = participant_context(get_session(), _study_id()).catalogue
    return catalogue.consent_form_in(language or content_language())


def _signed_form(receipt: Receipt) -> Instrument:
    """The version of the form the receipt is for, in the language it was signed in. A
    receipt from before languages were recorded was signed in the version's first language
    (every version then was in English only), whatever the page's language is now."""
    catalogue = participant_context(get_session(), _study_id()).catalogue
    current = catalogue.consent_form
    try:
        signed = catalogue.instrument(current.id, receipt.form_version or current.version)
    except NotFoundError:  # a version no longer published: the clauses' ids still hold
        signed = current
    return catalogue.instrument(signed.id, signed.version, receipt.language or signed.language)


def _clause_texts(signed: Instrument) -> dict[str, str]:
    """The clauses' texts as they were signed: that version, in that language."""
    return {item.id: item.text for item in signed.items}


def _language_rows(receipt: Receipt) -> list[dict[str, Any]]:
    """The receipt's language and the fingerprint of the exact text signed, if it names them."""
    if receipt.language is None:
        return []
    return [
        {
            "key": {"text": gettext("Language of the form")},
            "value": {"text": language_name(receipt.language)},
        },
        {
            "key": {"text": gettext("Fingerprint of the text you read")},
            "value": {"text": receipt.text_sha256 or ""},
        },
    ]


def signed_at(recorded_at: str) -> str:
    """A log time (ISO 8601, UTC) as a person reads it: "26 November 2026 at 17:05 (UTC)"."""
    when = dt.datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    return gettext(
        "%(date)s at %(time)s (UTC)",
        date=format_datetime(when, "d MMMM y"),
        time=format_datetime(when, "HH:mm"),
    )


@blp.route("/consent/receipt", methods=["GET"])
@participant_page
def consent_receipt() -> str:
    """What the participant signed, and where it sits in the consent log."""
    receipt = _last_consent()
    signed = _signed_form(receipt)  # one read of the participant's context
    return render_template(
        "consent_receipt.html",
        receipt=receipt,
        texts=_clause_texts(signed),
        form_language=source_language(signed),
        language_rows=_language_rows(receipt),
        signed_at=signed_at(receipt.recorded_at),
    )


@blp.route("/consent/receipt.pdf", methods=["GET"])
@participant_page
def consent_receipt_pdf() -> Response:
    """The receipt as a PDF to keep; never stored by a browser's cache or a proxy."""
    receipt = _last_consent()
    body = receipt_pdf(
        receipt, _clause_texts(_signed_form(receipt)), signed_at(receipt.recorded_at), SERVICE_NAME
    )
    answer = Response(body, mimetype="application/pdf")
    answer.headers["Content-Disposition"] = (
        f'attachment; filename="consent-receipt-{receipt.seq}.pdf"'
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer
