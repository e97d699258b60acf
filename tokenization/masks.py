"""Attention masks of packed rows: the block layout stored in shards and its materializations.

Token ``q`` attends ``k`` iff ``k <= q``, both lie in the same document (``cu_seqlens``) and
block ``(q // B, k // B)`` is set in the layout. Padding attends only to itself. Layouts
are bit-packed row-major (bit ``i * nb + j`` is block (i, j)), most significant bit first.
"""

from __future__ import annotations

import numpy as np


def segment_ids(cu_seqlens: np.ndarray, seq_len: int) -> np.ndarray:
    """Document index per token; -1 on padding."""
    seg = np.full(seq_len, -1, dtype=np.int32)
    lengths = np.diff(cu_seqlens)
    seg[: cu_seqlens[-1]] = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    return seg


def document_layout(cu_seqlens: np.ndarray, seq_len: int, block: int) -> np.ndarray:
    """``document`` policy: block (i, j), j <= i, set iff a document has tokens in both; diagonal always."""
    nb = seq_len // block
    seg = segment_ids(cu_seqlens, seq_len).reshape(nb, block)
    real = seg >= 0
    lo = np.where(real, seg, np.iinfo(np.int32).max).min(axis=1)  # first document in each block
    hi = np.where(real, seg, -1).max(axis=1)  # last document in each block
    layout = np.tril(hi[None, :] >= lo[:, None])
    np.fill_diagonal(layout, True)
    return layout


def pack_bits(mask: np.ndarray) -> bytes:
    return np.packbits(mask.reshape(-1).astype(bool)).tobytes()


def unpack_bits(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8), count=int(np.prod(shape))).reshape(shape).astype(bool)


def dense_mask(cu_seqlens: np.ndarray, seq_len: int, layout: np.ndarray, block: int) -> np.ndarray:
    """The reference ``[seq_len, seq_len]`` boolean mask (True = may attend)."""
    seg = segment_ids(cu_seqlens, seq_len)
    pos = np.arange(seq_len)
    same = (seg[:, None] == seg[None, :]) & (seg[:, None] >= 0)
    blocks = np.repeat(np.repeat(layout, block, axis=0), block, axis=1)
    mask = same & (pos[None, :] <= pos[:, None]) & blocks
    mask[pos[seg < 0], pos[seg < 0]] = True
    return mask
