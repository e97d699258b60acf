"""Page furniture of printed books: page numbers and running headers or footers.

A bare number is also what a chapter heading, a numbered poem or a program's output looks
like, so bare numbers go only as part of a *page sequence*: values rising by at most
``max_step`` with page-sized gaps between them. Decorated numbers ("Page 12", "- 12 -",
"[Pg 12]") go wherever they stand. A running header is a short line whose normalized form
(case folded, digits removed) repeats at a regular, page-sized interval; dialogue speakers,
"Note" boxes and refrains repeat too, but irregularly, and stay.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict

from pipeline.config_base import StrictModel

_ROMAN_RE = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_NUMBER = rf"(?:\d{{1,4}}|{_ROMAN_RE})"
_DECORATED = re.compile(
    rf"(?i:page|pg\.?|p\.)\s*{_NUMBER}|[-–—]\s*{_NUMBER}\s*[-–—]"
    rf"|\[\s*(?i:pg|page|p)\.?\s*{_NUMBER}\s*\]"
)
_BARE = re.compile(rf"\d{{1,4}}|{_ROMAN_RE}")  # lowercase roman only: upper-case numerals alone are chapter numbers
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
_CODE = re.compile(r"[<>{}=#;|\\/$@*^~`]|\[|\]")
_LETTER, _NOT_DIGIT_OR_SPACE = re.compile(r"[^\W\d_]"), re.compile(r"[^\d\s]")


class PageNumberConfig(StrictModel):
    min_run: int = 5  # bare numbers count as page numbers only in a rising run at least this long
    max_step: int = 3  # consecutive page numbers differ by 1, more across unnumbered plates and blank pages
    min_gap: int = 10  # lines between two page numbers: a printed page holds ~25-50 lines of text
    max_gap: int = 150
    min_regular_share: float = 0.6  # of the gaps within [0.5, 1.5] x their median: pages are of a size


class RunningHeaderConfig(StrictModel):
    """Our thresholds, set on the sample books: the one real running header there (a download site's
    page splitter, every ~125 lines) has all its gaps regular; the look-alikes that must stay (a play's
    scene titles, the Debian Reference's "Note"/"Tip" boxes, reST footnote rubrics) have 0.25-0.45."""

    max_chars: int = 60  # headers are a title or chapter name ...
    min_letter_share: float = 0.6  # ... mostly letters (digits aside: page numbers), without code punctuation
    min_repeats: int = 8
    min_median_gap: int = 15  # lines between repeats: one per page or every other page
    max_median_gap: int = 200
    min_regular_share: float = 0.6  # of the gaps within [0.5, 1.5] x their median


def _regular(places: list[int], share: float) -> bool:
    gaps = [b - a for a, b in zip(places, places[1:])]
    median = statistics.median(gaps)
    return sum(0.5 * median <= g <= 1.5 * median for g in gaps) >= share * len(gaps)


def _roman(s: str) -> int:
    values = [_ROMAN[c] for c in s]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def page_number_lines(lines: list[str], cfg: PageNumberConfig) -> set[int]:
    """Line numbers of the page numbers: decorated ones, and bare ones in regular rising runs."""
    found: set[int] = set()
    chains: list[list[tuple[int, int]]] = []
    for i, line in enumerate(lines):
        s = line.strip()
        if _DECORATED.fullmatch(s):
            found.add(i)
        elif _BARE.fullmatch(s) and not any(
            0 <= k < len(lines) and _BARE.fullmatch(lines[k].strip()) for k in (i - 1, i + 1)
        ):  # a column of numbers is data
            value = int(s) if s.isdigit() else _roman(s) + 100_000  # roman front matter: its own sequence
            chain = next(
                (
                    c
                    for c in reversed(chains)
                    if 0 < value - c[-1][1] <= cfg.max_step
                    and cfg.min_gap <= i - c[-1][0] <= cfg.max_gap * (value - c[-1][1])
                ),
                None,
            )
            chain.append((i, value)) if chain else chains.append([(i, value)])
    runs = [c for c in chains if len(c) >= cfg.min_run and _regular([i for i, _ in c], cfg.min_regular_share)]
    return found | {i for c in runs for i, _ in c}


def _key(line: str) -> str:
    return " ".join(re.sub(r"\d+", " ", line).split()).strip(" .,:;-–—|").casefold()


def _title_like(s: str, cfg: RunningHeaderConfig) -> bool:
    if not 0 < len(s) <= cfg.max_chars or _CODE.search(s):
        return False
    letters, others = len(_LETTER.findall(s)), len(_NOT_DIGIT_OR_SPACE.findall(s))
    return letters > 0 and letters >= cfg.min_letter_share * others


def running_header_lines(lines: list[str], cfg: RunningHeaderConfig) -> set[int]:
    """Line numbers of every occurrence of a running header (the title page's copy included)."""
    where: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        if _title_like(s := line.strip(), cfg):
            where[_key(s)].append(i)
    found: set[int] = set()
    for key, places in where.items():
        if not key or len(places) < cfg.min_repeats:
            continue
        median = statistics.median(b - a for a, b in zip(places, places[1:]))
        if cfg.min_median_gap <= median <= cfg.max_median_gap and _regular(places, cfg.min_regular_share):
            found.update(places)
    return found
