"""A thin HTML-to-text extractor on the standard library.

It keeps visible block text and drops scripts, styles and the usual page chrome
(``nav``, ``header``, ``footer``, ``aside``, forms). It is the web path's baseline; a
maintained main-content extractor replaces it where quality matters.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form",
         "button", "select", "iframe", "head"}
_BLOCK = {"p", "div", "section", "article", "main", "br", "li", "ul", "ol", "tr", "table", "pre",
          "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "dl", "figcaption", "hr"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.in_title = False
        self.in_pre = 0
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in _VOID:
            if tag in _BLOCK:
                self.parts.append("\n")
            return
        if tag in _SKIP or self.skip_depth:
            self.skip_depth += 1
            return
        if tag == "pre":
            self.in_pre += 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _VOID:
            return
        if self.skip_depth:
            self.skip_depth -= 1
            return
        if tag == "pre" and self.in_pre:
            self.in_pre -= 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        if self.skip_depth:
            return
        self.parts.append(data if self.in_pre else re.sub(r"\s+", " ", data))


def extract_text(html: str) -> tuple[str, str]:
    """Return ``(text, title)`` of an HTML page; paragraphs separated by blank lines."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, " ".join(parser.title.split())
