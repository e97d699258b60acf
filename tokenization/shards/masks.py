"""Attention masks of packed rows: the block layout stored in shards, and its materializations.

Token ``q`` attends ``k`` iff ``k <= q``, both lie in the same document (``cu_seqlens``; the
``causal`` policy ignores documents) and block ``(q // B, k // B)`` is set in the layout.
Padding attends only to itself. Layouts are bit-packed row-major (bit ``i * nb + j`` is block
(i, j)), most significant bit first. Policies:

- ``causal``: every block on or below the diagonal.
- ``document``: block (i, j), j <= i, when one document has tokens in both.
- ``block_sparse``: within ``document``, per query block: the ``window`` previous blocks and
  itself, the first ``global_blocks`` blocks of each document it meets, and ``random_blocks``
  further earlier blocks of its documents, drawn from the run seed and the row's key
  (BigBird, Zaheer et al. 2020: window 3, global 2, random 3).

Everything is numpy over blocks or tokens at once; the torch materializers import torch lazily.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel

Policy = Literal["causal", "document", "block_sparse"]
Materializer = Literal["varlen", "flex", "dense", "none"]
# What a materializer realizes: the shards' own mask ("stored"), or a knowingly chosen other one:
# causal attention within documents ("documents_only") or over the whole row ("causal").
Layout = Literal["stored", "documents_only", "causal"]
# The policies each materializer expresses exactly. FlashAttention's varlen cuts at cu_seqlens
# (documents, or only the padding under ``causal``); its ``window_size`` is token-granular, so
# it cannot hold our block window, and BigBird's global and random blocks not at all. No mask
# ("none", plain causal attention) is exact only for ``causal``: padding sits at the row's end.
EXACT: dict[str, tuple[Policy, ...]] = {
    "dense": ("causal", "document", "block_sparse"),
    "flex": ("causal", "document", "block_sparse"),
    "varlen": ("causal", "document"),
    "none": ("causal",),
}
LAYOUT_POLICY: dict[str, Policy] = {"documents_only": "document", "causal": "causal"}


class MaskMismatchError(ValueError):
    """A materializer asked for a mask it cannot express exactly, with no opt-in to approximate."""


def effective_policy(attention: Materializer, policy: Policy, layout: Layout = "stored") -> Policy:
    """The policy a materializer will realize for shards stored under ``policy``; refuses a mask
    it would realize wrongly unless ``layout`` opts in to another one by name."""
    if layout != "stored":
        chosen = LAYOUT_POLICY[layout]
        if chosen not in EXACT[attention]:
            raise MaskMismatchError(f"attention={attention!r} cannot express layout={layout!r} either")
        return chosen
    if policy in EXACT[attention]:
        return policy
    exact = [m for m, policies in EXACT.items() if policy in policies]
    fallback = "layout='causal'" if attention == "none" else "layout='documents_only' (attends more pairs)"
    raise MaskMismatchError(
        f"attention={attention!r} cannot express these shards' {policy!r} mask; exact for it: "
        f"{', '.join(repr(m) for m in exact)}. To train with another mask knowingly, pass {fallback}"
    )


class MaskConfig(StrictModel):
    policy: Policy = "block_sparse"
    block_size: int = Field(64, gt=0)  # 64 matches FlexAttention / FlashAttention tiles
    window: int = Field(3, ge=0)
    global_blocks: int = Field(2, ge=0)
    random_blocks: int = Field(3, ge=0)


def segment_ids(cu_seqlens: np.ndarray, seq_len: int) -> np.ndarray:
    """Document index per token; -1 on padding."""
    seg = np.full(seq_len, -1, dtype=np.int32)
    lengths = np.diff(cu_seqlens)
    seg[: cu_seqlens[-1]] = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    return seg


def attention_segments(cu_seqlens: np.ndarray, seq_len: int, policy: Policy) -> np.ndarray:
    """Tokens attend only within equal values: documents (or one segment for ``causal``);
    each padding token gets its own negative value, so it attends only to itself."""
    seg = segment_ids(cu_seqlens, seq_len).astype(np.int64)
    if policy == "causal":
        seg[seg >= 0] = 0
    pad = seg < 0
    seg[pad] = -1 - np.flatnonzero(pad)
    return seg


def _doc_blocks(cu_seqlens: np.ndarray, seq_len: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last document per block (lo > hi for blocks of padding only)."""
    seg = segment_ids(cu_seqlens, seq_len).reshape(seq_len // block, block)
    real = seg >= 0
    lo = np.where(real, seg, np.iinfo(np.int32).max).min(axis=1)
    hi = np.where(real, seg, -1).max(axis=1)
    return lo, hi


def _layout_of(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    layout = np.tril(hi[None, :] >= lo[:, None])
    np.fill_diagonal(layout, True)
    return layout


def document_layout(cu_seqlens: np.ndarray, seq_len: int, block: int) -> np.ndarray:
    return _layout_of(*_doc_blocks(cu_seqlens, seq_len, block))


def _row_rng(seed: int, row_key: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{seed}:mask:{row_key}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


@lru_cache(maxsize=16)
def _window(nb: int, window: int) -> np.ndarray:
    i, j = np.indices((nb, nb))
    out = (i - j >= 0) & (i - j <= window)
    out.flags.writeable = False
    return out


def block_layout(cu_seqlens: np.ndarray, seq_len: int, cfg: MaskConfig, seed: int = 0, row_key: str = "") -> np.ndarray:
    """The ``[nb, nb]`` boolean layout of one row under ``cfg.policy``."""
    return block_layouts([np.asarray(cu_seqlens)], seq_len, cfg, seed, [row_key])[0]


LAYOUT_CHUNK = 64  # rows per batched block-sparse call: its [rows, nb, nb] arrays stay in cache


def block_layouts(cus: list[np.ndarray], seq_len: int, cfg: MaskConfig, seed: int, row_keys: list[str]) -> np.ndarray:
    """The ``[rows, nb, nb]`` boolean layouts of many rows under ``cfg.policy`` (row ``r``'s random blocks drawn
    from ``row_keys[r]``), block-sparse ones a chunk of rows at a time."""
    if seq_len % cfg.block_size:
        raise ValueError(f"seq_len {seq_len} is not a multiple of block_size {cfg.block_size}")
    nb = seq_len // cfg.block_size
    if not cus:
        return np.zeros((0, nb, nb), bool)
    if cfg.policy == "causal":
        return np.repeat(np.tril(np.ones((nb, nb), dtype=bool))[None], len(cus), axis=0)
    if cfg.policy == "document":
        return np.stack([document_layout(c, seq_len, cfg.block_size) for c in cus])
    return np.concatenate(
        [
            block_sparse_layouts(cus[i : i + LAYOUT_CHUNK], seq_len, cfg, seed, row_keys[i : i + LAYOUT_CHUNK])
            for i in range(0, len(cus), LAYOUT_CHUNK)
        ]
    )


def pack_bits(mask: np.ndarray) -> bytes:
    return np.packbits(mask.reshape(-1).astype(bool)).tobytes()


def unpack_bits(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8), count=int(np.prod(shape))).reshape(shape).astype(bool)


def dense_mask(
    cu_seqlens: np.ndarray, seq_len: int, layout: np.ndarray, block: int, policy: Policy = "document"
) -> np.ndarray:
    """The reference ``[seq_len, seq_len]`` boolean mask (True = may attend)."""
    seg = attention_segments(cu_seqlens, seq_len, policy)
    pos = np.arange(seq_len)
    blocks = np.repeat(np.repeat(layout, block, axis=0), block, axis=1)
    return (seg[:, None] == seg[None, :]) & (pos[None, :] <= pos[:, None]) & blocks


def varlen_kwargs(cu_seqlens_rows: list[np.ndarray], seq_len: int, policy: Policy = "document") -> dict[str, Any]:
    """FlashAttention varlen arguments for a batch flattened to ``[B * seq_len]`` tokens.

    Each row's padding closes as its own segment; under ``causal`` a row's documents form one
    segment. ``max_seqlen`` is a host int, so a trainer needs no device sync to read it."""
    bounds = []
    for r, cu in enumerate(cu_seqlens_rows):
        cu = np.asarray(cu, dtype=np.int64)
        cuts = cu[:-1] if policy != "causal" else cu[:1]
        if cu[-1] < seq_len:
            cuts = np.append(cuts, cu[-1])
        bounds.append(cuts + r * seq_len)
    cu_all = np.append(np.concatenate(bounds), len(cu_seqlens_rows) * seq_len).astype(np.int32)
    return {"cu_seqlens": cu_all, "max_seqlen": int(np.diff(cu_all).max())}


def sdpa_mask(
    cu_seqlens_rows: list[np.ndarray],
    layouts: np.ndarray,
    seq_len: int,
    block: int,
    policy: Policy = "document",
    device: Any = "cpu",
) -> Any:
    """A ``[B, 1, L, L]`` boolean tensor for ``scaled_dot_product_attention`` (True = attend)."""
    return sdpa_mask_from(*batch_tensors(cu_seqlens_rows, layouts, seq_len, policy, device))


def batch_tensors(
    cu_seqlens_rows: list[np.ndarray], layouts: np.ndarray, seq_len: int, policy: Policy, device: Any
) -> tuple[Any, Any]:
    """Stored rows as the torch materializers take them: ``attention_segments`` [B, L] and the
    layouts [B, nb, nb], on ``device``."""
    import torch

    segs = np.stack([attention_segments(np.asarray(cu), seq_len, policy) for cu in cu_seqlens_rows])
    return torch.from_numpy(segs).to(device), torch.from_numpy(np.ascontiguousarray(layouts)).to(device)


def sdpa_mask_from(segments: Any, layouts: Any) -> Any:
    """The dense mask of ``dense_mask``, for a batch of ``attention_segments`` [B, L] and layouts
    [B, nb, nb] already in torch, on their device."""
    import torch

    seq_len, nb = segments.shape[1], layouts.shape[1]
    blocks = layouts.repeat_interleave(seq_len // nb, 1).repeat_interleave(seq_len // nb, 2)
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=segments.device).tril()
    return ((segments[:, :, None] == segments[:, None, :]) & causal & blocks).unsqueeze(1)


def _rows_doc_blocks(cus: list[np.ndarray], seq_len: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row and block, its first and last document (lo > hi for padding only), and per row each
    document's first block, for many rows at once: one search over the rows' boundaries laid end to end."""
    n, nb = len(cus), seq_len // block
    width = max(len(c) for c in cus)
    ends = np.array([c[-1] for c in cus], np.int64)
    cu = np.repeat(ends[:, None], width, axis=1)  # a row's own end repeats past its documents
    for r, c in enumerate(cus):
        cu[r, : len(c)] = c
    shift = np.arange(n, dtype=np.int64)[:, None] * (seq_len + 1)  # rows apart, in order
    flat = (cu + shift).ravel()
    first = np.arange(nb, dtype=np.int64)[None, :] * block
    last = np.minimum(first + block, ends[:, None]) - 1  # the block's last real token
    base = np.arange(n, dtype=np.int64)[:, None] * width + 1
    lo = np.searchsorted(flat, (first + shift).ravel(), side="right").reshape(n, nb) - base
    hi = np.searchsorted(flat, (last + shift).ravel(), side="right").reshape(n, nb) - base
    padding = first >= ends[:, None]
    lo[padding], hi[padding] = np.iinfo(np.int32).max, -1
    return lo.astype(np.int32), hi.astype(np.int32), (cu[:, : max(width - 1, 1)] // block).astype(np.int32)


def block_sparse_layouts(
    cus: list[np.ndarray], seq_len: int, cfg: MaskConfig, seed: int, row_keys: list[str]
) -> np.ndarray:
    """Block-sparse layouts of many rows at once (``[rows, nb, nb]``): a query block sees its own document's
    blocks within ``window`` before it, the first ``global_blocks`` blocks of each document it meets, and
    ``random_blocks`` more of its documents' blocks drawn from the row's key (tests/.../test_masks.py writes
    the rule out row by row; per row, numpy's calls cost more than its arithmetic at 4096 tokens).

    Blocks' first and last documents never decrease along a row, so for a query block q at or after a key
    block k the documents meeting both are those from lo[q] to hi[k]: they exist when lo[q] <= hi[k] (the
    document layout), and k is one of their first ``global_blocks`` blocks when the last of them, hi[k],
    starts within them."""
    nb = seq_len // cfg.block_size
    lo, hi, doc_first = _rows_doc_blocks(cus, seq_len, cfg.block_size)
    doc = hi[:, None, :] >= lo[:, :, None]  # [row, query, key]
    doc &= np.tril(np.ones((nb, nb), bool))[None]
    starts = np.take_along_axis(doc_first, np.clip(hi, 0, doc_first.shape[1] - 1), axis=1)  # [row, key]
    global_ = starts > np.arange(nb)[None, :] - cfg.global_blocks
    layout = doc & (_window(nb, cfg.window)[None] | global_[:, None, :])
    if cfg.random_blocks:  # per query block, the candidates with the smallest seeded random keys
        keys = np.stack([_row_rng(seed, key).random((nb, nb)) for key in row_keys])
        keys[~(doc & ~layout)] = 2.0  # not a candidate: never among the smallest below 1
        k = min(cfg.random_blocks, nb)
        kth = np.partition(keys, k - 1, axis=2)[:, :, k - 1 : k]
        layout |= (keys <= kth) & (keys < 1.0)  # ties at the k-th key (2^-53 apart) could add one more
    idx = np.arange(nb)
    layout[:, idx, idx] = True
    return layout
