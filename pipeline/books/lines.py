"""Line tools the book layout rules share: paragraphs as line spans, line removal, display width."""

from __future__ import annotations

import functools
import unicodedata

SENTENCE_END = tuple(".!?:;\"'”’)]»。！？")


def blocks(lines: list[str], start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """``(first, end)`` of each run of non-blank lines in ``lines[start:stop]``."""
    spans, i, stop = [], start, len(lines) if stop is None else stop
    while i < stop:
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < stop and lines[j].strip():
            j += 1
        spans.append((i, j))
        i = j
    return spans


def drop_lines(lines: list[str], drop: set[int]) -> list[str]:
    """``lines`` without ``drop``; the blank lines around a dropped line collapse to one, or to none
    where the text runs on across it (no sentence end before, a lower-case word after)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i not in drop:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and (j in drop or not lines[j].strip()):
            j += 1
        blank = (bool(out) and not out[-1].strip()) or any(not lines[k].strip() for k in range(i, j))
        while out and not out[-1].strip():
            out.pop()
        runs_on = (
            bool(out)
            and j < len(lines)
            and not out[-1].rstrip().endswith(SENTENCE_END)
            and lines[j].lstrip()[:1].islower()
        )
        if blank and out and j < len(lines) and not runs_on:
            out.append("")
        i = j
    return out


@functools.cache
def _narrow() -> dict[int, None]:
    """A ``str.translate`` table deleting the East Asian wide and full-width characters (UAX #11)."""
    return {
        cp: None
        for cp in range(0x1100, 0x40000)
        if unicodedata.east_asian_width(chr(cp)) in "WF" and unicodedata.category(chr(cp)) != "Cn"
    }


def width(line: str) -> int:
    """Display columns: a CJK character takes two, so CJK and Latin lines of one page compare."""
    if line.isascii() or max(line) < "\u1100":
        return len(line)
    return 2 * len(line) - len(line.translate(_narrow()))
