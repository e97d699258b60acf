"""Book files (plain text, EPUB, HTML) read as one document per book.

A book is never split: fuzzy dedup later compares editions as whole books. Each reader
yields one ``(0, record | RecordError, raw)`` item whose record holds ``text``, ``title``,
``author`` and ``language`` (``None`` when unknown), for a source's ``FieldMap`` to pick up.

Plain text is read as UTF-8 (a BOM is dropped); a file that is not UTF-8 is decoded with the
charset a Project Gutenberg header declares ("Character set encoding: ISO-8859-1"), else
with ``fallback_encoding`` (cp1252 by default: the usual encoding of older English etexts,
and a superset of Latin-1's printable range); the record's ``encoding`` says which was used.
``fallback_encoding: null`` quarantines such files as ``invalid_encoding`` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from pipeline.books.epub import read_epub
from pipeline.books.html import decode_markup, parse_html_book
from pipeline.config_base import StrictModel
from pipeline.read.compressed import open_binary
from pipeline.read.records import Item, RecordError

BookFormat = Literal["txt", "epub", "html"]
BOOK_SUFFIXES: dict[str, BookFormat] = {
    ".txt": "txt",
    ".text": "txt",
    ".epub": "epub",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}
_PG_CHARSET = re.compile(rb"^\s*Character set encoding:\s*([\w.:-]+)", re.I | re.M)
_PG_FIELD = re.compile(r"^(Title|Author):[ \t]*(\S.*?)\s*$", re.M)


class BookReadConfig(StrictModel):
    max_book_bytes: int = Field(256 << 20, gt=0)  # per book, uncompressed; larger ones are quarantined unread
    max_epub_entries: int = Field(10_000, gt=0)  # files in one EPUB zip; real books hold tens to a few thousand
    fallback_encoding: str | None = "cp1252"  # for text that is neither UTF-8 nor declares its charset


def _read_capped(path: str, limit: int) -> bytes:
    with open_binary(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RecordError("book_too_large", f"more than {limit} bytes uncompressed")
    return data


def read_text_book(path: str, cfg: BookReadConfig) -> dict[str, Any]:
    data = _read_capped(path, cfg.max_book_bytes)
    declared = _PG_CHARSET.search(data[:20_000])
    for enc in dict.fromkeys(
        e for e in ("utf-8-sig", declared and declared.group(1).decode(), cfg.fallback_encoding) if e
    ):
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        header = dict(_PG_FIELD.findall(text[:20_000]))
        return {
            "text": text,
            "title": header.get("Title"),
            "author": header.get("Author"),
            "language": None,
            "encoding": enc.removesuffix("-sig").lower(),
        }
    raise RecordError("invalid_encoding", "not UTF-8 and no usable declared or fallback encoding")


def read_html_book(path: str, cfg: BookReadConfig) -> dict[str, Any]:
    html, encoding = decode_markup(_read_capped(path, cfg.max_book_bytes), cfg.fallback_encoding)
    book = parse_html_book(html)
    return {
        "text": book.text,
        "title": book.title or None,
        "author": book.author or None,
        "language": book.language or None,
        "encoding": encoding,
    }


def detect_book_format(path: str) -> BookFormat | None:
    name = path
    for ext in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(ext)
    return BOOK_SUFFIXES.get(os.path.splitext(name)[1].lower())


def book_items(path: str, fmt: BookFormat, cfg: BookReadConfig | None = None) -> Iterator[Item]:
    """One item for the book in ``path``: its record, or the ``RecordError`` that quarantines it.

    A file that cannot be opened or ends early raises, as for the other formats (a file-level failure).
    """
    cfg = cfg or BookReadConfig()
    try:
        if fmt == "epub":
            record = read_epub(path, cfg.max_book_bytes, cfg.max_epub_entries, cfg.fallback_encoding)
        elif fmt == "html":
            record = read_html_book(path, cfg)
        else:
            record = read_text_book(path, cfg)
    except RecordError as e:
        yield 0, e, ""
        return
    yield 0, record, ""
