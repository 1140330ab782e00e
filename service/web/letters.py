"""The letter that carries a participant's link: a template per deployment.

``PSAM_LETTER_TEMPLATE`` names an HTML file (Jinja) that the study team writes in its own
words; unset, ``letters/invitation.html`` is used. It is rendered in a sandbox (no access to
the service's objects, only the values below, autoescaped) inside the page that shows the
link once, and a print style sheet prints only the letter. The template is read and compiled
at start, so a broken one stops the service with its name rather than failing a researcher.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from service.config import PROJECT_ROOT, ConfigError

DEFAULT = PROJECT_ROOT / "letters" / "invitation.html"
_SANDBOX = SandboxedEnvironment(autoescape=True)


def load_letter(path: str | None) -> Template:
    """The deployment's letter template, compiled; ConfigError naming the setting if not."""
    where = Path(path) if path else DEFAULT
    try:
        return _SANDBOX.from_string(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("PSAM_LETTER_TEMPLATE", f"cannot read {where}: {exc.strerror}") from None
    except TemplateSyntaxError as exc:
        raise ConfigError(
            "PSAM_LETTER_TEMPLATE", f"{where} line {exc.lineno}: {exc.message}"
        ) from None


def render_letter(
    template: Template, *, study_id: str, link: str, access_code: str, qr_svg: str, today: dt.date
) -> Markup:
    """The letter for one participant (the QR code's SVG is ours, so it is not escaped)."""
    return Markup(  # noqa: S704  # nosec B704 (autoescaped sandbox output)
        template.render(
            study_id=study_id,
            link=link,
            access_code=access_code,
            qr_code=Markup(qr_svg),  # noqa: S704  # nosec B704 (made by segno from the link)
            today=today.strftime("%-d %B %Y"),
        )
    )
