"""The cache of rendered choice components: the same HTML as the macro, and never a mix-up."""

from __future__ import annotations

import pytest
from flask import Flask, render_template_string
from markupsafe import Markup

from service.web.components import Components, _key

RADIOS = {
    "idPrefix": "a-phq9_1",
    "name": "a-phq9_1",
    "fieldset": {"legend": {"text": "Little interest <or> pleasure", "size": "s"}},
    "items": [
        {"value": 0, "text": "Not at all", "checked": False},
        {"value": 1, "text": "Several days", "checked": True},
    ],
}


def test_a_cached_component_is_what_the_macro_writes(app: Flask) -> None:
    components = Components(size=2)
    with app.test_request_context():
        direct = render_template_string(
            '{%- from "nhsuk/components/radios/macro.jinja" import radios -%}{{ radios(p) }}',
            p=RADIOS,
        )
        first = components("radios", RADIOS)
        assert str(first) == direct and "&lt;or&gt;" in direct
        assert components("radios", RADIOS) is first  # from the cache
        other = {**RADIOS, "items": [{**i, "checked": not i["checked"]} for i in RADIOS["items"]]}
        assert components("radios", other) != first
        components("checkboxes", RADIOS)
        assert len(components._rendered) == 2  # bounded: the oldest went
        assert components("radios", RADIOS) is not first


def test_the_key_tells_apart_what_renders_differently() -> None:
    assert _key(Markup("<b>x</b>")) != _key("<b>x</b>")
    assert _key(True) != _key(1) and _key(0) != _key(False) and _key(1) != _key(1.0)
    assert _key({"a": None}) != _key({"a": ""}) != _key({})
    with pytest.raises(TypeError):
        _key(object())
