"""Words, lines and duplicates over a whole batch of texts, shared by the web quality filters.

Words are those of the texts' language (:func:`pipeline.text.segmenters.segmenter_for`): English
and other space-delimited languages from :func:`pipeline.text.spacy_words.chunk_words`, Chinese
from jieba, both called once per *distinct* whitespace chunk of a batch (chunks repeat across
pages, so a chunk cache per language lives across batches, bounded; jieba never joins across
whitespace, so a chunk's words are the text's). Japanese goes to Sudachi text by text, as its
analysis may look across a space. The rest is Arrow kernels and numpy over the batch. The stages
of one batch (Gopher repetition, Gopher quality, C4, FineWeb) read the same texts: inside
``with shared_words():`` (jobs run each batch's row stages in one) a text's words are split
once per language and reused by the stages after; outside it every call splits afresh.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.text.segmenters import WHOLE_TEXT, chunk_splitter, segmenter_for

_CACHE: dict[str | None, dict[str, tuple[str, ...]]] = {}  # language -> chunk -> words, across batches
_CACHE_MAX = 300_000  # about 60 MB of chunks and their words
_LINE_BREAKS = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"  # what str.splitlines splits at
_ODD_BREAKS = r"[\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"


def explode(lists: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The values of a list array, flattened, and the row each came from."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    return pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy()


def split_lines(texts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """``str.splitlines()`` of every text: its lines, flattened, and the row each came from."""
    odd = pc.any(pc.match_substring_regex(texts, _ODD_BREAKS)).as_py()
    lines, row = explode(pc.split_pattern_regex(texts, _LINE_BREAKS) if odd else pc.split_pattern(texts, "\n"))
    ends = np.append(row[1:] != row[:-1], True)  # each text's last piece: empty when the text ends in a break
    keep = ~(ends & (pc.utf8_length(lines).to_numpy() == 0))
    return lines.filter(pa.array(keep)), row[keep]


def split_runs(texts: pa.Array | pa.ChunkedArray, least: int) -> tuple[pa.Array, np.ndarray]:
    """``re.split(r"\n{least,}", text)`` of every text (``least`` 1 or 2), without a regex: far faster."""
    pieces, row = explode(pc.split_pattern(texts, "\n" * least))
    if least == 2:  # an odd run leaves its last newline on the next piece
        pieces = pc.utf8_ltrim(pieces, "\n")
    first = np.insert(row[1:] != row[:-1], 0, True)
    last = np.append(row[1:] != row[:-1], True)
    # a run longer than the separator leaves empty pieces, which the regex would not
    keep = (pc.utf8_length(pieces).to_numpy() > 0) | (first & (least == 1)) | (last & (least == 1)) | (first & last)
    return pieces.filter(pa.array(keep)), row[keep]


def first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids numbered in order of first appearance, and whether each element is its group's first."""
    if not len(keys):
        return np.zeros(0, np.int64), np.zeros(0, bool)
    _, first_at, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first_at), np.int64)
    rank[np.argsort(first_at)] = np.arange(len(first_at))
    first = np.zeros(len(keys), bool)
    first[first_at] = True
    return rank[inverse.reshape(-1)], first


def repeats(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The elements of a uint64 (hash) key array whose key occurs more than once, grouped.

    Returns their positions (grouped by key, each group in position order), each one's group
    number and whether it leads its group (comes first). One plain sort of the keys' high bits
    packed with their positions does it: much faster than an argsort or a hash table.
    """
    n = len(keys)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    bits = np.uint64(int(n - 1).bit_length())
    mixed = keys ^ (keys >> np.uint64(33))  # murmur3's finalizer: a bijection that spreads low bits up
    mixed *= np.uint64(0xFF51AFD7ED558CCD)
    mixed ^= mixed >> np.uint64(33)
    mixed *= np.uint64(0xC4CEB9FE1A85EC53)
    ordered = np.sort((mixed >> bits << bits) | np.arange(n, dtype=np.uint64))
    at = (ordered & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    ordered_keys = keys[at]
    same = ordered_keys[1:] == ordered_keys[:-1]
    high = ordered >> bits
    if not np.array_equal(same, high[1:] == high[:-1]):  # some high bits collide: sort by the whole key
        at = np.lexsort((np.arange(n), keys))
        ordered_keys = keys[at]
        same = ordered_keys[1:] == ordered_keys[:-1]
    grouped = np.zeros(n, bool)
    grouped[1:] = same
    grouped[:-1] |= same
    lead = np.ones(n, bool)
    lead[1:] = ~same
    return at[grouped], (np.cumsum(lead) - 1)[grouped], lead[grouped]


def duplicates(values: pa.Array, row: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many values repeat an earlier value of the same row, and their characters.

    datatrove's ``find_duplicates``: every occurrence after the first counts, with its length.
    """
    if len(values) == 0:
        return np.zeros(n_rows), np.zeros(n_rows)
    ids = pc.dictionary_encode(values).indices.to_numpy().astype(np.int64)
    _, first = first_seen(row * (int(ids.max()) + 1) + ids)
    again = ~first
    lengths = pc.utf8_length(values).to_numpy()
    return (
        np.bincount(row[again], minlength=n_rows).astype(float),
        np.bincount(row[again], weights=lengths[again], minlength=n_rows),
    )


@dataclass
class Words:
    """Every spaCy word of a batch of texts, in order: the row it belongs to and its index in ``distinct``."""

    row: np.ndarray
    ids: np.ndarray
    distinct: pa.Array
    n_rows: int

    def per_row(self, mask: np.ndarray | None = None) -> np.ndarray:
        """How many words (among ``mask``, a per-distinct-word flag) each row has."""
        keep = self.row if mask is None else self.row[mask[self.ids]]
        return np.bincount(keep, minlength=self.n_rows)

    def lengths(self) -> np.ndarray:
        """Characters of each distinct word."""
        return pc.utf8_length(self.distinct).to_numpy()


@dataclass
class WordMemo:
    """The words of the texts the last call saw (indices into ``distinct``): one batch's stages share it."""

    texts: dict[str, np.ndarray] = field(default_factory=dict)
    distinct: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))


