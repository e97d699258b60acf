"""FlexAttention ``BlockMask``s of packed rows, built from the stored block layouts (masks.py holds
the rule and the other materializers). Imports torch, lazily in each function like masks.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenization.shards.masks import Policy, attention_segments


def flex_block_mask(
    cu_seqlens_rows: list[np.ndarray],
    layouts: np.ndarray,
    seq_len: int,
    block: int,
    policy: Policy = "document",
    device: Any = "cpu",
) -> Any:
    """A FlexAttention ``BlockMask`` for a batch of stored rows (see ``flex_block_mask_from``)."""
    import torch

    segs = np.stack([attention_segments(np.asarray(cu), seq_len, policy) for cu in cu_seqlens_rows])
    return flex_block_mask_from(
        torch.from_numpy(segs).to(device), torch.from_numpy(np.ascontiguousarray(layouts)).to(device), block
    )


def flex_block_mask_from(segments: Any, layouts: Any, block: int) -> Any:
    """A FlexAttention ``BlockMask`` built on the tensors' device from the layouts' block lists.

    ``segments`` [B, L] are ``attention_segments``; ``layouts`` [B, nb, nb] bool. Blocks lying
    wholly inside one document and strictly below the diagonal are 'full' (no mask_mod call);
    the others are partial. mask_mod checks segments, causality and the layout: the fused
    kernel skips unlisted blocks, but the eager path evaluates mask_mod everywhere, and both
    must compute the same mask."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    batch, seq_len = segments.shape
    nb = seq_len // block
    by_block = segments.view(batch, nb, block)
    first = by_block[:, :, 0]
    single = (by_block == first[:, :, None]).all(dim=2) & (first >= 0)
    below = torch.ones(nb, nb, dtype=torch.bool, device=segments.device).tril(-1)
    full = layouts & below & single[:, :, None] & single[:, None, :] & (first[:, :, None] == first[:, None, :])
    partial = layouts & ~full

    def as_kv(blocks: Any) -> tuple[Any, Any]:
        order = torch.argsort((~blocks).to(torch.int8), dim=-1, stable=True).to(torch.int32)  # set blocks first
        return blocks.sum(dim=-1, dtype=torch.int32).unsqueeze(1), order.unsqueeze(1)

    def mask_mod(b: Any, h: Any, q: Any, k: Any) -> Any:
        return (q >= k) & (segments[b, q] == segments[b, k]) & layouts[b, q // block, k // block]

    kv_num, kv_idx = as_kv(partial)
    full_num, full_idx = as_kv(full)
    return BlockMask.from_kv_blocks(
        kv_num, kv_idx, full_num, full_idx, BLOCK_SIZE=block, mask_mod=mask_mod, seq_lengths=(seq_len, seq_len)
    )
