"""Gopher's repetition rules: drop pages that repeat their lines, paragraphs or word n-grams.

Rae et al. 2021 (appendix A.1.1, table A1), with the exact definitions of datatrove's
``GopherRepetitionFilter``, which FineWeb ran. Each rule divides by the document's characters:
repeated lines/paragraphs count every occurrence after the first; the top n-gram counts its
occurrences (overlapping) times its length joined by spaces; duplicated n-grams are counted
greedily left to right, skipping the n words of each repeat and joining words without spaces.
N-grams are compared by a 64-bit polynomial hash of exactly those joined strings.

Rows in a language FineWeb-2 has a config for are judged as FineWeb-2 judged them (Penedo et
al. 2025): that language's words, its duplicate-line share and n-gram thresholds, and the
paragraph and line-character rules off, as its ``fineweb-2-pipeline.py`` sets them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec
from pipeline.text.batch_words import Words, duplicates, repeats, split_runs, words
from pipeline.text.by_language import filter_by_language
from pipeline.text.first_failing import fail, no_reasons, open_rows
from pipeline.text.language_profiles import PROFILED, LanguageProfile

_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial string hash (mod 2**64)
_ROW_MIX = np.uint64(0xD6E8FEB86659FD93)  # keeps equal n-grams of different rows apart


class GopherRepetitionConfig(StrictModel):
    """Thresholds of Rae et al. 2021, table A1 (datatrove's defaults); ``None`` or a missing n turns a rule off."""

    dup_para_frac: float | None = 0.3
    dup_para_char_frac: float | None = 0.2
    dup_line_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    top_n_grams: dict[int, float] = Field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    dup_n_grams: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )
    # rows in FineWeb-2's languages by its per-language settings (fineweb2_settings); False: these for all
    fineweb2_languages: bool = True


def fineweb2_settings(p: LanguageProfile) -> GopherRepetitionConfig:
    """FineWeb-2's settings for one language: trafilatura keeps no paragraphs, so those rules are off."""
    return GopherRepetitionConfig(
        dup_para_frac=None,
        dup_para_char_frac=None,
        dup_line_frac=p.dup_line_frac,
        dup_line_char_frac=None,
        top_n_grams=dict(p.top_n_grams),
        dup_n_grams=dict(p.dup_n_grams),
        fineweb2_languages=False,
    )


