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

Guards: a page above ``max_html_bytes`` is not parsed at all, and an extraction that runs past
``timeout_s`` is interrupted; both are quarantined (``extract_too_large``, ``extract_timeout``)
and the worker goes on with the next page.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import BaseModel, Field


class ExtractConfig(BaseModel):
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
    is spent. ``max_html_bytes`` bounds such calls only loosely (67 kB of 5,000 nested divs keep
    resiliparse busy 1-2 s here); resiliparse's own time_guard has the same limit, and only a
    separate process (datatrove's ExtractorSandbox) could cut a native call short.
    """
    armed = (seconds > 0 and threading.current_thread() is threading.main_thread()
             and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
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
    text = trafilatura.extract(tree, favor_precision=cfg.favor_precision, include_comments=False,
                               deduplicate=False)
    return text or "", title


EXTRACTORS: dict[str, Callable[[str, ExtractConfig], tuple[str, str | None]]] = {
    "resiliparse": _resiliparse, "trafilatura": _trafilatura}


def _utf8_size_above(html: str, limit: int) -> int | None:
    """The page's UTF-8 size when it is above ``limit``, without encoding pages that cannot be."""
    if len(html) * 4 <= limit:
        return None
    size = len(html) if len(html) > limit else len(html.encode("utf-8", errors="surrogatepass"))
    return size if size > limit else None


def extract_html(html: str, cfg: ExtractConfig) -> tuple[str, str]:
    """``(text, title)`` of a page; raises ``ExtractError`` when a guard stops it or the extractor fails."""
    if (size := _utf8_size_above(html, cfg.max_html_bytes)) is not None:
        raise ExtractError("extract_too_large", f"{size} bytes of HTML > max_html_bytes={cfg.max_html_bytes}")
    try:
        with deadline(cfg.timeout_s):
            text, title = EXTRACTORS[cfg.extractor](html, cfg)
    except ExtractTimeout:
        raise ExtractError("extract_timeout", f"{cfg.extractor} ran past timeout_s={cfg.timeout_s}") from None
    except Exception as e:  # a parser error on one page must not take the worker down
        raise ExtractError("extract_failed", f"{cfg.extractor}: {type(e).__name__}: {e}") from e
    return text.strip(), " ".join((title or "").split())
