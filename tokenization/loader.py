"""PyTorch loading of packed shards: a map-style dataset, a rank-aware epoch sampler, a varlen collate.

The sampler draws one seeded permutation per epoch and gives rank ``r`` every
``world_size``-th index of it, so ranks see disjoint rows of equal count; DataLoader
workers then fetch the indices the sampler hands out, so no worker repeats another's row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tokenization.masks import varlen_kwargs
from tokenization.shard_reader import PackedShards

Remainder = Literal["drop", "pad"]


class PackedDataset(Dataset):
    """Rows of a shard directory as tensors; ``index`` is the row's global position."""

    def __init__(self, shard_dir: str) -> None:
        self.shards = PackedShards(shard_dir)

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.shards.row(int(index))
        out: dict[str, Any] = {k: torch.from_numpy(v) for k, v in row.items()}
        out["index"] = int(index)
        return out


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sliced across ranks; every rank gets the same number of rows.

    ``remainder="drop"`` leaves out the last ``len % world_size`` rows of the permutation,
    ``"pad"`` repeats its first rows to fill the last round.
    """

    def __init__(self, num_rows: int, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True,
                 remainder: Remainder = "drop") -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.num_rows, self.rank, self.world_size = num_rows, rank, world_size
        self.seed, self.shuffle, self.remainder = seed, shuffle, remainder
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_order(self) -> np.ndarray:
        """This epoch's order of all rows, trimmed or padded to a multiple of ``world_size``."""
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.num_rows) if self.shuffle
                 else np.arange(self.num_rows))
        extra = self.num_rows % self.world_size
        if extra and self.remainder == "drop":
            order = order[: self.num_rows - extra]
        elif extra:
            order = np.concatenate([order, order[: self.world_size - extra]])
        return order

    def __len__(self) -> int:
        return len(self.global_order()) // self.world_size

    def __iter__(self) -> Iterator[int]:
        return iter(self.global_order()[self.rank :: self.world_size].tolist())


def collate_packed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack rows; ``cu_seqlens`` / ``max_seqlen`` (a host int) over the flattened batch for varlen kernels."""
    batch: dict[str, Any] = {k: torch.stack([r[k] for r in rows]) for k in
                             ("input_ids", "labels", "position_ids", "loss_mask")}
    varlen = varlen_kwargs([r["cu_seqlens"].numpy() for r in rows], rows[0]["input_ids"].shape[0])
    batch["cu_seqlens"] = torch.from_numpy(varlen["cu_seqlens"])
    batch["max_seqlen"] = varlen["max_seqlen"]
    batch["index"] = torch.tensor([r["index"] for r in rows])
    return batch


def make_loader(shard_dir: str, batch_size: int, *, rank: int = 0, world_size: int = 1, num_workers: int = 0,
                seed: int = 0, epoch: int = 0, shuffle: bool = True, remainder: Remainder = "drop",
                pin_memory: bool = False) -> DataLoader:
    dataset = PackedDataset(shard_dir)
    sampler = EpochSampler(len(dataset), rank, world_size, seed, shuffle, remainder)
    sampler.set_epoch(epoch)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      collate_fn=collate_packed, pin_memory=pin_memory, drop_last=False,
                      persistent_workers=False)
