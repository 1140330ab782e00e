"""Pages for people, rendered on the server: the participant's journey under /p/, the
staff console under /staff/.

Beside ``api/``, never under it: a page handler parses a form, calls the same service
function the JSON view calls and renders a template. The pages stay out of the OpenAPI
document (a plain Flask blueprint), and each declares who may see it with the decorators of
``service.api.access`` (``public`` or ``participant_page``), so the route-walking tests
cover them like every other route.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, PackageLoader

from service.web import answering as _answering_pages  # noqa: F401 (adds its routes to blp)
from service.web import consent as _consent_pages  # noqa: F401 (adds its routes to blp)
from service.web import contact as _contact_pages  # noqa: F401 (adds its routes to blp)
from service.web import interviews as _interview_pages  # noqa: F401 (adds its routes to blp)
from service.web import language_switch as _language_switch  # noqa: F401 (adds its route)
from service.web import participant, staff
from service.web import reminders as _reminder_pages  # noqa: F401 (adds its routes to blp)
from service.web import staff_audit as _audit_pages  # noqa: F401 (adds its routes to blp)
from service.web import staff_exports as _export_pages  # noqa: F401 (adds its routes to blp)
from service.web import staff_interviews as _staff_interview_pages  # noqa: F401 (adds routes)
from service.web import staff_recordings as _recording_pages  # noqa: F401 (adds its routes)
from service.web import welcome as _welcome_page  # noqa: F401 (adds its route to blp)
from service.web import withdrawal as _withdrawal_pages  # noqa: F401 (adds its routes to blp)
from service.web.components import Components
from service.web.language import init_languages
from service.web.letters import load_letter

TEMPLATES = Path(__file__).parent / "templates"


def init_web(app: Flask) -> None:
    """Register the participant pages and the templates they use."""
    app.jinja_options = {
        **app.jinja_options,
        # nhsuk-frontend-jinja's macros read optional parameters through chained lookups.
        "undefined": ChainableUndefined,
        "loader": ChoiceLoader(
            [FileSystemLoader(TEMPLATES), PackageLoader("nhsuk_frontend_jinja")]
        ),
        "autoescape": True,
    }
    init_languages(app)
    app.add_template_global(Components(), "component")
    app.extensions["psam_letter"] = load_letter(app.config.get("PSAM_LETTER_TEMPLATE"))
    app.register_blueprint(participant.blp)
    app.register_blueprint(staff.blp)
