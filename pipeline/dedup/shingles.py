"""Shingles: the units near-duplicate detection compares documents by, each hashed once to 64 bits.

Text is normalized as FineWeb's MinHash step does (Penedo et al. 2024, datatrove): lowercase,
punctuation and symbols removed, whitespace collapsed; NFKC also folds compatibility forms
(full-width letters, ligatures) that would otherwise split a copy from its original. It is then
cut into word n-grams (FineWeb: 5) or character n-grams: by default (``unit="auto"``) each text
by its script, character n-grams where a fifth or more of its letters are Han, kana, Hangul or
Thai (no spaces between words there: a "word" would be a whole clause), words elsewhere. Text
with Han characters is first keyed to Simplified Chinese with OpenCC's ``tw2sp`` (phrase-level:
檔案 -> 文件, 軟體 -> 软件), so a Traditional copy of a Simplified page shingles like it; the text
itself is never changed. A batch's shingles are hashed in a few
numpy passes, never one Python call per shingle: each word gets a polynomial hash over its code
points through prefix sums (any span in O(1)), each shingle a polynomial over its units' hashes,
finished with MurmurHash3's fmix64 avalanche.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.text.scripts import UNSPACED

WINDOW = 1 << 20  # code points per prefix table (8 bytes each)
BATCH_CHARS = 1 << 22  # characters hashed in one go
_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)


class ShingleConfig(StrictModel):
    # "auto": char n-grams for texts in scripts without spaces (zh, ja, ko, th), words elsewhere
    unit: Literal["word", "char", "auto"] = "auto"
    n: int = Field(5, ge=1)  # FineWeb: 5-word shingles
    # under "auto", the n of character shingles: 5 Han characters are about 3 jieba words, a
    # phrase-sized unit as FineWeb's 5 words are in English
    char_n: int = Field(5, ge=1)
    unspaced_share: float = Field(0.2, ge=0, le=1)  # letters in those scripts that make a text "unspaced"
    # Traditional -> Simplified for the shingles of texts with Han characters; tw2sp over t2s: on 26
    # real zh-tw/zh-cn page pairs (debian-reference, debmake-doc) mean Jaccard 0.849 vs 0.677
    chinese_key: Literal["tw2sp", "t2s", "none"] = "tw2sp"
    normalize: Literal["NFKC", "NFC", "none"] = "NFKC"
    lowercase: bool = True
    strip_punctuation: bool = True  # Unicode categories P* and S*


@lru_cache(maxsize=2)
def _separators(punctuation: bool) -> np.ndarray:
    """Per code point: does it separate words? Whitespace always; punctuation and symbols if asked."""
    chars = "".join(map(chr, range(sys.maxunicode + 1)))
    first = np.frombuffer("".join(c[0] for c in map(unicodedata.category, chars)).encode(), dtype=np.uint8)
    sep = first == ord("Z")
    if punctuation:
        sep |= (first == ord("P")) | (first == ord("S"))
    sep[[ord(c) for c in "\x00\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85"]] = True
    return sep


def _code_points(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each text's length and all texts' code points (uint32), after Unicode normalization and lowercasing."""
    if cfg.normalize != "none":
        texts = [unicodedata.normalize(cfg.normalize, t) for t in texts]
    if cfg.lowercase:
        texts = [t.lower() for t in texts]
    lens = np.array([len(t) for t in texts], dtype=np.int64)
    return lens, np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)


def normalized_codepoints(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """All texts normalized, as one uint32 code point array and each text's bounds (length n+1).

    Words end up separated by exactly one space, with none leading or trailing."""
    lens, cp = _code_points(texts, cfg)
    sep = _separators(cfg.strip_punctuation)[cp]
    keep = ~sep
    keep[1:] |= sep[1:] & keep[:-1]  # the first separator of each run stays, as one space
    keep[:1] |= sep[:1]
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lens, out=bounds[1:])
    counts, live = np.zeros(len(texts), dtype=np.int64), lens > 0
    if live.any():
        counts[live] = np.add.reduceat(keep, bounds[:-1][live], dtype=np.int64)
    kept = np.r_[0, np.cumsum(counts)]
    out = np.where(sep, np.uint32(32), cp)[keep]
    if not len(out):
        return out, kept
    # a space left at either end of a text goes; runs are single, so at most one each side
    head = kept[:-1][(kept[:-1] < kept[1:]) & (out[np.minimum(kept[:-1], len(out) - 1)] == 32)]
    tail = kept[1:][(kept[:-1] < kept[1:]) & (out[np.maximum(kept[1:] - 1, 0)] == 32)] - 1
    if len(head) or len(tail):
        drop = np.unique(np.r_[head, tail])
        out = np.delete(out, drop)
        kept = kept - np.searchsorted(drop, kept)
    return out, kept


