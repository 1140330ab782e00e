"""Helpers for page tests: a browser-like client that reads pages as a person would."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class _Text(HTMLParser):
    """The text of a page, and of its parts a test asks about (headings, links, labels)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, list[str]] = {}
        self._open: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.hidden[str(found["name"])] = str(found.get("value") or "")
        if tag in ("h1", "h2", "a", "label", "legend", "title", "button", "li"):
            self._open.append((tag, found))
            self.parts.setdefault(tag, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for tag, _ in self._open:
            self.parts[tag][-1] += data


class Page:
    def __init__(self, html: str):
        self.html = html
        parser = _Text()
        parser.feed(html)
        self._parser = parser

    def _all(self, tag: str) -> list[str]:
        return [" ".join(t.split()) for t in self._parser.parts.get(tag, [])]

    @property
    def title(self) -> str:
        return self._all("title")[0]

    @property
    def h1(self) -> str:
        return self._all("h1")[0]

    @property
    def headings(self) -> list[str]:
        return self._all("h1") + self._all("h2")

    @property
    def links(self) -> list[str]:
        return self._all("a")

    @property
    def labels(self) -> list[str]:
        return self._all("label")

    @property
    def text(self) -> str:
        return " ".join("".join(self._parser.text).split())

    @property
    def csrf(self) -> str:
        return self._parser.hidden["csrf_token"]

    def href(self, link_text: str) -> str:
        """Where the link whose text starts with ``link_text`` leads (an action link's
        text sits in a span beside its icon)."""
        for found in re.finditer(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', self.html, re.S):
            text = " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())
            if text.startswith(link_text):
                return found.group(1)
        raise AssertionError(f"no link {link_text!r}")


@pytest.fixture
def read() -> Callable[..., Page]:
    def page(client: FlaskClient, path: str, status: int = 200) -> Page:
        response = client.get(path, headers=HTML)
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        assert response.mimetype == "text/html"
        return Page(response.get_data(as_text=True))

    return page