def _string_hashes(distinct: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct word: its polynomial hash and ``_BASE ** len``, so a concatenation hashes as h(a)*B^|b|+h(b)."""
    lengths = pc.utf8_length(distinct).to_numpy().astype(np.int64)
    codes = np.frombuffer("".join(distinct.to_pylist()).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    powers = np.full(int(lengths.max()) + 1, _BASE, dtype=np.uint64)
    powers[0] = 1
    powers = np.cumprod(powers, dtype=np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    from_end = np.repeat(starts + lengths, lengths) - np.arange(len(codes)) - 1
    with np.errstate(over="ignore"):
        return np.add.reduceat(codes * powers[from_end], starts), powers[lengths]


def _top_ngram(key: np.ndarray, row: np.ndarray, chars: np.ndarray, once: np.ndarray) -> np.ndarray:
    """Per row, count x length of its most frequent n-gram (the first seen among ties, as ``Counter.most_common``).

    ``once`` holds each row's answer when no n-gram repeats: its first n-gram, counted once.
    """
    out = once.astype(float)
    at, group, lead = repeats(key)
    if not len(at):
        return out
    counts = np.bincount(group)[group[lead]]
    first = at[lead]  # where each repeated n-gram is first seen
    g_row = row[first]
    best = np.zeros(len(out), dtype=np.int64)
    np.maximum.at(best, g_row, counts)
    top = counts == best[g_row]
    pick = np.full(len(out), len(key), dtype=np.int64)
    np.minimum.at(pick, g_row[top], first[top])
    has = pick < len(key)
    out[has] = chars[pick[has]] * best[has]
    return out


def _dup_ngram(
    key: np.ndarray,
    row: np.ndarray,
    start: np.ndarray,
    chars: np.ndarray,
    n: int,
    word_row: np.ndarray,
    word_chars: np.ndarray,
    limit: np.ndarray,
) -> np.ndarray:
    """Per row, characters of duplicated n-grams as datatrove's ``find_all_duplicate`` counts them.

    The count never exceeds the characters of the words that repeats of an earlier n-gram cover;
    only rows whose bound passes ``limit`` are walked (over their repeated n-grams: a unique one
    never counts), the others keep the bound, which decides the same.
    """
    at, group, lead = repeats(key)
    if not len(at):
        return np.zeros(len(limit))
    later, size = start[at[~lead]], len(word_chars) + n + 1
    depth = np.cumsum(np.bincount(later, minlength=size) - np.bincount(later + n, minlength=size))
    covered = depth[: len(word_chars)] > 0
    out = np.bincount(word_row[covered], weights=word_chars[covered], minlength=len(limit))
    over = np.flatnonzero(out > limit)
    if len(over):
        gid = np.full(len(key), -1)
        gid[at] = group
        walk = np.flatnonzero(gid >= 0)  # repeated n-grams in text order
        bounds = np.searchsorted(row[walk], np.stack([over, over + 1]))
        for r, lo, hi in zip(over.tolist(), *bounds.tolist()):
            seen, nxt, total = set(), 0, 0
            for p, g, c in zip(start[walk[lo:hi]].tolist(), gid[walk[lo:hi]].tolist(), chars[walk[lo:hi]].tolist()):
                if p < nxt:
                    continue
                if g in seen:
                    total, nxt = total + c, p + n
                else:
                    seen.add(g)
                    nxt = p + 1
            out[r] = total
    return out


def _ngram_rules(w: Words, cfg: GopherRepetitionConfig, length: np.ndarray, reason: np.ndarray) -> None:
    """Top and duplicated n-gram rules, in datatrove's order, for the rows ``w`` holds words of."""
    row, ids = w.row, w.ids
    if not len(ids) or not (cfg.top_n_grams or cfg.dup_n_grams):
        return
    h, p = _string_hashes(w.distinct)
    word_chars = w.lengths()[ids].astype(np.int64)
    cum = np.concatenate(([0], np.cumsum(word_chars)))
    row_words = np.bincount(row, minlength=w.n_rows)
    row_start = np.minimum(np.searchsorted(row, np.arange(w.n_rows)), len(ids))
    h_word, p_word = h[ids], p[ids]
    joined, spaced = h_word, h_word
    with np.errstate(over="ignore"):
        for n in range(2, max([*cfg.top_n_grams, *cfg.dup_n_grams]) + 1):
            joined = joined[:-1] * p_word[n - 1 :] + h_word[n - 1 :]
            spaced = (spaced[:-1] * _BASE + np.uint64(ord(" "))) * p_word[n - 1 :] + h_word[n - 1 :]
            first_row, still_open = row[: len(joined)], open_rows(reason)
            at = np.flatnonzero((first_row == row[n - 1 :]) & still_open[first_row])
            at_row, chars = row[at], cum[at + n] - cum[at]
            salt = at_row.astype(np.uint64) * _ROW_MIX
            if n in cfg.top_n_grams:
                once = np.where(row_words >= n, cum[np.minimum(row_start + n, len(ids))] - cum[row_start] + n - 1, 0)
                top = _top_ngram(spaced[at] ^ salt, at_row, chars + n - 1, once)
                fail(reason, top / length > cfg.top_n_grams[n], f"top_{n}_gram")
            if n in cfg.dup_n_grams:
                limit = cfg.dup_n_grams[n] * length
                dup = _dup_ngram(joined[at] ^ salt, at_row, at, chars, n, row, word_chars, limit)
                fail(reason, dup > limit, f"duplicated_{n}_n_grams")


def gopher_repetition(table: pa.Table, cfg: GopherRepetitionConfig) -> pa.Table:
    """Filter stage: ``drop_reason`` names the first Gopher repetition rule a document fails."""
    return filter_by_language(table, cfg, fineweb2_settings, _reasons)


def _reasons(texts: pa.ChunkedArray, cfg: GopherRepetitionConfig, language: str | None) -> np.ndarray:
    n = len(texts)
    length = pc.utf8_length(texts).to_numpy().astype(float)
    reason = no_reasons(n)
    reason[length == 0] = "empty"
    for kind, (values, row) in (
        ("para", split_runs(pc.utf8_trim_whitespace(texts), 2)),
        ("line", split_runs(texts, 1)),
    ):
        total = np.maximum(np.bincount(row, minlength=n), 1)
        count, chars = duplicates(values, row, n)
        for name, threshold, ratio in (
            (f"dup_{kind}_frac", getattr(cfg, f"dup_{kind}_frac"), count / total),
            (f"dup_{kind}_char_frac", getattr(cfg, f"dup_{kind}_char_frac"), chars / np.maximum(length, 1)),
        ):
            if threshold is not None:
                fail(reason, ratio > threshold, name)
    alive = np.flatnonzero(open_rows(reason))
    if len(alive):
        w = words(texts.take(pa.array(alive)), language)
        _ngram_rules(Words(alive[w.row], w.ids, w.distinct, n), cfg, np.maximum(length, 1), reason)
    return reason


# Gopher's rules cover books too
SPEC = StageSpec(
    "gopher_repetition",
    "filter",
    gopher_repetition,
    GopherRepetitionConfig,
    Scope(sources=["web", "book"], languages=["en", *PROFILED]),
    ("empty", r"dup_(line|para)_(char_)?frac", r"top_\d+_gram", r"duplicated_\d+_n_grams"),
)
