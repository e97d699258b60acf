"""Tables of contents: a list of pointers into pages the text no longer has.

A contents section starts at a "Contents" heading in the first part of the book and ends
where the body begins. The surest sign of that is the first entry's title coming back as a
heading ("Chapter I" for "CHAPTER I. Down the Rabbit-Hole ..... 1"); failing that, the section
is the leading run of numbered entries ("1.2. Title", "Title .... 12") before the first body
text. Body text (a long sentence, lines that run on) or a long line ends the search, so a
"Contents" heading over prose is left alone.
"""

from __future__ import annotations

import re

from pipeline.books.lines import blocks
from pipeline.config_base import StrictModel

_PAGE_REF = r"(?:\d{1,4}|[ivxlcdm]{1,7})"
_LEADER = re.compile(rf"(?:\s*[.·…_]{{2,}}\s*|\s{{2,}}|\t+){_PAGE_REF}\s*$")
_PAGED_ENTRY = re.compile(rf"\S.*?[.·…_\s]+{_PAGE_REF}\.?", re.I)
_SECTION_NUMBER = re.compile(
    r"(?:\d+\.)+\d*\s|[IVXLC]+\.\s|(?i:chapter|part|book|section|appendix|chapitre"
    r"|partie|livre|annexe|kapitel|teil|anhang|cap[ií]tulo|parte)\b"
)
_SENTENCE_END = re.compile(r"[.!?:。！？：][\"'”’)\]」』]*$")
_RUNS_ON = re.compile(r"[^\W\d_]{2,}[,;:.!?][\"'”’)]*\s+([^\W\d_])")  # "reading, but": a sentence going on


class TocConfig(StrictModel):
    headings: list[str] = [
        "contents",
        "table of contents",
        "table des matières",
        "sommaire",
        "inhalt",
        "inhaltsverzeichnis",
        "índice",
        "indice",
        "inhoud",
        "содержание",
        "оглавление",
        "目次",
        "目录",
        "目錄",
        "차례",
    ]
    search_share: float = 0.3  # a contents heading stands in the first 30% of the book's lines
    max_lines: int = 1500  # how far the section may reach (the sample's Debian Reference: ~700 lines)
    max_entry_chars: int = 100  # entries are titles: a longer line is body text
    min_entries: int = 3


def _words(line: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", _LEADER.sub("", line.strip()).casefold()).split()


def _same_title(entry: list[str], line: list[str]) -> bool:
    short, long_ = sorted((entry, line), key=len)
    return short == long_ or (len(short) >= 2 and len(long_) <= 12 and long_[: len(short)] == short)


def _prose(block: list[str]) -> bool:
    """Body text: a sentence of some length, or lines that run on."""
    text = " ".join(line.strip() for line in block)
    if (len(text.split()) >= 12 or (len(text) >= 40 and not text.isascii())) and _SENTENCE_END.search(text):
        return True
    runs_on = sum(any(m.group(1).islower() for m in _RUNS_ON.finditer(line)) for line in block)
    return len(block) >= 3 and 2 * runs_on >= len(block)


def _numbered(line: str) -> bool:
    s = line.strip()
    return bool(_PAGED_ENTRY.fullmatch(s) or _SECTION_NUMBER.match(s)) or s[:1].islower()  # or a wrapped entry


def _toc_end(lines: list[str], start: int, cfg: TocConfig) -> int | None:
    """Where the contents section under the heading ``lines[start]`` ends, if it is one."""
    first: list[str] = []
    entries = numbered = 0
    numbered_end, in_run = None, True
    for a, b in blocks(lines, start + 1, min(len(lines), start + 1 + cfg.max_lines)):
        if first and _same_title(first, _words(lines[a])):
            return a if entries >= cfg.min_entries else None
        if _prose(lines[a:b]) or any(len(line.strip()) > cfg.max_entry_chars for line in lines[a:b]):
            break
        first = first or next((w for w in map(_words, lines[a:b]) if w), [])
        entries += b - a
        in_run = in_run and all(_numbered(line) for line in lines[a:b])
        if in_run:
            numbered, numbered_end = numbered + b - a, b
    return numbered_end if numbered >= cfg.min_entries else None


def toc_sections(lines: list[str], cfg: TocConfig) -> list[tuple[int, int]]:
    """``(heading, end)`` line spans of the contents sections."""
    headings = {h.casefold() for h in cfg.headings}
    spans: list[tuple[int, int]] = []
    i, limit = 0, int(len(lines) * cfg.search_share) + 1
    while i < limit:
        if lines[i].strip().rstrip(".:").casefold() in headings and (end := _toc_end(lines, i, cfg)):
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans
