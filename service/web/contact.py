"""The participant's contact details, under the consent clause for interview contact.

Contact details are never questionnaire answers (about-you 1.1.0 no longer asks for them):
this page writes them to the identity vault only, through the same service the researcher's
contact view reads, and only while the participant's consent includes being contacted.
"""

from __future__ import annotations

from flask import Response, render_template, request
from marshmallow import ValidationError

from schemas.consent import ContactSchema
from service.api.access import participant_page
from service.db import get_session
from service.resources import get_keys
from service.services.context import participant_context
from service.services.participants import give_contact_details
from service.web.participant import blp, own_study_id
from service.web.words import lazy_gettext

FIELDS = {
    "name": lazy_gettext("Your name"),
    "email": lazy_gettext("Email address"),
    "phone": lazy_gettext("Phone number"),
}
NOTHING = lazy_gettext("Enter at least one way for the study team to contact you")


def _page(values: dict[str, str], errors: dict[str, str], saved: bool = False) -> Response:
    context = participant_context(get_session(), own_study_id("contact details"))
    page = render_template(
        "contact.html",
        fields={name: str(label) for name, label in FIELDS.items()},
        allowed=context.consent.allows_contact,
        values=values,
        errors=errors,
        error_list=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
        saved=saved,
    )
    return Response(page, mimetype="text/html")


@blp.route("/contact", methods=["GET"])
@participant_page
def contact() -> Response:
    """How to reach you about an interview, if you agreed to be contacted."""
    return _page({}, {})


@blp.route("/contact", methods=["POST"])
@participant_page
def give_contact() -> Response:
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    given = {name: value for name, value in values.items() if value}
    errors: dict[str, str] = {}
    if not given:
        errors["name"] = str(NOTHING)
    else:
        try:
            ContactSchema().load(given)
        except ValidationError as exc:
            messages = exc.messages_dict
            errors = {
                name: f"{FIELDS[name]}: {' '.join(str(m) for m in messages[name])}".rstrip(".")
                for name in FIELDS
                if name in messages
            }
    if errors:
        return _page(values, errors)
    give_contact_details(get_session(), get_keys(), own_study_id("contact details"), given)
    return _page({}, {}, saved=True)
