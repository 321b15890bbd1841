"""A tiny HTML reader for page tests: assert on structure (tags and attributes), not on text."""

from __future__ import annotations

from html.parser import HTMLParser


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def elements(html: bytes | str, tag: str) -> list[dict[str, str]]:
    """The attributes of every `tag` element."""
    parser = _Collector()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    return [attrs for name, attrs in parser.found if name == tag]
