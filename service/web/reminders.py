"""The participant's choice of reminders: by email, or none.

The handler calls ``services.notifications.choose_reminders``; the page says plainly when no
email address is on file, in which case no reminder can be sent whatever is chosen.
"""

from __future__ import annotations

from flask import Response, render_template, request

from service.api.access import current_principal, participant_page
from service.db import get_session
from service.domain.errors import NotFoundError
from service.services import notifications
from service.services.context import participant_context
from service.web.participant import blp
from service.web.words import lazy_gettext

CHOICES = {
    "email": lazy_gettext(
        "Yes, email me when a questionnaire is ready and if I have not filled it in"
    ),
    "none": lazy_gettext("No, do not send me reminders"),
}
NO_CHOICE = lazy_gettext("Choose whether you want reminders by email")


def _page(study_id: str, *, error: object = None, saved: bool = False) -> Response:
    error = str(error) if error else None
    session = get_session()
    reach = notifications.reminder_reach(
        session, study_id, participant_context(session, study_id).consent
    )
    by_email = notifications.reminder_choice(session, study_id)
    page = render_template(
        "reminders.html",
        choices={value: str(text) for value, text in CHOICES.items()},
        chosen="email" if by_email else "none",
        no_email=reach.reason == "no email address",
        saved=saved,
        errors={"reminders": error} if error else {},
        error_list=[{"text": error, "href": "#reminders"}] if error else [],
    )
    return Response(page, status=400 if error else 200, mimetype="text/html")


def _study_id() -> str:
    study_id = current_principal().study_id
    if study_id is None:
        raise NotFoundError("Only a participant has reminders.")
    return study_id


@blp.route("/reminders", methods=["GET"])
@participant_page
def reminders() -> Response:
    """Whether to get reminders by email."""
    return _page(_study_id())


@blp.route("/reminders", methods=["POST"])
@participant_page
def choose_reminders() -> Response:
    study_id = _study_id()
    choice = request.form.get("reminders", "")
    if choice not in CHOICES:
        return _page(study_id, error=NO_CHOICE)
    notifications.choose_reminders(get_session(), study_id, by_email=choice == "email")
    return _page(study_id, saved=True)
