"""NHS.UK components for choice questions, rendered once per distinct set of parameters.

A questionnaire page is mostly radios and checkboxes from nhsuk-frontend-jinja, and their
macros were most of a page's cost (about 25 ms of CPU for a PHQ-9 page, 84% of it in those
macros). What a macro writes depends on its parameters alone, and for a choice question those
are the question, its options, which are checked and the error message: a few thousand
combinations for the whole study. So each is rendered once and kept, in a bounded cache.

Only choice questions come here: what a participant typed (free text, numbers, dates) is
never kept beyond its request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import current_app
from jinja2 import Undefined
from markupsafe import Markup

MACROS = {
    "radios": "nhsuk/components/radios/macro.jinja",
    "checkboxes": "nhsuk/components/checkboxes/macro.jinja",
}
SIZE = 4096


def _key(value: Any) -> Any:
    """A hashable form of the parameters that tells apart what renders differently: markup
    from text, True from 1, a missing value from an empty one."""
    if isinstance(value, Markup):
        return ("markup", str(value))
    if isinstance(value, str):
        return ("text", value)
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, int | float):
        return ("number", type(value).__name__, value)
    if isinstance(value, Undefined):
        return ("undefined",)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _key(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_key(v) for v in value))
    raise TypeError(f"no cache key for a {type(value).__name__} parameter")


class Components:
    """``component(name, params)`` in a template: the macro's output, from the cache."""

    def __init__(self, size: int = SIZE):
        self.size = size
        self._rendered: OrderedDict[Any, Markup] = OrderedDict()
        self._lock = threading.Lock()  # gthread workers share it between threads

    def __call__(self, name: str, params: dict[str, Any]) -> Markup:
        key = (name, _key(params))
        with self._lock:
            found = self._rendered.get(key)
            if found is not None:
                self._rendered.move_to_end(key)
                return found
        macro = getattr(current_app.jinja_env.get_template(MACROS[name]).module, name)
        rendered = macro(params)
        if not isinstance(rendered, Markup):  # the environment autoescapes: macros give Markup
            raise TypeError(f"{name} did not render as markup")
        with self._lock:
            self._rendered[key] = rendered
            while len(self._rendered) > self.size:
                self._rendered.popitem(last=False)
        return rendered
