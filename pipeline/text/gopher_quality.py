"""Gopher's quality rules: drop pages that do not look like running prose.

Rae et al. 2021 (appendix A.1.1), with the definitions of datatrove's ``GopherQualityFilter``,
which FineWeb ran: words are spaCy's English words (:mod:`pipeline.text.spacy_words`), "words" for the
count and mean-length rules are those with a character outside the punctuation set, the
symbol and alphabetic ratios divide by all words, and the stop-word rule counts distinct,
case-sensitive matches. A document is dropped by the first rule it fails, in this order.

Rows in a language FineWeb-2 has a config for are judged as FineWeb-2 judged them (Penedo et
al. 2025): that language's words (:mod:`pipeline.text.segmenters`), word-length bounds,
alphabetic-word ratio and stop words, the other rules at datatrove's defaults, as its
``fineweb-2-pipeline.py`` sets them. Stop words count distinct matches there too (datatrove
0.10's rule; the release FineWeb-2 ran counted occurrences).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec
from pipeline.text.batch_words import Words, split_lines, words
from pipeline.text.by_language import filter_by_language
from pipeline.text.first_failing import fail, no_reasons
from pipeline.text.language_profiles import PROFILED, LanguageProfile
from pipeline.text.segmenters import CHARACTER_FALLBACK
from pipeline.text.spacy_words import PUNCTUATION_SET

# A word is a "symbol" when every character is punctuation: RE2 can say "some character is not".
_NOT_PUNCT = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(PUNCTUATION_SET)) + "]"


class GopherQualityConfig(StrictModel):
    """Thresholds of Rae et al. 2021, A.1.1 (datatrove's defaults); ``None`` turns a rule off."""

    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1  # "#" and ellipses ("..." or "…"), each against all words
    max_bullet_lines_ratio: float | None = 0.9  # lines starting with "•" or "-"
    max_ellipsis_lines_ratio: float | None = 0.3  # lines ending with "..." or "…"
    min_alpha_words_ratio: float | None = 0.8  # words with at least one letter
    min_stop_words: int | None = 2
    stop_words: list[str] = Field(default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"])
    # rows in FineWeb-2's languages by its per-language settings (fineweb2_settings); False: these for all
    fineweb2_languages: bool = True


def fineweb2_settings(p: LanguageProfile) -> GopherQualityConfig:
    """FineWeb-2's settings for one language: its config's values, datatrove's defaults for the rest.
    Word lengths mean nothing over the one-character fallback words: those rules stay off there."""
    fallback = p.language in CHARACTER_FALLBACK
    return GopherQualityConfig(
        min_avg_word_length=None if fallback else p.min_avg_word_length,
        max_avg_word_length=None if fallback else p.max_avg_word_length,
        min_alpha_words_ratio=p.min_alpha_words_ratio,
        stop_words=list(p.stop_words),
        fineweb2_languages=False,
    )


def _line_ratios(texts: pa.ChunkedArray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the shares of its lines (``str.splitlines``) starting with a bullet and ending with an ellipsis."""
    lines, row = split_lines(texts)
    total = np.maximum(np.bincount(row, minlength=n), 1)
    head = pc.utf8_ltrim_whitespace(lines)
    bullet = pc.or_(pc.starts_with(head, "•"), pc.starts_with(head, "-")).to_numpy(zero_copy_only=False)
    tail = pc.utf8_rtrim_whitespace(lines)
    dots = pc.or_(pc.ends_with(tail, "..."), pc.ends_with(tail, "…")).to_numpy(zero_copy_only=False)
    return np.bincount(row[bullet], minlength=n) / total, np.bincount(row[dots], minlength=n) / total


def _stop_words(w: Words, stop_words: list[str]) -> np.ndarray:
    """How many distinct stop words each row uses."""
    k = max(len(stop_words), 1)
    sid = pc.index_in(w.distinct, value_set=pa.array(stop_words, pa.string())).fill_null(-1).to_numpy()[w.ids]
    hit = sid >= 0
    return np.bincount(np.unique(w.row[hit] * k + sid[hit]) // k, minlength=w.n_rows)


def gopher_quality(table: pa.Table, cfg: GopherQualityConfig) -> pa.Table:
    """Filter stage: ``drop_reason`` names the first Gopher quality rule a document fails."""
    return filter_by_language(table, cfg, fineweb2_settings, _reasons)


def _reasons(texts: pa.ChunkedArray, cfg: GopherQualityConfig, language: str | None) -> np.ndarray:
    n = len(texts)
    w = words(texts, language)
    distinct = w.distinct
    wordlike = pc.match_substring_regex(distinct, _NOT_PUNCT).to_numpy(zero_copy_only=False)
    n_words = w.per_row()
    n_wordlike = w.per_row(wordlike)
    chars = np.bincount(w.row, weights=(w.lengths() * wordlike)[w.ids], minlength=n)
    mean_len = np.divide(chars, n_wordlike, out=np.full(n, np.nan), where=n_wordlike > 0)
    per_word = np.maximum(n_words, 1)
    hashes = pc.count_substring(texts, "#").to_numpy() / per_word
    ellipses = (pc.count_substring(texts, "...").to_numpy() + pc.count_substring(texts, "…").to_numpy()) / per_word
    bullets, ends = _line_ratios(texts, n)
    alpha = w.per_row(pc.match_substring_regex(distinct, r"\pL").to_numpy(zero_copy_only=False)) / per_word
    stops = _stop_words(w, cfg.stop_words)
    rules = [
        ("too_few_words", cfg.min_doc_words, lambda t: n_wordlike < t),
        ("too_many_words", cfg.max_doc_words, lambda t: n_wordlike > t),
        ("short_words", cfg.min_avg_word_length, lambda t: mean_len < t),
        ("long_words", cfg.max_avg_word_length, lambda t: mean_len > t),
        ("hash_ratio", cfg.max_symbol_word_ratio, lambda t: hashes > t),
        ("ellipsis_ratio", cfg.max_symbol_word_ratio, lambda t: ellipses > t),
        ("bullet_lines", cfg.max_bullet_lines_ratio, lambda t: bullets > t),
        ("ellipsis_lines", cfg.max_ellipsis_lines_ratio, lambda t: ends > t),
        ("alpha_words", cfg.min_alpha_words_ratio, lambda t: alpha < t),
        ("stop_words", cfg.min_stop_words, lambda t: stops < t),
    ]
    reason = no_reasons(n)
    for name, threshold, fails in rules:
        if threshold is not None:
            fail(reason, fails(threshold), name)
    return reason


SPEC = StageSpec(
    "gopher_quality",
    "filter",
    gopher_quality,
    GopherQualityConfig,
    Scope(sources=["web"], languages=["en", *PROFILED]),
    (
        "too_few_words",
        "too_many_words",
        "short_words",
        "long_words",
        "hash_ratio",
        "ellipsis_ratio",
        "bullet_lines",
        "ellipsis_lines",
        "alpha_words",
        "stop_words",
    ),
)
