"""HTML pages with images read as interleaved documents: text and images in reading order, one per page.

The DOM (lxml) is walked in document order. Block elements end a line, headings stand between
blank lines, ``<br>`` breaks a line, ``<pre>`` keeps its lines, table cells are joined by spaces,
and ``<figcaption>`` is a line where it stands. Each ``<img>`` whose image can be had (see
``html_image_sources``) becomes an IMAGE_MARKER line, then its ``alt`` text on the next line when
``keep_alt`` and the alt is neither empty nor the enclosing figure's caption. The alt belongs
to its image: an image left out takes its alt with it, so the text never describes a picture
that is not there. Scripts, styles, forms, embedded objects, ``<nav>``, ``<header>``/``<footer>``
outside an ``<article>``/``<main>``, ARIA navigation/banner/contentinfo/search landmarks and
elements whose id or class is in ``chrome_names`` are dropped with what they hold, images
included (not counted: they are page chrome, not the document's).

Record: ``text``, ``images``, ``title`` (``<title>``), ``url`` (canonical link or og:url),
``images_skipped`` (images left out) and ``images_skipped_reasons`` ({reason: count}). A page
with neither text nor images is quarantined (``empty_document``); a bad image never is. The
page is parsed and walked under ``extract``'s size and time guards, as ``content: html`` is.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator

import lxml.html
from lxml import etree
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.decode import MAX_IMAGE_PIXELS, DecodedImage
from pipeline.read.compressed import open_binary
from pipeline.read.records import Item, RecordError
from pipeline.schema import IMAGE_MARKER
from pipeline.web.html_extract import ExtractConfig, ExtractError, ExtractTimeout, check_shape, deadline
from pipeline.web.html_file import decode_html, page_url
from pipeline.web.html_image_sources import ImageSkipped, image_source, load_image

_SKIP = frozenset(
    {
        "head",
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "canvas",
        "iframe",
        "object",
        "embed",
        "video",
        "audio",
        "map",
        "form",
        "button",
        "select",
        "textarea",
        "input",
        "nav",
    }
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "header",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML collapses ASCII whitespace only; no-break spaces stay


class HtmlImagesConfig(StrictModel):
    max_image_bytes: int = Field(32 << 20, gt=0)  # per image, as for WebDataset members
    keep_alt: bool = True
    # id/class names of page chrome in common markup (and DocBook's "docnav"); matched as whole tokens
    chrome_names: list[str] = Field(
        default_factory=lambda: [
            "nav",
            "navbar",
            "navigation",
            "menu",
            "breadcrumb",
            "breadcrumbs",
            "banner",
            "docnav",
            "footer",
            "page-header",
            "site-header",
            "site-footer",
            "skip-link",
            "cookie-banner",
        ]
    )


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text.replace(IMAGE_MARKER, "")).strip()  # a literal marker would stand for an image


class _Walker:
    def __init__(self, page_dir: str, root: str, cfg: HtmlImagesConfig, max_pixels: int | None) -> None:
        self.page_dir, self.root, self.cfg, self.chrome = page_dir, root, cfg, frozenset(cfg.chrome_names)
        self.max_pixels = max_pixels
        self.blocks: list[tuple[int, str]] = []  # (newlines before, text)
        self.after = 1  # newlines the next block gets at least: 2 after a heading
        self.line: list[str | None] = []  # inline text of the open block; None: a <br>
        self.images: list[DecodedImage] = []
        self.skipped: Counter[str] = Counter()
        self.cache: dict[str, DecodedImage | str] = {}  # source -> image or why it was left out
        self.caption = ""  # the enclosing <figure>'s caption, not repeated as an alt

    def flush(self, gap: int = 1) -> None:
        lines = "".join("\n" if p is None else p.replace("\n", " ") for p in self.line).split("\n")
        self.line = []
        self.add("\n".join(s for s in map(_squash, lines) if s), gap)

    def add(self, text: str, gap: int = 1) -> None:
        if text:
            self.blocks.append((max(gap, self.after), text))
            self.after = 1

    def dropped(self, el: lxml.html.HtmlElement, tag: str, in_article: bool) -> bool:
        names = set((el.get("class") or "").split()) | {el.get("id") or ""}
        return (
            tag in _SKIP
            or (tag in ("header", "footer") and not in_article)
            or (el.get("role") or "").strip().lower() in _CHROME_ROLES
            or not self.chrome.isdisjoint(names)
        )

    def image(self, el: lxml.html.HtmlElement) -> None:
        src = image_source(dict(el.attrib))
        if src not in self.cache:
            try:
                self.cache[src] = load_image(src, self.page_dir, self.root, self.cfg.max_image_bytes, self.max_pixels)
            except ImageSkipped as e:
                self.cache[src] = e.reason
        found = self.cache[src]
        if isinstance(found, str):
            self.skipped[found] += 1
            return
        self.flush()
        self.images.append(found)
        self.add(IMAGE_MARKER)
        alt = _squash(el.get("alt") or "")
        if self.cfg.keep_alt and alt != self.caption:
            self.add(alt)

    def walk(self, el: lxml.html.HtmlElement, in_article: bool = False) -> None:
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if not tag or self.dropped(el, tag, in_article):
            return
        if tag in ("img", "br", "pre"):
            if tag == "img":
                self.image(el)
            elif tag == "br":
                self.line.append(None)
            else:
                self.flush()
                self.add(el.text_content().replace(IMAGE_MARKER, "").strip("\n"))
            return
        gap = 2 if tag in _HEADINGS else 1
        if tag in _BLOCK or gap == 2:
            self.flush(gap)
        outer = self.caption
        if tag == "figure":
            self.caption = next((_squash(c.text_content()) for c in el.iter("figcaption")), "")
        self.line.append(el.text or "")
        for child in el:
            self.walk(child, in_article or tag in ("article", "main"))
            self.line.append(child.tail or "")
        self.caption = outer
        if tag in ("td", "th"):
            self.line.append(" ")
        if tag in _BLOCK or gap == 2:
            self.flush(gap)
            self.after = max(self.after, gap)

    def text(self) -> str:
        return "".join(("\n" * gap if n else "") + text for n, (gap, text) in enumerate(self.blocks))


def read_html_images(
    html: str, page_dir: str, root: str, cfg: HtmlImagesConfig, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> dict:
    """The interleaved record of one page; raises ``RecordError`` for a page with no text and no images."""
    doc = lxml.html.document_fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    walker = _Walker(page_dir, root, cfg, max_pixels)
    walker.walk(doc)
    walker.flush()
    text, skipped = walker.text(), sum(walker.skipped.values())
    if not text.replace(IMAGE_MARKER, "").strip() and not walker.images:
        raise RecordError("empty_document", f"no text and no images ({skipped} images left out)")
    title = _squash(doc.findtext(".//title") or "") or None
    return {
        "text": text,
        "images": walker.images,
        "title": title,
        "url": page_url(html),
        "images_skipped": skipped,
        "images_skipped_reasons": dict(sorted(walker.skipped.items())) or None,
    }


def html_images_items(
    path: str,
    root: str,
    cfg: HtmlImagesConfig,
    extract: ExtractConfig,
    max_bytes: int,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> Iterator[Item]:
    """One item for the page in ``path`` (plain, .gz or .zst); images resolve below ``root``."""
    with open_binary(path) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        yield 0, RecordError("record_too_large", f"HTML file larger than max_record_bytes={max_bytes}"), data[:4096]
        return
    if len(data) > extract.max_html_bytes:
        too_large = RecordError("extract_too_large", f"{len(data)} bytes > max_html_bytes={extract.max_html_bytes}")
        yield 0, too_large, data[:4096]
        return
    if not data:
        return
    html = decode_html(data)
    try:
        check_shape(html, extract)  # lxml's tree and the walk grow with nesting as resiliparse's do
        with deadline(extract.timeout_s):
            record = read_html_images(html, os.path.dirname(path), root, cfg, max_pixels)
    except ExtractTimeout:
        record = RecordError("extract_timeout", f"parsing and walking ran past timeout_s={extract.timeout_s}")
    except ExtractError as e:
        record = RecordError(e.reason, e.detail)
    except RecordError as e:
        record = e
    except (etree.ParserError, RecursionError) as e:
        record = RecordError("extract_failed", f"{type(e).__name__}: {e}")
    yield 0, record, None if isinstance(record, dict) else html[:4096]
