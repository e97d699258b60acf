"""Main-content text of an HTML page with a maintained extractor, behind a size and a time guard.

Measured on the sample's 255 pages (14.6 MB of HTML) on a shared 2-core machine, per page the
best of 2 (benchmarks/extractors.py): resiliparse 188 pages/s, trafilatura 8.5 pages/s (22x;
slowest page 61 ms vs 1.7 s). Quality proxies: recall of long <p> paragraphs 0.967 vs 0.979
(resiliparse loses half of one long Debian Reference chapter); share of output in lines the
markup marks as page chrome (nav, header, footer, menus) 0.33 % vs 0.09 %, from 5.6 % in the
full visible text. Read side by side, both drop menus and footers; resiliparse keeps
breadcrumbs and language switchers, trafilatura keeps source line wraps, flattens link tables
into "|" rows and reduces Apache's index and sitemap pages to their title line.

Resiliparse is the default: 22x the pages per core for a fraction of a percent more chrome, the
choice DCLM made after finding the two equally good downstream and resiliparse 8x faster
(Li et al. 2024, sec. 4.2). Trafilatura with ``favor_precision`` is FineWeb's choice (Penedo
et al. 2024) and stays one switch away: ``extract: {extractor: trafilatura}``.

Guards, each a quarantine reason, after which the worker goes on with the next page: a page above
``max_html_bytes`` is not parsed (``extract_too_large``); one whose tags nest deeper than ``max_html_depth``
(``extract_too_deep``) or add up to more parser and main-content work than ``max_tree_work``, or with an element
of more than ``max_html_attributes`` attributes (``extract_too_complex``), is refused by a linear scan of its
tags before any parser runs (``check_shape``): in such shapes resiliparse's native passes grow with the square
of the page (16,000 nested divs: 6 s here; 100,000: 80-95 s), out of the time guard's reach. An extraction
that runs past ``timeout_s`` is interrupted (``extract_timeout``) as soon as the extractor is back in Python.
"""

from __future__ import annotations

import ctypes
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel


class ExtractConfig(StrictModel):
    """How ``content: html`` records become text."""

    extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"
    # Trafilatura only: FineWeb's setting (datatrove's Trafilatura(favour_precision=True)).
    favor_precision: bool = True
    # Common Crawl cuts payloads at 1 MiB (2013 on) and is moving to 5 MiB (Common Crawl,
    # "Truncated records" notebooks): pages from a crawl are below this; larger ones are not parsed.
    max_html_bytes: int = Field(5 << 20, gt=0)
    # datatrove's extractors default to 0.1 s per page; on a 2-core machine the sample's slowest
    # page takes up to 1.7 s with trafilatura and 0.06 s with resiliparse, so 2 s stops only
    # outliers with the default extractor (raise it for trafilatura on slow machines). 0: off.
    timeout_s: float = Field(2.0, ge=0)
    # Element nesting a page may reach, as the tag scan counts it (implied elements like p, li, td left out).
    # Browsers stop there: Blink and WebKit nest no deeper than 512 (kMaximumHTMLParserDOMTreeDepth,
    # html_construction_site.h; deeper elements become siblings), and libxml2, trafilatura's parser, drops the rest
    # of a page at 256 ("Excessive depth in document: 256", lxml 6.0.2 / libxml2 2.14.6 here). Real pages
    # measured here reach 16 (the sample; 21 in resiliparse's tree), 17 (/usr/share/doc) and 25 (110k rustdoc
    # pages). 0: off.
    max_html_depth: int = Field(512, ge=0)
    # Work a page may cost, in ancestor steps of resiliparse's main-content pass: each tag's depth, plus the
    # formatting elements the parser re-creates and the <option> pairs of a <select>, weighted to take the same
    # time. Pages at 3e7 took 1.5-3.8 s here (div blocks 64 to 500 deep, up to 5 MiB), a few timeout_s, which
    # cannot stop them. Real pages measured here reach 3.3e5 (the sample), 4.1e5 (/usr/share/doc) and 3.9e6 (a
    # 3.9 MB rustdoc page). 0: off.
    max_tree_work: int = Field(30_000_000, ge=0)
    # Attributes on one element: lexbor and libxml2 compare each with those before it (16,000 on one element took
    # resiliparse 0.56 s here, 100,000 took lxml 16.6 s); 5 MiB of 256-attribute elements takes resiliparse 1.2 s.
    # Real pages measured here have at most 11 (rustdoc; the sample 8). 0: off.
    max_html_attributes: int = Field(256, ge=0)
    # "gated": the exact scan (tags by name, comments and scripts skipped) runs only on pages that a name-blind
    # count of '<x' and '</' does not clear, and on every page with over 19,000 '<'s (at the default max_tree_work).
    # A smaller page can hide its depth from the count behind end tags that close nothing (<div>x</span>): 9,000
    # such divs took 3.1 s. "full": the exact scan on every page. Extraction time on the sample, with vs without
    # the check (benchmarks/extractors.py --shape-check, best of 5): gated +2.1 %, full +31 %.
    shape_check: Literal["gated", "full"] = "gated"


