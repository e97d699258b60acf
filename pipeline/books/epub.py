"""EPUB books: the chapters of the spine, in reading order, as one document.

An EPUB is a zip: ``META-INF/container.xml`` names the package document (OPF), whose manifest
maps ids to files and whose spine gives the reading order (EPUB 3.3, "Package document").
A book whose spine names a chapter that cannot be read is refused whole: a book silently
missing chapters would look complete downstream. Sizes are capped twice, on the sizes the
zip declares and on the bytes actually inflated, since a crafted zip can declare anything.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
import zlib
from typing import Any
from urllib.parse import unquote

from pipeline.books.html import decode_markup, parse_html_book
from pipeline.read.records import RecordError

_CHAPTER_TYPES = {"application/xhtml+xml", "text/html", "application/html"}


class _Archive:
    def __init__(self, zf: zipfile.ZipFile, max_bytes: int, max_entries: int) -> None:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise RecordError("epub_too_many_entries", f"{len(infos)} zip entries > {max_entries}")
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise RecordError("epub_too_large", f"declared uncompressed size {declared} bytes > {max_bytes}")
        self.zf, self.budget, self.max_bytes = zf, max_bytes, max_bytes

    def read(self, name: str, reason: str) -> bytes:
        try:
            with self.zf.open(name) as f:
                data = f.read(self.budget + 1)
        except KeyError:
            raise RecordError(reason, f"{name} is not in the archive") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
            raise RecordError("epub_corrupt", f"{name}: {e}") from e
        self.budget -= len(data)
        if self.budget < 0:
            raise RecordError("epub_too_large", f"inflates past {self.max_bytes} bytes (its declared sizes are wrong)")
        return data


def _xml(data: bytes, name: str) -> ET.Element:
    if b"<!ENTITY" in data:  # container and package documents never need entities: refuse expansion bombs
        raise RecordError("epub_bad_xml", f"{name} declares XML entities")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise RecordError("epub_bad_xml", f"{name}: {e}") from e


def _dc(opf: ET.Element, tag: str) -> list[str]:
    return [" ".join("".join(e.itertext()).split()) for e in opf.findall(f".//{{*}}metadata/{{*}}{tag}")]


def read_epub(path: str, max_bytes: int, max_entries: int, fallback_encoding: str | None) -> dict[str, Any]:
    """The book's record (text, title, author, language, chapters); ``RecordError`` when it is malformed."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise RecordError("epub_not_zip", f"{type(e).__name__}: {e}") from e
    with zf:
        archive = _Archive(zf, max_bytes, max_entries)
        container = _xml(archive.read("META-INF/container.xml", "epub_no_container"), "container.xml")
        rootfile = container.find(".//{*}rootfile")
        if rootfile is None or not rootfile.get("full-path"):
            raise RecordError("epub_no_package", "container.xml names no rootfile")
        opf_path = rootfile.get("full-path", "")
        opf = _xml(archive.read(opf_path, "epub_no_package"), opf_path)
        base = posixpath.dirname(opf_path)
        manifest = {i.get("id"): i for i in opf.findall(".//{*}manifest/{*}item")}
        chapters = []
        for ref in opf.findall(".//{*}spine/{*}itemref"):
            item = manifest.get(ref.get("idref"))
            if item is None or not item.get("href"):
                raise RecordError("epub_missing_chapter", f"spine item {ref.get('idref')!r} is not in the manifest")
            if item.get("media-type", "") not in _CHAPTER_TYPES:
                continue  # an image or SVG page: no text
            name = posixpath.normpath(posixpath.join(base, unquote(item.get("href", "").split("#")[0])))
            html, _ = decode_markup(archive.read(name, "epub_missing_chapter"), fallback_encoding)
            chapters.append(parse_html_book(html).text)
    if not chapters:
        raise RecordError("epub_no_chapters", "the spine lists no XHTML chapter")
    titles, languages = _dc(opf, "title"), _dc(opf, "language")
    return {
        "text": "\n\n".join(c for c in chapters if c),
        "title": titles[0] if titles else None,
        "author": "; ".join(_dc(opf, "creator")) or None,
        "language": languages[0] if languages else None,
        "chapters": len(chapters),
    }
