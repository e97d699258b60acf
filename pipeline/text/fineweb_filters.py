"""FineWeb's own quality rules: drop pages made of short, unpunctuated, repeated or list-like lines.

Penedo et al. 2024 (section 3.3), with the definitions of datatrove's ``FineWebQualityFilter``:
lines are the non-blank lines of ``text.split("\\n")``, taken as they are (not stripped), and
words are spaCy's English words (:mod:`pipeline.text.spacy_words`), which only the list rule needs.

Rows in a language FineWeb-2 has a config for are judged as FineWeb-2 judged them (Penedo et
al. 2025): that language's words, punctuated-line share and newlines per word, the short-line
rule off and repeated-line characters at 0.1, as its ``fineweb-2-pipeline.py`` sets them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec
from pipeline.text.batch_words import duplicates, explode, words
from pipeline.text.by_language import filter_by_language
from pipeline.text.first_failing import fail, no_reasons, open_rows
from pipeline.text.language_profiles import PROFILED, LanguageProfile
from pipeline.text.spacy_words import TERMINAL_PUNCTUATION


class FineWebQualityConfig(StrictModel):
    """Thresholds of Penedo et al. 2024 as datatrove's defaults, which FineWeb ran; ``None`` turns a rule off."""

    line_punct_thr: float | None = 0.12  # drop below this share of lines ending in terminal punctuation
    line_punct_exclude_zero: bool = False  # keep documents with no such line at all
    stop_chars: list[str] | None = None  # None: the Unicode sentence terminals (datatrove's TERMINAL_PUNCTUATION)
    short_line_thr: float | None = 0.67  # drop above this share of lines of at most short_line_length characters
    short_line_length: int = 30
    # The paper's text says 0.1, but datatrove's default, which produced FineWeb, is 0.01.
    # characters in repeated lines / characters outside newlines. 0.01 is datatrove's default, the value
    # the FineWeb run used; the paper's text says 0.1, which is one setting away.
    char_duplicates_ratio: float | None = 0.01
    new_line_ratio: float | None = 0.3  # newlines per word
    # rows in FineWeb-2's languages by its per-language settings (fineweb2_settings); False: these for all
    fineweb2_languages: bool = True


# Chinese and Japanese sentences also end in "…" and close quotes or brackets after their full
# stop (。」): lines ending so count as punctuated there. datatrove's set has neither, so this is
# where our decisions may differ from FineWeb-2's (measured: benchmarks/multilingual_filters.py).
CJK_LINE_ENDS = sorted({"…", "……"} | {end + close for end in "。！？…" for close in "」』”’）)"})


def fineweb2_settings(p: LanguageProfile) -> FineWebQualityConfig:
    """FineWeb-2's settings for one language (``short_line_thr=999`` there: off)."""
    cjk = p.language in ("zh", "ja")
    return FineWebQualityConfig(
        stop_chars=sorted(TERMINAL_PUNCTUATION | set(CJK_LINE_ENDS)) if cjk else None,
        line_punct_thr=p.line_punct_thr,
        short_line_thr=None,
        char_duplicates_ratio=0.1,
        new_line_ratio=p.new_line_ratio,
        fineweb2_languages=False,
    )


def _list_rule(texts: pa.ChunkedArray, ratio: float, language: str | None) -> np.ndarray:
    """``list_ratio`` where newlines per word pass ``ratio``, else None.

    A text has at least as many words as whitespace chunks and at most as many as non-space
    characters: only the texts those bounds leave undecided are split into words.
    """
    breaks = pc.count_substring(texts, "\n").to_numpy()
    chunks, row = explode(pc.utf8_split_whitespace(texts))
    least = np.bincount(row, minlength=len(texts))
    most = np.bincount(row, weights=pc.utf8_length(chunks).to_numpy(), minlength=len(texts))
    listy = breaks > ratio * most
    unsure = np.flatnonzero(~listy & (breaks > ratio * least))
    if len(unsure):
        counted = np.bincount(words(texts.take(pa.array(unsure)), language).row, minlength=len(unsure))
        listy[unsure] = breaks[unsure] > ratio * counted
    return np.where(listy, "list_ratio", None)


def fineweb_quality(table: pa.Table, cfg: FineWebQualityConfig) -> pa.Table:
    """Filter stage: ``drop_reason`` names the first FineWeb rule a document fails."""
    return filter_by_language(table, cfg, fineweb2_settings, _reasons)


def _reasons(texts: pa.ChunkedArray, cfg: FineWebQualityConfig, language: str | None) -> np.ndarray:
    n = len(texts)
    lines, row = explode(pc.split_pattern(texts, "\n"))
    filled = pc.utf8_length(pc.utf8_trim_whitespace(lines)).to_numpy() > 0
    lines, row = lines.filter(pa.array(filled)), row[filled]
    total = np.bincount(row, minlength=n)
    per_line = np.maximum(total, 1)
    reason = no_reasons(n)
    reason[total == 0] = "empty"

    def drop(name: str, fails: np.ndarray) -> None:
        fail(reason, fails, name)

    if cfg.line_punct_thr is not None:
        stops = pa.array(sorted(TERMINAL_PUNCTUATION if cfg.stop_chars is None else cfg.stop_chars), pa.string())
        ended = np.zeros(len(lines), dtype=bool)
        for length in sorted({len(s) for s in stops.to_pylist()}):
            tails = pc.utf8_slice_codeunits(lines, -length)
            ended |= pc.is_in(tails, value_set=stops).to_numpy(zero_copy_only=False)
        ratio = np.bincount(row[ended], minlength=n) / per_line
        drop("line_punct_ratio", (ratio < cfg.line_punct_thr) & ~((ratio == 0) & cfg.line_punct_exclude_zero))
    if cfg.short_line_thr is not None:
        short = pc.utf8_length(lines).to_numpy() <= cfg.short_line_length
        drop("short_line_ratio", np.bincount(row[short], minlength=n) / per_line > cfg.short_line_thr)
    if cfg.char_duplicates_ratio is not None:
        _, chars = duplicates(lines, row, n)
        body = pc.utf8_length(texts).to_numpy() - pc.count_substring(texts, "\n").to_numpy()
        drop("char_dup_ratio", chars / np.maximum(body, 1) > cfg.char_duplicates_ratio)
    alive = np.flatnonzero(open_rows(reason))
    if cfg.new_line_ratio is not None and len(alive):
        reason[alive] = _list_rule(texts.take(pa.array(alive)), cfg.new_line_ratio, language)
    return reason


SPEC = StageSpec(
    "fineweb_quality",
    "filter",
    fineweb_quality,
    FineWebQualityConfig,
    Scope(sources=["web"], languages=["en", *PROFILED]),
    ("empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"),
)
