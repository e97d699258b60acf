"""Packing tokenized documents into fixed-length rows.

``best_fit`` is best-fit-decreasing within a window of documents (Ding et al. 2024, "Fewer
Truncations Improve Language Modeling"): documents longer than a row are cut into row-sized
pieces — the only truncation — and each piece, longest first, goes into the open row whose
free space fits it most tightly, found in O(log L) through a Fenwick tree over free space.
``concat`` concatenates and chunks (every row full, documents cut at row ends); ``greedy``
fills rows in order and starts a new row when the next piece does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["best_fit", "concat", "greedy"]


@dataclass(frozen=True)
class Piece:
    doc: int  # index of the document in the packed group
    start: int  # token offset inside the document
    length: int


def split_long(lengths: list[int], seq_len: int) -> list[Piece]:
    return [Piece(d, s, min(seq_len, n - s)) for d, n in enumerate(lengths) for s in range(0, n, seq_len)]


def pack_greedy(lengths: list[int], seq_len: int) -> list[list[Piece]]:
    rows: list[list[Piece]] = []
    current: list[Piece] = []
    fill = 0
    for piece in split_long(lengths, seq_len):
        if fill + piece.length > seq_len:
            rows.append(current)
            current, fill = [], 0
        current.append(piece)
        fill += piece.length
    return rows + [current] if current else rows


def pack_concat(lengths: list[int], seq_len: int) -> list[list[Piece]]:
    rows: list[list[Piece]] = [[]]
    fill = 0
    for doc, n in enumerate(lengths):
        start = 0
        while start < n:
            if fill == seq_len:
                rows.append([])
                fill = 0
            take = min(n - start, seq_len - fill)
            rows[-1].append(Piece(doc, start, take))
            start, fill = start + take, fill + take
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


def pack_best_fit(lengths: list[int], seq_len: int, window: int = 10_000) -> list[list[Piece]]:
    """Best-fit-decreasing over windows of ``window`` documents; rows of a window close with it."""
    rows: list[list[Piece]] = []
    for first in range(0, len(lengths), window):
        pieces = [Piece(p.doc + first, p.start, p.length) for p in split_long(lengths[first : first + window], seq_len)]
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


def pack(lengths: list[int], seq_len: int, mode: Mode = "best_fit", window: int = 10_000) -> list[list[Piece]]:
    if mode == "best_fit":
        return pack_best_fit(lengths, seq_len, window)
    return pack_concat(lengths, seq_len) if mode == "concat" else pack_greedy(lengths, seq_len)
