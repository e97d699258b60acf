"""FlexAttention ``BlockMask``s of packed rows, built from the stored block layouts (masks.py holds
the rule and the other materializers). Imports torch, lazily in each function like masks.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenization.shards.masks import Policy, batch_tensors


def flex_block_mask(
    cu_seqlens_rows: list[np.ndarray],
    layouts: np.ndarray,
    seq_len: int,
    block: int,
    policy: Policy = "document",
    device: Any = "cpu",
) -> Any:
    """A FlexAttention ``BlockMask`` for a batch of stored rows (see ``flex_block_mask_from``)."""
    return flex_block_mask_from(*batch_tensors(cu_seqlens_rows, layouts, seq_len, policy, device), block)


def _ordered(blocks: Any) -> tuple[Any, Any]:
    """Per row of ``blocks`` [..., n, n] bool: the number of set columns (int32) and all n column
    indices (int32), the set ones first, each part ascending: what a stable argsort of ``~blocks``
    gives, and what BlockMask.from_kv_blocks derives its q-indices with, but as one cumsum and one
    scatter instead of a sort (and, for the transpose, a vmapped dense round trip)."""
    import torch

    n = blocks.shape[-1]
    before = blocks.cumsum(-1, dtype=torch.int32)  # set columns up to and including each one
    num = before[..., -1:].clone()
    cols = torch.arange(n, dtype=torch.int32, device=blocks.device)
    # a set column goes to slot (set columns before it); an unset one after all set ones, in order
    slot = torch.where(blocks, before - 1, num + cols - before).long()
    order = torch.empty(blocks.shape, dtype=torch.int32, device=blocks.device)
    order.scatter_(-1, slot, cols.expand(blocks.shape))
    return num.squeeze(-1), order


def flex_block_mask_from(segments: Any, layouts: Any, block: int) -> Any:
    """A FlexAttention ``BlockMask`` built on the tensors' device from the layouts' block lists.

    ``segments`` [B, L] are ``attention_segments``; ``layouts`` [B, nb, nb] bool. Blocks lying
    wholly inside one document and strictly below the diagonal are 'full' (no mask_mod call);
    the others are partial. mask_mod checks segments, causality and the layout: the fused
    kernel skips unlisted blocks, but the eager path evaluates mask_mod everywhere, and both
    must compute the same mask. The kv lists (forward) and the q lists (backward, from the
    transposed sets) of both kinds come from ``_ordered``, equal to what ``from_kv_blocks`` built."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    batch, seq_len = segments.shape
    nb = seq_len // block
    low, high = torch.aminmax(segments.view(batch, nb, block), dim=2)
    idx = torch.arange(nb, device=segments.device)
    # per block: its document when it lies wholly in one (not padding), else a value no block shares
    doc = torch.where((low == high) & (low >= 0), low, -1 - idx)
    full = layouts & (doc[:, :, None] == doc[:, None, :]) & (idx[:, None] > idx[None, :])
    partial = layouts ^ full  # full blocks are layout blocks
    # one set at a time: each fits in cache, and each list is a tensor of its own (views of one
    # storage would reach a compiled kernel as aliased inputs, which torch.compile guards on)
    (kv_num, kv_idx), (full_num, full_idx), (q_num, q_idx), (full_q_num, full_q_idx) = (
        _ordered(blocks.unsqueeze(1)) for blocks in (partial, full, partial.mT.contiguous(), full.mT.contiguous())
    )

    def mask_mod(b: Any, h: Any, q: Any, k: Any) -> Any:
        return (q >= k) & (segments[b, q] == segments[b, k]) & layouts[b, q // block, k // block]

    return BlockMask(
        seq_lengths=(seq_len, seq_len),
        kv_num_blocks=kv_num,
        kv_indices=kv_idx,
        full_kv_num_blocks=full_num,
        full_kv_indices=full_idx,
        q_num_blocks=q_num,
        q_indices=q_idx,
        full_q_num_blocks=full_q_num,
        full_q_indices=full_q_idx,
        BLOCK_SIZE=(block, block),
        mask_mod=mask_mod,
    )