def normalize(text: str, cfg: ShingleConfig) -> str:
    """One text as the shingles see it."""
    return normalized_codepoints([text], cfg)[0].tobytes().decode("utf-32-le")


def fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


_POWERS: list[np.ndarray] = []


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE^-k and BASE^k for k < size, wrapping modulo 2**64; kept per process and only ever grown."""
    if not _POWERS or len(_POWERS[0]) < size:
        size = max(size, WINDOW * 2)
        inv, pw = np.full(size, _BASE_INV, dtype=np.uint64), np.full(size, _BASE, dtype=np.uint64)
        inv[0] = pw[0] = 1
        _POWERS[:] = [np.cumprod(inv), np.cumprod(pw)]
    return _POWERS[0], _POWERS[1]


def _span_hashes(cp: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """sum(c[k] * BASE^-(k-l)) over each span [l, r), modulo 2**64: independent of where the span sits.

    Spans are cut into windows of about WINDOW code points so the prefix tables stay small."""
    out = np.empty(len(left), dtype=np.uint64)
    i = 0
    while i < len(left):
        j = max(int(np.searchsorted(left, left[i] + WINDOW)), i + 1)
        lo, hi = left[i], right[j - 1]
        inv, pw = _powers(hi - lo)
        prefix = np.zeros(hi - lo + 1, dtype=np.uint64)
        np.cumsum(np.multiply(cp[lo:hi], inv[: hi - lo], dtype=np.uint64), out=prefix[1:])
        out[i:j] = (prefix[right[i:j] - lo] - prefix[left[i:j] - lo]) * pw[left[i:j] - lo]
        i = j
    return out


def _words(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every word (a maximal run of non-separators), and words per text.

    Works on the texts before separators are collapsed: a word's characters are the same either way."""
    lens, cp = _code_points(texts, cfg)
    word = ~_separators(cfg.strip_punctuation)[cp]
    bounds = np.r_[0, np.cumsum(lens)]
    first, last = word.copy(), word.copy()
    first[1:] &= ~word[:-1]
    last[:-1] &= ~word[1:]
    inner = bounds[1:-1][bounds[1:-1] < len(cp)]  # a word never runs from one text into the next
    first[inner] = word[inner]
    last[inner - 1] = word[inner - 1]
    left, right = np.flatnonzero(first), np.flatnonzero(last) + 1
    return _span_hashes(cp, left, right), np.diff(np.searchsorted(left, bounds))


def _chars(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every character of the normalized texts (single spaces included), and characters per text."""
    cp, bounds = normalized_codepoints(texts, cfg)
    return cp.astype(np.uint64), np.diff(bounds)


def shingle_hashes(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle's hash, grouped by document: ``(hashes uint64, offsets int64 of length n+1)``.

    A shingle hashes its ``n`` unit hashes as a polynomial (``n`` contiguous passes). A document
    with fewer than ``n`` units gives one shingle (all of it); an empty one gives none. Texts are
    taken BATCH_CHARS at a time: hashing holds about 40 bytes per character while it runs.
    """
    ends = np.cumsum([len(t) for t in texts])
    if len(texts) > 1 and ends[-1] > BATCH_CHARS:
        parts, start = [], 0
        while start < len(texts):
            end = max(int(np.searchsorted(ends, (ends[start - 1] if start else 0) + BATCH_CHARS, "right")), start + 1)
            parts.append(_shingle_hashes(texts[start:end], cfg))
            start = end
        counts = np.concatenate([np.diff(o) for _, o in parts])
        return np.concatenate([h for h, _ in parts]), np.r_[0, np.cumsum(counts)]
    return _shingle_hashes(texts, cfg)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=2)
