"""Packing tokenized documents into fixed-length rows.

``best_fit`` is best-fit-decreasing within a window of documents (Ding et al. 2024, "Fewer
Truncations Improve Language Modeling"): documents longer than a row are cut into row-sized
pieces — the only truncation — and each piece, longest first, goes into the open row whose
free space fits it most tightly, found in O(log L) through a Fenwick tree over free space.
``concat`` concatenates and chunks (rows full, documents cut at row ends); ``greedy``
fills rows in order and starts a new row when the next piece does not fit.

``spans`` (per document, sorted ``(start, stop)`` token ranges: an image's tokens) are never
cut: a cut that would fall inside one moves back to the span's start, so the span goes whole
to the next piece (in ``concat``, the row closes early and the span opens the next one).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Mode = Literal["best_fit", "concat", "greedy"]
Spans = Mapping[int, Sequence[tuple[int, int]]]  # document -> sorted, disjoint (start, stop) kept whole


@dataclass(frozen=True)
class Piece:
    doc: int  # index of the document in the packed group
    start: int  # token offset inside the document
    length: int


def cut_before_span(end: int, spans: Sequence[tuple[int, int]]) -> int:
    """``end``, or the start of the span that a cut at ``end`` would split."""
    i = bisect_left(spans, (end,)) - 1  # the last span starting before the cut
    return spans[i][0] if i >= 0 and spans[i][1] > end else end


def _span_too_long(doc: int, start: int, spans: Sequence[tuple[int, int]], seq_len: int) -> ValueError:
    stop = next(b for a, b in spans if a == start)
    return ValueError(f"document {doc}: a span of {stop - start} tokens at {start} is longer than a row ({seq_len})")


def split_long(lengths: list[int], seq_len: int, spans: Spans | None = None, first: int = 0) -> list[Piece]:
    """Row-sized pieces of every document (document ``d`` is ``first + d`` in the pieces and in ``spans``)."""
    pieces = []
    for d, n in enumerate(lengths):
        keep, start = (spans or {}).get(first + d, ()), 0
        while start < n:
            end = min(start + seq_len, n)
            end = cut_before_span(end, keep) if end < n and keep else end
            if end == start:
                raise _span_too_long(first + d, start, keep, seq_len)
            pieces.append(Piece(first + d, start, end - start))
            start = end
    return pieces


def pack_greedy(lengths: list[int], seq_len: int, spans: Spans | None = None) -> list[list[Piece]]:
    rows: list[list[Piece]] = []
    current: list[Piece] = []
    fill = 0
    for piece in split_long(lengths, seq_len, spans):
        if fill + piece.length > seq_len:
            rows.append(current)
            current, fill = [], 0
        current.append(piece)
        fill += piece.length
    return rows + [current] if current else rows


def pack_concat(lengths: list[int], seq_len: int, spans: Spans | None = None) -> list[list[Piece]]:
    rows: list[list[Piece]] = [[]]
    fill = 0
    for doc, n in enumerate(lengths):
        start, keep = 0, (spans or {}).get(doc, ())
        while start < n:
            if fill == seq_len:
                rows.append([])
                fill = 0
            end = start + min(n - start, seq_len - fill)
            end = cut_before_span(end, keep) if end < n and keep else end
            if end == start:  # a span that does not fit what is left of this row opens the next one
                if not fill:
                    raise _span_too_long(doc, start, keep, seq_len)
                fill = seq_len
                continue
            rows[-1].append(Piece(doc, start, end - start))
            start, fill = end, fill + end - start
    return rows if rows[0] else []


class _FreeSpace:
    """Counts of open rows per free space 0..L, with 'smallest free space >= n' in O(log L)."""

    def __init__(self, size: int) -> None:
        self.size = size + 1
        self.tree = [0] * (self.size + 1)
        self.step = 1 << self.size.bit_length()

    def add(self, space: int, delta: int) -> None:
        i = space + 1
        while i <= self.size:
            self.tree[i] += delta
            i += i & -i

    def _prefix(self, space: int) -> int:  # open rows with free space <= space
        total, i = 0, space + 1
        while i > 0:
            total += self.tree[i]
            i -= i & -i
        return total

    def smallest_at_least(self, n: int) -> int | None:
        target = self._prefix(n - 1) + 1 if n > 0 else 1
        pos, step, remaining = 0, self.step, target
        while step:
            nxt = pos + step
            if nxt <= self.size and self.tree[nxt] < remaining:
                pos, remaining = nxt, remaining - self.tree[nxt]
            step >>= 1
        return pos if pos < self.size else None  # Fenwick index pos + 1 holds free space pos


def pack_best_fit(
    lengths: list[int], seq_len: int, window: int = 10_000, spans: Spans | None = None
) -> list[list[Piece]]:
    """Best-fit-decreasing over windows of ``window`` documents; rows of a window close with it."""
    rows: list[list[Piece]] = []
    for first in range(0, len(lengths), window):
        pieces = split_long(lengths[first : first + window], seq_len, spans, first)
        pieces.sort(key=lambda p: (-p.length, p.doc, p.start))
        free, by_space = _FreeSpace(seq_len), {}
        opened: list[list[Piece]] = []
        for piece in pieces:
            space = free.smallest_at_least(piece.length)
            if space is None:
                row, space = len(opened), seq_len
                opened.append([])
            else:
                row = by_space[space].pop()
                free.add(space, -1)
            opened[row].append(piece)
            left = space - piece.length
            by_space.setdefault(left, []).append(row)
            free.add(left, 1)
        rows += opened
    return rows


def pack(
    lengths: list[int], seq_len: int, mode: Mode = "best_fit", window: int = 10_000, spans: Spans | None = None
) -> list[list[Piece]]:
    if mode == "best_fit":
        return pack_best_fit(lengths, seq_len, window, spans)
    return pack_concat(lengths, seq_len, spans) if mode == "concat" else pack_greedy(lengths, seq_len, spans)
