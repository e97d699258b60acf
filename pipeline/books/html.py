"""Text of an (X)HTML book or EPUB chapter: headings and paragraphs as lines, the head's metadata.

Unlike the web extractor (``html_extract``) it keeps ``header``, ``footer`` and ``aside``: in a
book they hold chapter titles and footnotes, not site chrome. ``<br>`` is a single line break
so that verse keeps its lines; ``<p>`` and headings are separated by blank lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from pipeline.read.records import RecordError

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "math", "object", "iframe", "form"}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "nav",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "pre",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "dd",
    "dt",
    "dl",
    "figure",
    "figcaption",
    "hr",
    "body",
}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
_AUTHOR_META = {"author", "dc.creator", "dcterms.creator"}
_LANG_META = {"dc.language", "dcterms.language", "language", "content-language"}
_PROTECT, _UNPROTECT = str.maketrans(" \t", "\0\1"), str.maketrans("\0\1", " \t")  # <pre> indentation


@dataclass
class HtmlBook:
    text: str
    title: str = ""
    author: str = ""
    language: str = ""


class _BookParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0
        self.in_title = False
        self.title = ""
        self.meta: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "html" and (a.get("lang") or a.get("xml:lang")):
            self.meta.setdefault("html-lang", []).append(a.get("lang") or a["xml:lang"])
        elif tag == "meta":
            key = (a.get("name") or a.get("http-equiv") or "").lower()
            if key and a.get("content"):
                self.meta.setdefault(key, []).append(a["content"].strip())
        elif tag == "title":
            self.in_title = True
        if tag == "br" and not self.skip:
            self.parts.append("\n")
        if tag in _VOID:
            return
        if tag in _SKIP or self.skip:
            self.skip += 1
            return
        self.pre += tag == "pre"
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _VOID:
            return
        if self.skip:
            self.skip -= 1
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        if not self.skip:
            # inside <pre>, leading spaces are protected from the line stripping below
            self.parts.append(
                re.sub(r"(?m)^[ \t]+", lambda m: m.group().translate(_PROTECT), data)
                if self.pre
                else re.sub(r"\s+", " ", data)
            )


_DECLARED = re.compile(rb"""<\?xml[^>]*encoding=["']([\w.:-]+)|<meta[^>]*charset=["']?([\w.:-]+)""", re.I)


def decode_markup(data: bytes, fallback: str | None) -> tuple[str, str]:
    """``(text, encoding)``: a BOM, else UTF-8, else the encoding the document declares, else ``fallback``."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    m = _DECLARED.search(data[:2048])
    declared = (m.group(1) or m.group(2)).decode("ascii") if m else None
    for enc in dict.fromkeys(e for e in ("utf-8-sig", declared, fallback) if e):
        try:
            return data.decode(enc), enc.removesuffix("-sig").lower()
        except (UnicodeDecodeError, LookupError):
            continue
    raise RecordError("invalid_encoding", f"not UTF-8, nor {declared or fallback or 'a declared encoding'}")


def _meta(meta: dict[str, list[str]], keys: set[str]) -> list[str]:
    return [v for k in sorted(keys) for v in meta.get(k, []) if v]


def parse_html_book(html: str) -> HtmlBook:
    """Text with blank lines between blocks; title, author(s) and language from the head when present."""
    parser = _BookParser()
    parser.feed(html)
    parser.close()
    lines = [line.strip().translate(_UNPROTECT) for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    authors = _meta(parser.meta, _AUTHOR_META)
    langs = _meta(parser.meta, _LANG_META) + parser.meta.get("html-lang", [])
    return HtmlBook(
        text=text,
        title=" ".join(parser.title.split()),
        author="; ".join(dict.fromkeys(authors)),
        language=langs[0] if langs else "",
    )