class ExtractError(ValueError):
    """A page the guards stopped or the extractor failed on; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class ExtractTimeout(BaseException):
    """Raised from SIGALRM inside an extractor; a BaseException so the extractor's own
    ``except Exception`` handlers cannot swallow it."""


# Re-raise period after the first alarm: Python drops an exception raised while a finalizer or a
# weakref callback runs ("Exception ignored in ..."), so one alarm can be lost mid-GC; the timer
# repeats until the guard is disarmed, and ``deadline`` raises on exit if any alarm fired at all.
_REPEAT_S = 0.05
_fired = threading.local()


def _on_alarm(signum: int, frame: object) -> None:
    _fired.value = True
    raise ExtractTimeout


@contextmanager
def deadline(seconds: float) -> Iterator[bool]:
    """Raise ``ExtractTimeout`` in this code after ``seconds``; yields whether the guard is armed.

    SIGALRM reaches only the main thread (where Ray runs tasks: checked on Ray Data map tasks),
    so elsewhere, with ``seconds == 0``, or when another ITIMER_REAL is running, nothing is armed.
    Python runs the handler between bytecodes: a native call (lxml's parser, resiliparse's whole
    extraction) is interrupted only when it returns, so the page is still quarantined but the time
    is spent. ``check_shape`` refuses beforehand the shapes that make such calls slow (of the
    pages up to 5 MiB it lets through, the slowest measured here took 3.8 s); resiliparse's own
    time_guard has the same limit as this one, and only a separate process (datatrove's
    ExtractorSandbox) could cut a native call short.
    """
    armed = (
        seconds > 0
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not armed:
        yield False
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    _fired.value = False
    signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT_S)
    try:
        yield True
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    if _fired.value:  # every alarm was swallowed and the work ran to its end: still past the deadline
        raise ExtractTimeout


def _resiliparse(html: str, cfg: ExtractConfig) -> tuple[str, str | None]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    # Comments off and no alt texts: the same content trafilatura keeps with include_comments=False.
    text = extract_plain_text(tree, main_content=True, alt_texts=False, comments=False)
    return text, tree.title


def _trafilatura(html: str, cfg: ExtractConfig) -> tuple[str, str | None]:
    import trafilatura

    tree = trafilatura.load_html(html)
    if tree is None:
        return "", None
    title = tree.findtext(".//title")
    # deduplicate=False: trafilatura's duplicate filter is a per-process cache, so a page's text
    # would depend on which pages the same worker saw before; exact and near dedup run later.
    text = trafilatura.extract(tree, favor_precision=cfg.favor_precision, include_comments=False, deduplicate=False)
    return text or "", title


EXTRACTORS: dict[str, Callable[[str, ExtractConfig], tuple[str, str | None]]] = {
    "resiliparse": _resiliparse,
    "trafilatura": _trafilatura,
}


# --- Page shape: one scan of the tags, before any parser runs ----------------------------------------------------
# Costs that grow faster than the page, measured here on 2 cores: resiliparse's main-content pass walks each node's
# ancestors (16,000 nested divs: 6.2 s; 5 MiB of 256-deep div blocks: 9 s); lexbor re-creates the open formatting
# elements (b, font, ...) inside every block that closed them (100 kB of 256 <font>s and 8,000 <div>x</div>: 2
# million elements, 6.4 s) and compares each new one with that list (16,000 <font color=N>: 2.1 s), each <option>
# with the others of its <select> (16,000: 1.7 s) and each attribute with those before it on its element.

_VOID = "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr"
# End tags the parsers imply (a new <p>, <li> or <td> closes the open one): not counted, so pages that leave them
# open do not look deep; every level they could add needs a counted element (ul, table) between.
_IMPLIED = "body caption colgroup dd dt head html li optgroup option p rb rp rt rtc tbody td tfoot th thead tr"
_RAW_TEXT = "iframe noembed noframes plaintext script style textarea title xmp"  # their content is text
_FORMATTING = "b big code em font i s small strike strong tt u"
_ONE_OPEN = "a button form nobr"  # a new one closes the open one
_HEADINGS = "h1 h2 h3 h4 h5 h6"  # one name: a new heading closes an open one, </h2> closes an <h1>
_NOT_PUSHED, _RAW, _FMT, _ONE, _SELECT, _OPTION, _FOREIGN, _HEADING = 1, 2, 4, 8, 16, 32, 64, 128
# Weights that give pages at max_tree_work about the same time whichever term dominates (measured here: re-created
# formatting 1.9-2.5 s, <option>s 1.7-2.5 s, div blocks 1.5-3.8 s).
_RECREATE_STEPS, _OPTION_PAIRS_PER_STEP = 11, 6
_TAG = re.compile(rb"""<[A-Za-z][^\t\n\f\r />]*((?:[^>"']++|"[^"]*+"|'[^']*+')*+)""")
_ATTRIBUTE = re.compile(
    rb"""[^\t\n\f\r />=][^\t\n\f\r />=]*(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"]*"|'[^']*'|[^\t\n\f\r >]*))?"""
)
# CPython keeps a str's UTF-8 once asked for it, and the parser asks for the same bytes: reading them through the
# C API (stable ABI) costs the check no copy, and the parser then finds them made
_AS_UTF8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
_AS_UTF8.restype = ctypes.c_void_p
_AS_UTF8.argtypes = [ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t)]


def _name_table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted 8-byte codes of the tag names the scan tells apart, and their flags."""
    flags: dict[int, int] = {}
    for names, flag in (
        (_VOID, _NOT_PUSHED),
        (_IMPLIED, _NOT_PUSHED),
        (_RAW_TEXT, _NOT_PUSHED | _RAW),
        (_FORMATTING, _FMT),
        (_ONE_OPEN, _ONE),
        ("select", _SELECT),
        ("option", _OPTION),
        ("math svg", _FOREIGN),
        (_HEADINGS, _ONE | _HEADING),
    ):
        for name in names.split():
            code = int.from_bytes(name.encode().ljust(8, b"\0")[:8], "little")
            flags[code] = flags.get(code, 0) | flag
    codes = sorted(flags)
    return np.array(codes, np.uint64), np.array([flags[c] for c in codes], np.uint8)


_CODES, _FLAGS = _name_table()
_H1 = _CODES[np.flatnonzero(_FLAGS & _HEADING)[0]]
_NAME_CHAR = np.ones(128, bool)
_NAME_CHAR[[0, 9, 10, 12, 13, 32, 47, 62]] = False  # NUL (the padding), whitespace, '/' and '>' end a tag name
_LOWER, _ONES, _ONE_U64 = np.uint64(0x2020202020202020), np.uint64(0x0101010101010101), np.uint64(1)
_NAME_END = np.zeros(256, bool)  # what ends a tag name in the raw bytes: whitespace, '/', '>'
_NAME_END[[9, 10, 12, 13, 32, 47, 62]] = True
# The formatting names by their first three letters (0 past the name's end): b, big, code, em, font, i, s, small,
# strike and strong (str), tt, u; a longer name with the same letters counts too (an upper bound stays one)
_FMT_CODES = np.array(
    sorted(
        int.from_bytes(w.encode().ljust(3, b"\0"), "big")
        for w in ["b", "big", "cod", "em", "fon", "i", "s", "sma", "str", "tt", "u"]
    ),
    np.int32,
)
_FMT_FIRST = np.zeros(256, bool)
_FMT_FIRST[[ord(c) for c in "bcefistu"]] = True
_STEP = np.zeros(256, np.int8)  # after a '<': a letter (or anything from 'A' up) opens, '/' closes
_STEP[65:] = 1
_STEP[47] = -1


def utf8_units(html: str) -> np.ndarray:
    """The page's UTF-8 bytes, read in place from the str's own cache (a copy only for a str with lone
    surrogates, which has none to cache). Valid while ``html`` lives."""
    size = ctypes.c_ssize_t()
    try:
        address = _AS_UTF8(html, ctypes.byref(size))
    except UnicodeEncodeError:
        return np.frombuffer(html.encode("utf-8", "surrogatepass"), np.uint8)
    return np.frombuffer((ctypes.c_char * size.value).from_address(address), np.uint8)


def _ascii_padded(units: np.ndarray) -> np.ndarray:
    """The bytes with non-ASCII ones as 127 (a name character), then 16 zeros: room to read past a '<'."""
    chars = np.zeros(len(units) + 16, np.uint8)
    np.minimum(units, 127, out=chars[: len(units)])
    return chars


def _clamped_sum(steps: np.ndarray) -> np.ndarray:
    """Running sum of +1/-1 steps in which a -1 with nothing open is ignored (a reflected walk)."""
    total = np.cumsum(steps, dtype=np.int64)
    floor = np.minimum.accumulate(total)
    np.minimum(floor, 0, out=floor)
    total -= floor
    return total


def _work(depth: np.ndarray, formatting: np.ndarray, option_pairs: float) -> float:
    """Main-content ancestor steps: each tag's depth, the formatting elements re-created there, <select> options."""
    d = depth.astype(np.float64)
    recreated = float((formatting * (d + _RECREATE_STEPS)).sum())
    return float(d.sum()) + recreated + option_pairs / _OPTION_PAIRS_PER_STEP


def _upper_bounds(units: np.ndarray, lt: np.ndarray, work_limit: float = float("inf")) -> tuple[int, float]:
    """Depth and work if each '<x' opened an element and each '</' closed one: in one pass, and above the exact
    scan's for any page whose end tags close what it opened (it counts void and raw-text tags as open)."""
    if not len(lt):
        return 2, 0.0
    after = lt + 1
    after[-1] = min(after[-1], len(units) - 1)  # a '<' that ends the page: read itself (not a letter or '/')
    following = units[after]
    total = np.cumsum(_STEP[following])
    n, deepest = len(lt), int(total.max()) - min(int(total.min()), 0) + 2  # + html and body, when a page has none
    coarse = n * deepest * (deepest + 1 + _RECREATE_STEPS) + n * n / 2 / _OPTION_PAIRS_PER_STEP
    if coarse < 1e7:  # far below any useful limit: the sums are not needed
        return deepest, coarse
    depth = total - np.minimum(np.minimum.accumulate(total), 0) + 2  # a '</' with nothing open closes nothing
    work = _work(depth, depth, n * n / 2)
    if work > work_limit:  # over with every open element counted as formatting: count the formatting ones
        work = _work(depth, np.minimum(_open_formatting(units, lt, following), depth), n * n / 2)
    return int(depth.max()), work


def _open_formatting(units: np.ndarray, lt: np.ndarray, following: np.ndarray) -> np.ndarray:
    """At each tag, the formatting elements (b, big, code, em, font, i, s, small, strike, strong, tt, u) open if end
    tags close what they opened: a walk over the tags whose first three letters can begin one of those names."""
    is_end = following == 47
    at, last = lt + 1 + is_end, len(units) - 1
    first = units[np.minimum(at, last)] | 32
    cand = np.flatnonzero(_FMT_FIRST[first])
    c1, c2 = (units[np.minimum(at[cand] + k, last)] for k in (1, 2))
    end1 = _NAME_END[c1]
    low1 = np.where(end1, 0, c1 | 32).astype(np.int32)
    low2 = np.where(end1 | _NAME_END[c2], 0, c2 | 32).astype(np.int32)
    code = (first[cand].astype(np.int32) << 16) | (low1 << 8) | low2
    hits = cand[np.isin(code, _FMT_CODES)]
    steps = np.zeros(len(lt), np.int64)
    steps[hits] = np.where(is_end[hits], -1, 1)
    return _clamped_sum(steps)


def _tags(chars: np.ndarray, lt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start and end tags among the '<'s: positions, end or not, name codes (8 lower-cased bytes), flags."""
    is_end = chars[lt + 1] == 47
    at = lt + 1 + is_end
    first = chars[at] | 32
    named = (first >= 97) & (first <= 122)
    pos, is_end, at = lt[named], is_end[named], at[named]
    words = np.ndarray((len(chars) - 7,), "<u8", chars, 0, (1,))[at]  # the 8 characters from each name's first
    ends = ~_NAME_CHAR[words.view(np.uint8)].view("<u8") & _ONES
    codes = (words | _LOWER) & ((ends & (~ends + _ONE_U64)) - _ONE_U64)  # cut at the first character that ends it
    idx = np.minimum(np.searchsorted(_CODES, codes), len(_CODES) - 1)
    flags = np.where(_CODES[idx] == codes, _FLAGS[idx], 0)
    codes[(flags & _HEADING) != 0] = _H1
    return pos, is_end, codes, flags


def _spans(starts: np.ndarray, ends: np.ndarray, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Each start with the first end at or after it (``stop`` when none)."""
    return starts, np.append(ends, stop)[np.searchsorted(ends, starts)]


def _inside(pos: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Which of the sorted positions ``pos`` fall in any [start, stop) span."""
    marks = np.bincount(np.searchsorted(pos, starts), minlength=len(pos) + 1)
    marks -= np.bincount(np.searchsorted(pos, stops), minlength=len(pos) + 1)
    return np.cumsum(marks[:-1]) > 0


def _hidden(chars: np.ndarray, lt: np.ndarray, pos: np.ndarray, is_end: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Tags in comments and in raw-text elements (script, style, ...): text to the parser, not markup. A comment
    opened in a script, or a script in a comment, does not count (found in one round, not nested further)."""
    token = np.arange(len(pos))
    raw = (flags & _RAW) != 0
    raw_opens, raw_closes = token[raw & ~is_end], token[raw & is_end]
    in_raw = _inside(token, *_spans(raw_opens + 1, raw_closes, len(pos)))
    opens = lt[(chars[lt + 1] == 33) & (chars[lt + 2] == 45) & (chars[lt + 3] == 45)]  # <!--
    last_open = np.append(-1, pos[raw_opens])[np.searchsorted(pos[raw_opens], opens)]
    opens = opens[last_open <= np.append(-1, pos[raw_closes])[np.searchsorted(pos[raw_closes], opens)]]
    if not len(opens):
        return in_raw
    gt = opens[0] + 2 + np.flatnonzero(chars[opens[0] + 2 :] == 62)
    closes = gt[(chars[gt - 1] == 45) & (chars[gt - 2] == 45)] + 1  # just after -->, found from <!-- + 2
    in_comment = _inside(pos, *_spans(opens + 2, closes, len(chars)))
    raw_opens = raw_opens[~in_comment[raw_opens]]
    return in_comment | _inside(token, *_spans(raw_opens + 1, raw_closes, len(pos)))


def _self_closed(
    chars: np.ndarray, pos: np.ndarray, is_end: np.ndarray, flags: np.ndarray, live: np.ndarray
) -> np.ndarray:
    """Start tags that '/>' closes: in svg and math only (in HTML, <div/> opens a div)."""
    closed = np.zeros(len(pos), bool)
    foreign = (flags & _FOREIGN) != 0
    first = np.flatnonzero(foreign & live)
    if not len(first):
        return closed
    first = first[0]
    gt = pos[first] + np.flatnonzero(chars[pos[first] :] == 62)
    if len(gt):
        closed[first:] = chars[gt[np.minimum(np.searchsorted(gt, pos[first:]), len(gt) - 1)] - 1] == 47
    steps = (foreign & live & ~is_end & ~closed).view(np.int8) - (foreign & live & is_end).view(np.int8)
    inside = np.append(0, _clamped_sum(steps)[:-1]) > 0
    return closed & ~is_end & (inside | foreign)


def _open_per_name(codes: np.ndarray, steps: np.ndarray, one_open: np.ndarray) -> np.ndarray:
    """The change in open elements at each tag, each name on its own: an end tag closes only its own name."""
    names, name = np.unique(codes, return_inverse=True)
    order = np.argsort(name.astype(np.uint16 if len(names) < 1 << 16 else np.uint32), kind="stable")  # radix
    c, s = name[order], steps[order]
    first = np.empty(len(c), bool)
    first[0] = True
    np.not_equal(c[1:], c[:-1], out=first[1:])
    total = np.cumsum(s)
    own = total - (total - s)[first][c]
    shift = c * (2 * len(c) + 2)  # later names lie below all earlier ones: the running minimum restarts
    opened = own - np.minimum(np.minimum.accumulate(own - shift) + shift, 0)
    opened = np.where(one_open[order], s > 0, opened)
    before = np.append(0, opened[:-1])
    before[first] = 0
    delta = np.empty(len(c), np.int64)
    delta[order] = opened - before
    return delta


def _option_pairs(flags: np.ndarray, starts: np.ndarray, delta: np.ndarray) -> float:
    """Pairs of <option>s within one <select>: lexbor compares each new option with those before it."""
    select = (flags & _SELECT) != 0
    if not select.any():
        return 0.0
    options = ((flags & _OPTION) != 0) & starts & (np.cumsum(delta * select) > 0)
    seen = np.cumsum(options)
    last_select = np.maximum.accumulate(np.where(select & starts, np.arange(len(flags)), 0))
    return float((seen - seen[last_select])[options].sum())


def _tree_shape(units: np.ndarray, lt: np.ndarray) -> tuple[int, float]:
    """Depth and work by tag name: void, implied and raw-text elements do not nest, comments and raw text hide
    tags, '/>' closes only in svg and math, and an end tag closes only an open element of its own name."""
    chars = _ascii_padded(units)
    pos, is_end, codes, flags = _tags(chars, lt)
    if not len(pos):
        return 2, 0.0
    live = ~_hidden(chars, lt, pos, is_end, flags)
    starts = live & ~is_end
    counted = live & ((flags & _NOT_PUSHED) == 0)
    opens = counted & starts & ~_self_closed(chars, pos, is_end, flags, live)
    steps = opens.view(np.int8) - (counted & is_end).view(np.int8)
    moves = np.flatnonzero(steps)
    delta = np.zeros(len(pos), np.int64)
    if len(moves):
        delta[moves] = _open_per_name(codes[moves], steps[moves].astype(np.int64), (flags[moves] & _ONE) != 0)
    depth = np.cumsum(delta) + 2
    formatting = np.cumsum(delta * ((flags & _FMT) != 0))
    return int(depth.max()), _work(depth, formatting, _option_pairs(flags, starts, delta))


def _attributes_over(units: np.ndarray, lt: np.ndarray, limit: int) -> int:
    """The attribute count of the first element with more than ``limit``, else 0. Only a start tag followed by
    2 * limit characters without a '<' can hold that many, so only those are parsed (an element whose attribute
    values hold '<'s is not: a page made to hide from this check, not one seen in the wild)."""
    span = 2 * limit
    long_tags = lt[(lt[1:] - lt[:-1] > span).nonzero()[0]].tolist()
    if len(lt) and len(units) - lt[-1] > span:
        long_tags.append(int(lt[-1]))
    page = memoryview(units)
    for start in long_tags:
        tag = _TAG.match(page, start)
        if tag and tag.end() - start > span and (count := len(_ATTRIBUTE.findall(tag.group(1)))) > limit:
            return count
    return 0


def check_shape(html: str | np.ndarray, cfg: ExtractConfig) -> None:
    """Raise ``ExtractError`` for a page (a str, or its ``utf8_units``) whose tags would keep a parser busy far
    past ``timeout_s``.

    Linear in the page: a count of '<'s bounds depth and work from above; only a page it does not clear (or
    every page with ``shape_check="full"``) gets the exact scan by tag name.
    """
    units = utf8_units(html) if isinstance(html, str) else html
    lt = (units == 60).nonzero()[0]
    depth, work = _upper_bounds(units, lt, cfg.max_tree_work or float("inf"))
    over = (cfg.max_html_depth and depth > cfg.max_html_depth) or (cfg.max_tree_work and work > cfg.max_tree_work)
    if cfg.shape_check == "full" or over:
        depth, work = _tree_shape(units, lt)
        if cfg.max_html_depth and depth > cfg.max_html_depth:
            raise ExtractError("extract_too_deep", f"tags nest {depth} deep > max_html_depth={cfg.max_html_depth}")
        if cfg.max_tree_work and work > cfg.max_tree_work:
            raise ExtractError(
                "extract_too_complex", f"{work:.3g} steps of tree work > max_tree_work={cfg.max_tree_work}"
            )
    if cfg.max_html_attributes and (count := _attributes_over(units, lt, cfg.max_html_attributes)):
        raise ExtractError(
            "extract_too_complex", f"{count} attributes on one element > max_html_attributes={cfg.max_html_attributes}"
        )


def extract_html(html: str, cfg: ExtractConfig) -> tuple[str, str]:
    """``(text, title)`` of a page; raises ``ExtractError`` when a guard stops it or the extractor fails."""
    units = utf8_units(html)  # the parser reads the same cached bytes
    if len(units) > cfg.max_html_bytes:
        raise ExtractError("extract_too_large", f"{len(units)} bytes of HTML > max_html_bytes={cfg.max_html_bytes}")
    check_shape(units, cfg)
    try:
        with deadline(cfg.timeout_s):
            text, title = EXTRACTORS[cfg.extractor](html, cfg)
    except ExtractTimeout:
        raise ExtractError("extract_timeout", f"{cfg.extractor} ran past timeout_s={cfg.timeout_s}") from None
    except Exception as e:  # a parser error on one page must not take the worker down
        raise ExtractError("extract_failed", f"{cfg.extractor}: {type(e).__name__}: {e}") from e
    return text.strip(), " ".join((title or "").split())