_MEMO: contextvars.ContextVar[dict[str | None, WordMemo] | None] = contextvars.ContextVar("word_memo", default=None)


@contextlib.contextmanager
def shared_words() -> Iterator[dict[str | None, WordMemo]]:
    """Within the block, :func:`words` reuses the words of texts an earlier call split (per language)."""
    memos: dict[str | None, WordMemo] = {}
    token = _MEMO.set(memos)
    try:
        yield memos
    finally:
        _MEMO.reset(token)


def _language_key(language: str | None) -> str | None:
    """Languages split alike share a cache: every space-delimited one splits as English."""
    return language if segmenter_for(language) is not segmenter_for(None) else None


def words(texts: pa.Array | pa.ChunkedArray, language: str | None = None) -> Words:
    """The words of every text in ``language`` (a lid.176 code; None: English); inside
    :func:`shared_words`, only the texts the previous call in that language did not hold are split."""
    language = _language_key(language)
    memos = _MEMO.get()
    memo = WordMemo() if memos is None else memos.setdefault(language, WordMemo())
    strings = texts.to_pylist()
    known = [memo.texts.get(t) for t in strings]
    todo = [i for i, k in enumerate(known) if k is None]
    distinct = memo.distinct
    if todo:
        fresh = _split_words(texts.take(pa.array(todo)), language)
        bounds = np.searchsorted(fresh.row, np.arange(len(todo) + 1))
        for j, i in enumerate(todo):
            known[i] = fresh.ids[bounds[j] : bounds[j + 1]] + len(distinct)
        distinct = pa.concat_arrays([distinct, fresh.distinct]) if len(distinct) else fresh.distinct
    sizes = np.fromiter(map(len, known), np.int64, len(known))
    used, ids = np.unique(np.concatenate(known) if known else np.zeros(0, np.int64), return_inverse=True)
    ids, distinct = ids.reshape(-1), distinct.take(pa.array(used))  # only this call's words stay
    memo.texts = dict(zip(strings, np.split(ids, np.cumsum(sizes)[:-1])))
    memo.distinct = distinct
    return Words(np.repeat(np.arange(len(known)), sizes), ids, distinct, len(known))


def _whole_texts(texts: pa.Array | pa.ChunkedArray, language: str) -> Words:
    """Words of each text from one segmenter call per text (for segmenters that look across spaces)."""
    split = segmenter_for(language)
    lists = [split(t) for t in texts.to_pylist()]
    sizes = np.fromiter(map(len, lists), np.int64, len(lists))
    flat = pc.dictionary_encode(pa.array(list(itertools.chain.from_iterable(lists)), pa.string()))
    row = np.repeat(np.arange(len(lists)), sizes)
    return Words(row, flat.indices.to_numpy().astype(np.int64), flat.dictionary, len(lists))


def _split_words(texts: pa.Array | pa.ChunkedArray, language: str | None = None) -> Words:
    """Split every text into words, one segmenter call per distinct chunk (memoized per language)."""
    if language in WHOLE_TEXT:
        return _whole_texts(texts, language)
    chunks, chunk_row = explode(pc.utf8_split_whitespace(texts))
    n_rows = len(texts)
    if len(chunks) == 0:
        return Words(np.zeros(0, np.int64), np.zeros(0, np.int64), pa.array([], pa.string()), n_rows)
    enc = pc.dictionary_encode(chunks)
    distinct_chunks = enc.dictionary.to_pylist()
    cache = _CACHE.setdefault(language, {})
    splits = list(map(cache.get, distinct_chunks))
    missing = [i for i, words in enumerate(splits) if words is None]
    if missing:
        for i, words in zip(missing, chunk_splitter(language)([distinct_chunks[i] for i in missing])):
            splits[i] = cache[distinct_chunks[i]] = words
    if len(cache) > _CACHE_MAX:
        cache.clear()
    flat = pc.dictionary_encode(pa.array(list(itertools.chain.from_iterable(splits)), pa.string()))
    sizes = np.fromiter(map(len, splits), np.int64, len(splits))
    starts = np.cumsum(sizes) - sizes
    idx = enc.indices.to_numpy()
    n = sizes[idx]
    ends = np.cumsum(n)
    pos = np.arange(ends[-1]) + np.repeat(starts[idx] - (ends - n), n)
    ids = flat.indices.to_numpy().astype(np.int64)[pos]
    return Words(np.repeat(chunk_row, n), ids, flat.dictionary, n_rows)
