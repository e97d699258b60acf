"""Greedy packing of tokenized documents into fixed-length rows.

Documents longer than a row are cut into row-sized pieces (the only truncation); pieces
then fill rows in order, a new row starting when the next piece does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    doc: int  # index of the document in the packed group
    start: int  # token offset inside the document
    length: int


def split_long(lengths: list[int], seq_len: int) -> list[Piece]:
    return [Piece(d, s, min(seq_len, n - s)) for d, n in enumerate(lengths) for s in range(0, n, seq_len)]


def pack_greedy(lengths: list[int], seq_len: int) -> list[list[Piece]]:
    """Rows of pieces, each row's total length at most ``seq_len``; order of documents kept."""
    rows: list[list[Piece]] = []
    current: list[Piece] = []
    fill = 0
    for piece in split_long(lengths, seq_len):
        if fill + piece.length > seq_len:
            rows.append(current)
            current, fill = [], 0
        current.append(piece)
        fill += piece.length
    if current:
        rows.append(current)
    return rows
