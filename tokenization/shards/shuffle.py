"""The order of an epoch's rows: a global permutation, or a shard-aware shuffle for streaming.

A global permutation touches a random shard at every row: read from an object store through a
cache smaller than the data, nearly every row is a download. The shard-aware order follows
MosaicML streaming's ``py1e`` (its default algorithm): shards are visited in a seeded order, each
shard's rows are shuffled, and each row is moved by a seeded shift so that a shard's rows spread
over a window of about ``block_rows`` positions around the shard's place. At any point only the
shards whose windows overlap it are needed: about ``block_rows / rows per shard + 1`` of them,
which is what the cache must hold. Ranks then take contiguous spans of the order, so each rank
downloads about its share of the shards, not all of them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ShuffleAlgo = Literal["global", "shards"]
_SHARDS_STREAM = 0x5A  # a separate random stream from the global permutation's


def global_order(num_rows: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(num_rows)


def shard_aware_order(shard_rows: list[int], seed: int, epoch: int, block_rows: int, partitions: int = 1) -> np.ndarray:
    """Every row index once: shards in a seeded order, each one's rows spread over ``block_rows``
    positions around its place (py1e's expanded ranges; no spread when a shard is larger). Rows
    never spread across the bounds of ``partitions`` equal spans (one per rank, as py1e keeps
    them inside a canonical node), so a rank shares at most the shard on each bound."""
    rng = np.random.default_rng([seed, epoch, _SHARDS_STREAM])
    sizes = np.asarray(shard_rows, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    visit = rng.permutation(len(sizes))
    rows = np.concatenate([starts[s] + rng.permutation(sizes[s]) for s in visit]) if len(sizes) else np.empty(0)
    total = int(sizes.sum())
    span = max(1, total // partitions)
    positions = np.arange(total, dtype=np.float64)
    for begin, end in _pieces(np.cumsum(sizes[visit]), span, total):
        part = min(begin // span, partitions - 1)
        lo, hi = part * span, (total if part == partitions - 1 else (part + 1) * span)
        half = max(0.0, (block_rows - (end - begin)) / 2)
        low, high = max(-half, lo - begin), min(half, hi - end)  # stay inside the partition
        if high > low:
            positions[begin:end] += rng.uniform(low, high, end - begin)
    return rows[np.argsort(positions, kind="stable")].astype(np.int64)


def _pieces(ends: np.ndarray, span: int, total: int) -> list[tuple[int, int]]:
    """Each visited shard's place ``[begin, end)``, cut where a partition ends."""
    cuts = np.union1d(np.concatenate([[0], ends]), np.arange(0, total, span)[1:])
    return [(int(a), int(b)) for a, b in zip(cuts, cuts[1:]) if b > a]


def shards_in_use(order: np.ndarray, offsets: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For an order of rows, each shard it touches with the first and last position that needs it,
    sorted by first use: what a prefetcher fetches, and when a shard may leave the cache."""
    shard_of = np.searchsorted(np.asarray(offsets), order, side="right") - 1
    shards, first = np.unique(shard_of, return_index=True)
    last = len(shard_of) - 1 - np.unique(shard_of[::-1], return_index=True)[1]
    by_first = np.argsort(first, kind="stable")
    return shards[by_first], first[by_first], last[by_first]
