"""Moving through a page with the keyboard alone, and seeing where the focus is.

Before a page is walked, the look of everything that can take focus is noted; after each
Tab, the focused element (or, for a radio or checkbox, its label's drawn box) must look
different from that note: a focus a person can see. Only ``page.keyboard`` moves anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Page

# Styles that show focus in the NHS.UK frontend: the yellow outline, box-shadow or background.
_NOTE_LOOKS = """() => {
  const look = (el) => {
    const parts = [getComputedStyle(el)];
    for (const label of el.labels || []) parts.push(getComputedStyle(label, "::before"));
    return JSON.stringify(parts.map((s) => [s.outlineStyle, s.outlineColor, s.outlineWidth,
      s.boxShadow, s.backgroundColor, s.color, s.textDecorationLine, s.clipPath, s.width]));
  };
  window.psamLook = look;
  window.psamUnfocused = new Map();
  for (const el of document.querySelectorAll("a[href], button, input, select, textarea")) {
    window.psamUnfocused.set(el, look(el));
  }
}"""

_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || !window.psamUnfocused) return null;
  const label = el.labels && el.labels.length ? el.labels[0].innerText
    : (el.innerText || el.value || el.getAttribute("aria-label") || "");
  return {
    name: label.replace(/\\s+/g, " ").trim(),
    role: el.type === "radio" || el.type === "checkbox" ? el.type : el.tagName.toLowerCase(),
    shown: window.psamUnfocused.has(el) && window.psamUnfocused.get(el) !== window.psamLook(el),
    inMain: el.closest("main") !== null,
    checked: Boolean(el.checked),
  };
}"""


@dataclass(frozen=True)
class Focus:
    name: str
    role: str
    shown: bool
    in_main: bool
    checked: bool


def note_looks(page: Page) -> None:
    """Note how every focusable element looks without focus (call once a page has loaded)."""
    page.evaluate(_NOTE_LOOKS)


def focused(page: Page) -> Focus | None:
    found = page.evaluate(_FOCUSED)
    if found is None:
        return None
    return Focus(found["name"], found["role"], found["shown"], found["inMain"], found["checked"])


def tab(page: Page, backwards: bool = False) -> Focus:
    """Press Tab; the element that has the focus, which must show it."""
    page.keyboard.press("Shift+Tab" if backwards else "Tab")
    now = focused(page)
    assert now is not None, "Tab left the focus nowhere"
    assert now.shown, f"the focus on {now} cannot be seen"
    return now


def tab_to(page: Page, name: str | re.Pattern[str], role: str | None = None) -> list[Focus]:
    """Tab until the element named ``name`` has the focus; every focus on the way."""
    way: list[Focus] = []
    for _ in range(80):
        way.append(tab(page))
        matches = (
            re.search(name, way[-1].name) if isinstance(name, re.Pattern) else way[-1].name == name
        )
        if matches and (role is None or way[-1].role == role):
            return way
    raise AssertionError(f"Tab never reached {name!r}: {[f.name for f in way]}")