def _converter(profile: str) -> object:
    import opencc

    return opencc.OpenCC(profile)


def keyed(texts: Sequence[str], cfg: ShingleConfig) -> list[str]:
    """The texts as their shingles are cut from them: Han text keyed to Simplified Chinese."""
    if cfg.chinese_key == "none":
        return list(texts)
    convert = _converter(cfg.chinese_key).convert
    return [convert(t) if _HAN.search(t) else t for t in texts]


def unspaced(text: str, share: float) -> bool:
    """Whether at least ``share`` of the text's letters are Han, kana, Hangul or Thai."""
    letters = len(_LETTER.findall(text))
    return letters > 0 and len(UNSPACED.findall(text)) >= share * letters


def _shingle_hashes(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    texts = keyed(texts, cfg)
    if cfg.unit != "auto":
        return _unit_hashes(texts, cfg)
    chars = np.array([unspaced(t, cfg.unspaced_share) for t in texts], dtype=bool)
    by_words = cfg.model_copy(update={"unit": "word"})
    by_chars = cfg.model_copy(update={"unit": "char", "n": cfg.char_n})
    if chars.all() or not chars.any():
        return _unit_hashes(texts, by_chars if chars.any() else by_words)
    counts, parts = np.zeros(len(texts), np.int64), []
    for pick, part_cfg in ((np.flatnonzero(~chars), by_words), (np.flatnonzero(chars), by_chars)):
        h, o = _unit_hashes([texts[i] for i in pick], part_cfg)
        counts[pick] = np.diff(o)
        parts.append((pick, h, o))
    offsets = np.r_[0, np.cumsum(counts)]
    hashes = np.empty(offsets[-1], np.uint64)
    for pick, h, o in parts:  # each group's shingles to its documents' places
        hashes[np.repeat(offsets[pick] - o[:-1], np.diff(o)) + np.arange(len(h))] = h
    return hashes, offsets


def _unit_hashes(texts: Sequence[str], cfg: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    unit_hash, units = (_words if cfg.unit == "word" else _chars)(texts, cfg)
    unit_hash = fmix64(unit_hash + np.uint64(1))
    counts = np.where(units > 0, np.maximum(units - cfg.n + 1, 1), 0)
    offsets = np.r_[0, np.cumsum(counts)]
    unit_off = np.cumsum(units) - units
    first = np.repeat(unit_off - offsets[:-1], counts) + np.arange(offsets[-1])
    length = np.repeat(np.minimum(units, cfg.n), counts)  # units in each shingle
    short = set(np.unique(length[length < cfg.n]).tolist())
    h = np.empty(len(first), dtype=np.uint64)
    rolled = unit_hash  # rolled[i]: the polynomial of units i .. i+m-1
    for m in range(1, cfg.n + 1):
        if m > 1:
            rolled = rolled[:-1] * np.uint64(_BASE) + unit_hash[m - 1 :]
        if m == cfg.n or m in short:
            pick = length == m
            h[pick] = rolled[first[pick]]
    return fmix64(h ^ length.astype(np.uint64)), offsets


def shingle_sets(texts: Sequence[str], cfg: ShingleConfig) -> list[np.ndarray]:
    """Each document's distinct shingle hashes, sorted: what true Jaccard is measured on."""
    hashes, offsets = shingle_hashes(texts, cfg)
    return [np.unique(hashes[offsets[i] : offsets[i + 1]]) for i in range(len(texts))]


def cut(hashes: np.ndarray, shift: int) -> np.ndarray:
    """A sorted distinct set's hashes below 2^(64-shift): the same cut on two sets keeps Jaccard unbiased."""
    return hashes if shift == 0 else hashes[: np.searchsorted(hashes, np.uint64(1 << (64 - shift)))]


def sample(hashes: np.ndarray, cap: int) -> tuple[int, np.ndarray]:
    """The smallest shift whose cut leaves at most ``cap`` hashes (0: all of them), and that cut."""
    shift = 0
    while len(cut(hashes, shift)) > cap:
        shift += 1
    return shift, cut(hashes, shift)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / |A ∪ B| of two sorted distinct hash arrays."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return 1.0 if not len(b) else 0.0
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    inter = int(np.count_nonzero(b[at] == a))
    return inter / (len(a) + len(b) - inter)
