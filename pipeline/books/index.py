"""Back-of-book indexes: page references to pages the text no longer has.

An index starts at an "Index" heading ("Index", "General Index", "Concept Index") in the last
part of the book and runs over the paragraphs whose lines mostly end in a page reference
("Alice, 12, 45-47", "Rabbit, see Hare"), letter dividers ("A", "B") included; a short note
under the heading is allowed. It ends at the first other paragraph.
"""

from __future__ import annotations

import re

from pipeline.books.lines import blocks
from pipeline.config_base import StrictModel

_ENTRY = re.compile(r"(?:\d{1,4}(?:\s*[-–]\s*\d{1,4})?\)?|(?i:see(?: also)?\s+\S.*))\.?\s*$")


class IndexConfig(StrictModel):
    heading: str = r"(?:[\w'’-]+\s+){0,3}index|register|sachregister|索引|указатель"  # the whole line, any case
    search_share: float = 0.4  # an index heading stands in the last 40% of the book's lines
    min_entry_share: float = 0.5  # of a paragraph's lines ending in a page reference, for it to be index
    max_intro_blocks: int = 2  # paragraphs allowed between the heading and the entries (a note, a menu)
    min_entries: int = 5


def _index_end(lines: list[str], start: int, cfg: IndexConfig) -> int | None:
    spans = blocks(lines, start + 1)
    if spans and spans[0][0] == start + 1:  # the heading's own paragraph: an underline
        spans = spans[1:]
    end, entries, intro = None, 0, 0
    for a, b in spans:
        hits = sum(bool(_ENTRY.search(line)) for line in lines[a:b])
        if hits >= cfg.min_entry_share * (b - a):
            entries, end = entries + hits, b
        elif end is None and intro < cfg.max_intro_blocks:
            intro += 1
        elif not (b - a == 1 and len(lines[a].strip()) <= 3):  # a letter divider
            break
    return end if entries >= cfg.min_entries else None


def index_sections(lines: list[str], cfg: IndexConfig) -> list[tuple[int, int]]:
    """``(heading, end)`` line spans of the index sections."""
    heading = re.compile(cfg.heading, re.I)
    spans: list[tuple[int, int]] = []
    i = int(len(lines) * (1 - cfg.search_share))
    while i < len(lines):
        if heading.fullmatch(lines[i].strip()) and (end := _index_end(lines, i, cfg)):
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans
