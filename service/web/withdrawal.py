"""Leaving the study: the three scopes in plain words, a confirmation, then what happened.

The handler calls ``services.consent.withdraw``, as the JSON view does (and, for an erasure,
runs the purge after the commit, as the JSON view does).
"""

from __future__ import annotations

from flask import Response, render_template, request

from service.api.access import current_principal, participant_page
from service.api.erasure import purge_after_commit
from service.db import get_session
from service.domain.consent import WITHDRAWAL_SCOPES
from service.domain.errors import ConflictError, NotFoundError
from service.resources import ledger_writer
from service.services.consent import withdraw
from service.web import session as web_session
from service.web.participant import blp
from service.web.words import lazy_gettext

CHOICES = {
    "no-further-contact": (
        lazy_gettext("Stop contacting me"),
        lazy_gettext(
            "We will not contact you again. The answers you have given stay in the study, and you "
            "can still answer questionnaires here if you want to."
        ),
    ),
    "stop": (
        lazy_gettext("Stop taking part"),
        lazy_gettext(
            "You will not be asked any more questions. The answers you have already given stay in "
            "the study and may be used in its results. You cannot undo this."
        ),
    ),
    "stop-and-erase": (
        lazy_gettext("Stop taking part and delete my answers"),
        lazy_gettext(
            "You will not be asked any more questions. Your answers and your contact details are "
            "deleted for good, and your link stops working. We keep only a record that you left, "
            "without your name or answers. You cannot undo this."
        ),
    ),
}
NO_CHOICE = lazy_gettext("Choose what you would like to do")


def _page(error: object = None) -> Response:
    error = str(error) if error else None
    page = render_template(
        "withdraw.html",
        choices={scope: (str(text), str(meaning)) for scope, (text, meaning) in CHOICES.items()},
        errors={"scope": error} if error else {},
        error_list=[{"text": error, "href": "#scope"}] if error else [],
    )
    return Response(page, mimetype="text/html")


@blp.route("/withdraw", methods=["GET"])
@participant_page
def leave() -> Response:
    """The three ways to leave the study, and what each keeps and removes."""
    return _page()


@blp.route("/withdraw", methods=["POST"])
@participant_page
def confirm_leave() -> Response | str:
    scope = request.form.get("scope", "")
    if scope not in CHOICES:
        return _page(NO_CHOICE)
    title, meaning = CHOICES[scope]
    return render_template(
        "withdraw_confirm.html", scope=scope, title=str(title), meaning=str(meaning)
    )


@blp.route("/withdraw/confirm", methods=["POST"])
@participant_page
def withdrawn() -> Response | str:
    scope = request.form.get("scope", "")
    if scope not in WITHDRAWAL_SCOPES:
        return _page(NO_CHOICE)
    principal = current_principal()
    if principal.study_id is None:
        raise NotFoundError("Only a participant withdraws themselves.")
    session = get_session()
    if scope == "stop-and-erase":
        purge_after_commit()
    try:
        receipt = withdraw(session, ledger_writer(session), principal, principal.study_id, scope)
    except ConflictError as exc:
        session.rollback()
        return render_template("withdrawn.html", scope=None, problem=str(exc), receipt=None)
    if scope == "stop-and-erase":
        web_session.forget()  # the erasure revoked the token, which ended its sessions
    return render_template("withdrawn.html", scope=scope, problem=None, receipt=receipt)
