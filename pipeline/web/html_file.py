"""HTML bytes to text, the page's own URL, and ``.html`` files read as one document each."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from pipeline.read.compressed import open_binary
from pipeline.read.records import Item, RecordError

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
_SELF_URL = (('link[rel~="canonical"][href]', "href"), ('meta[property="og:url"][content]', "content"))
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Text of an HTML payload: a BOM, else UTF-8 when the bytes are valid UTF-8, else the declared
    charset (HTTP ``declared``, then ``<meta charset>`` in the first 1024 bytes), else cp1252.

    Valid UTF-8 wins over a label because servers that label UTF-8 pages ISO-8859-1 are common and
    other encodings' non-ASCII text is almost never valid UTF-8 (datatrove's WarcReader also tries
    UTF-8 first). Labels map as browsers map them (WHATWG: ISO-8859-1 means cp1252). Without a
    usable label, cp1252 decodes every byte: no statistical detector, so decoding is deterministic.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from resiliparse.parse.encoding import map_encoding_to_html5

    meta = _META_CHARSET.search(data, 0, 1024)
    if declared:
        encoding = map_encoding_to_html5(declared)
    elif meta:
        encoding = map_encoding_to_html5(meta.group(1).decode("ascii"))
        encoding = "utf-8" if encoding.startswith("utf-16") else encoding  # WHATWG: <meta> cannot declare UTF-16
    else:
        encoding = "cp1252"
    return data.decode(encoding, errors="replace")


def page_url(html: str) -> str | None:
    """The URL a page gives for itself: ``<link rel=canonical>``, else ``<meta property=og:url>``."""
    from resiliparse.parse.html import HTMLTree

    end = _HEAD_END.search(html)
    head = HTMLTree.parse(html[: end.start()] if end else html).head
    if head is None:
        return None
    for selector, attribute in _SELF_URL:
        element = head.query_selector(selector)
        if element is not None and (value := (element.getattr(attribute) or "").strip()):
            return value
    return None


def html_file_items(path: str, max_bytes: int) -> Iterator[Item]:
    """One item for the page in ``path`` (plain, .gz or .zst): ``{"html", "url"}``; nothing for an empty file."""
    with open_binary(path) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        yield 0, RecordError("record_too_large", f"HTML file larger than max_record_bytes={max_bytes}"), data[:4096]
    elif data:
        html = decode_html(data)
        yield 0, {"html": html, "url": page_url(html)}, None
