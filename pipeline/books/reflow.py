"""Hard-wrapped book text back into paragraphs.

The wrap width is the 90th percentile of the lengths of lines in multi-line paragraphs, in
display columns (a CJK character counts two). A line end is a wrap when the line reaches
``fill`` x that width and the paragraph reads on: at least ``min_lower_share`` of its
continuation lines start in lower case (or in a script without case). So verse (each line
capitalized, or short), indented or column-aligned blocks (code, tables, verse set in),
headings, rules ("-----") and list items keep their lines. A book whose wrap width is not
that of a page (one line per paragraph, or a narrow column of verse) is left as it is.
"""

from __future__ import annotations

import re

from pipeline.books.lines import blocks, width
from pipeline.config_base import StrictModel

_LETTER = re.compile(r"[^\W\d_]")
_COLUMNS = re.compile(r"\S(?: {3,}|\t)\S")
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d{1,3}[.)]|[a-zA-Z][.)])\s")


class ReflowConfig(StrictModel):
    fill: float = 0.6  # of the wrap width: a line this long was wrapped, a shorter one ended on purpose
    min_width: int = 30  # wrap widths outside [min, max] columns: the text is not hard-wrapped
    max_width: int = 120  # (Project Gutenberg wraps at 70-75 columns, older etexts and man pages at 80)
    min_lower_share: float = 0.2  # of a paragraph's continuation lines starting in lower case; verse has none


def _wrap_width(lines: list[str], spans: list[tuple[int, int]]) -> int:
    lengths = sorted(width(lines[k].rstrip()) for a, b in spans if b - a > 1 for k in range(a, b))
    return lengths[int(0.9 * (len(lengths) - 1))] if len(lengths) >= 10 else 0


def _reflowable(block: list[str], cfg: ReflowConfig) -> bool:
    rest = block[1:]  # the first line may be indented: a paragraph indent
    if not rest or any(line[:1].isspace() for line in rest) or any(_COLUMNS.search(line) for line in block):
        return False
    lower = sum(line[0].islower() or (line[0].isalpha() and not line[0].isupper()) for line in rest)
    return lower >= cfg.min_lower_share * len(rest)


def _joins(prev: str, line: str, limit: float) -> bool:
    return (
        width(prev.rstrip()) >= limit
        and not _LIST_ITEM.match(line)
        and bool(_LETTER.search(prev))
        and bool(_LETTER.search(line))
    )


def _joiner(prev: str, nxt: str) -> str:
    """No space after a kept hyphen or a dash, nor between two CJK characters."""
    return "" if prev.endswith(("-", "—")) or (width(prev[-1]) == 2 and width(nxt[0]) == 2) else " "


def reflow(lines: list[str], cfg: ReflowConfig) -> tuple[list[str], int]:
    """The lines with wrapped paragraphs joined into one line each, and how many paragraphs were."""
    spans = blocks(lines)
    wrap = _wrap_width(lines, spans)
    if not cfg.min_width <= wrap <= cfg.max_width:
        return lines, 0
    out, count, done = [], 0, 0
    for a, b in spans:
        if not _reflowable(lines[a:b], cfg):
            continue
        merged = [lines[a].rstrip()]
        for prev, line in zip(lines[a:b], lines[a + 1 : b]):
            if _joins(prev, line, cfg.fill * wrap):
                merged[-1] += _joiner(merged[-1], line) + line.strip()
            else:
                merged.append(line.rstrip())
        if len(merged) < b - a:
            out += lines[done:a] + merged
            done, count = b, count + 1
    return out + lines[done:], count
