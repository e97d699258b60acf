"""PyTorch loading of packed shards: a map-style dataset, a rank-aware epoch sampler, a resumable loader.

The sampler draws one seeded permutation per epoch and gives rank ``r`` every
``world_size``-th index of it, so ranks see disjoint rows of equal count; DataLoader workers
fetch the indices the sampler hands out, so no worker repeats another's row, and the order of
batches does not depend on the number of workers. That is what makes resuming exact: the
state is (epoch, batches already yielded), and a restored loader skips exactly those.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Iterator
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tokenization.batch_plan import BatchPlan, plan_batch
from tokenization.shards import storage
from tokenization.shards.flex_mask import flex_block_mask_from
from tokenization.shards.image_store import ImageStore
from tokenization.shards.masks import (
    Layout,
    Materializer,
    attention_segments,
    effective_policy,
    sdpa_mask_from,
    varlen_kwargs,
)
from tokenization.shards.prefetch import Prefetcher
from tokenization.shards.reader import PackedShards
from tokenization.shards.shuffle import ShuffleAlgo, global_order, shard_aware_order
from tokenization.shards.storage import ShardCache

log = logging.getLogger("corpusmill")
Remainder = Literal["drop", "pad"]
Attention = Materializer
Images = bool | Literal["bytes", "tensors"]  # True is "bytes"


def decode_image(data: bytes) -> torch.Tensor:
    """An image file's pixels as a uint8 ``[3, H, W]`` RGB tensor (Pillow's decompression-bomb limit applies)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


class PackedDataset(Dataset):
    """Rows of a shard directory as tensors; ``index`` is the row's global position.

    With ``attention`` ``flex`` or ``dense`` each row also carries its ``block_layout`` and
    ``segments`` (``masks.attention_segments``), from which the batch's mask is built; with
    ``images`` its image spans (``sha256``, ``start`` at ``<|image_start|>``, ``length`` N + 2)
    with the image file's ``bytes`` (``True`` or ``"bytes"``) or its decoded ``pixels``
    (``"tensors"``: uint8 ``[3, H, W]`` RGB, decoded in the DataLoader workers).

    The mask is the shards' own (``layout="stored"``): a materializer that cannot express their
    policy exactly is refused (``masks.effective_policy``), unless ``layout`` names the mask to
    realize instead (``"documents_only"``, ``"causal"``)."""

    def __init__(
        self,
        shard_dir: str,
        attention: Attention = "flex",
        images: Images = False,
        layout: Layout = "stored",
        seq_len: int | None = None,
        verify: bool = True,
        cache: ShardCache | None = None,
    ) -> None:
        self.shards = PackedShards(shard_dir, cache, verify=verify)
        if seq_len is not None and seq_len != self.shards.seq_len:
            raise ValueError(
                f"the trainer expects seq_len {seq_len}; the shards in {shard_dir} hold {self.shards.seq_len}"
            )
        self.attention, self.layout = attention, layout
        self.stored_policy = self.shards.manifest.get("mask", {}).get("policy", "document")
        self.policy = effective_policy(attention, self.stored_policy, layout)
        manifest = self.shards.manifest
        if images not in (False, True, "bytes", "tensors"):
            raise ValueError(f"images must be False, True, 'bytes' or 'tensors', not {images!r}")
        self.images = ImageStore(shard_dir, manifest.get("images", []), self.shards.cache) if images else None
        self.decode = images == "tensors"

    def _images(self, indices: list[int]) -> list[list[dict[str, Any]]]:
        """Per row, its image spans with the bytes or pixels; an image repeated in a batch is read once."""
        found: dict[str, Any] = {}
        out = []
        for i in indices:
            spans = self.shards.provenance(int(i))["images"]
            for span in spans:
                if span["sha256"] not in found:
                    data = self.images.get(span["sha256"])
                    found[span["sha256"]] = decode_image(data) if self.decode else data
            out.append([dict(span, **{"pixels" if self.decode else "bytes": found[span["sha256"]]}) for span in spans])
        return out

    def __len__(self) -> int:
        return len(self.shards)

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        """A whole batch at once (DataLoader calls this when it exists): vectorized over rows."""
        # under a causal policy attention spans the row's documents: so do the positions
        positions = "row" if self.policy == "causal" else "documents"
        rows = self.shards.rows(indices, cu_seqlens=self.attention != "none", positions=positions)
        out: dict[str, Any] = {
            k: torch.from_numpy(rows[k]) for k in ("input_ids", "labels", "position_ids", "loss_mask")
        }
        if self.attention == "varlen":  # the cuts the policy makes: under causal, only the padding's
            out["cu_seqlens"] = [torch.from_numpy(self._varlen_cuts(cu)) for cu in rows["cu_seqlens"]]
        out["index"] = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        if self.images is not None:
            out["images"] = self._images(indices)
        if self.attention in ("flex", "dense"):
            seq_len = self.shards.seq_len
            out["block_layout"] = torch.from_numpy(np.stack([self._block_layout(int(i)) for i in indices]))
            out["segments"] = torch.from_numpy(
                np.stack([attention_segments(cu, seq_len, self.policy) for cu in rows["cu_seqlens"]])
            )
        return out

    def _varlen_cuts(self, cu: np.ndarray) -> np.ndarray:
        return cu if self.policy != "causal" else np.asarray([0, cu[-1]] if cu[-1] else [0], dtype=cu.dtype)

    def _block_layout(self, index: int) -> np.ndarray:
        """The stored layout, or every causal block when ``layout`` chose a mask without one."""
        if self.layout == "stored":
            return self.shards.block_layout(index)
        nb = self.shards.seq_len // self.shards.manifest["mask"]["block_size"]
        return np.tril(np.ones((nb, nb), dtype=bool))

    def __getitem__(self, index: int) -> dict[str, Any]:
        batch = self.__getitems__([index])
        return {k: v[0] if k != "index" else int(v[0]) for k, v in batch.items()}


class EpochSampler(Sampler[int]):
    """A seeded order per epoch, split across ranks; every rank gets the same number of rows.

    ``algo="global"``: one permutation of all rows, rank ``r`` taking every ``world_size``-th.
    ``algo="shards"`` (give ``shard_rows``): the shard-aware order of ``shuffle.shard_aware_order``,
    each rank taking a contiguous span of it, so a rank reads about its share of the shards.
    ``remainder="drop"`` leaves out the last ``len % world_size`` rows of the order, ``"pad"``
    repeats its first rows to fill the last round. ``start`` skips this rank's first indices (a
    resumed epoch)."""

    def __init__(
        self,
        num_rows: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        remainder: Remainder = "drop",
        algo: ShuffleAlgo = "global",
        shard_rows: list[int] | None = None,
        block_rows: int | None = None,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if algo == "shards" and (shard_rows is None or sum(shard_rows) != num_rows):
            raise ValueError("algo='shards' needs shard_rows, the rows of each shard in order, adding up to num_rows")
        self.num_rows, self.rank, self.world_size = num_rows, rank, world_size
        self.seed, self.shuffle, self.remainder = seed, shuffle, remainder
        self.algo, self.shard_rows = algo, shard_rows
        self.block_rows = block_rows or 4 * max(1, num_rows // max(1, len(shard_rows or [0])))  # ~4 shards
        self.epoch, self.start = 0, 0
        self.whole = 1  # rows per optimizer step of a rank, when the loader plans steps: epochs end on one
        self._memo: tuple[int, np.ndarray] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_order(self) -> np.ndarray:
        """This epoch's order of all rows, trimmed or padded to a multiple of ``world_size``."""
        if self._memo is not None and self._memo[0] == self.epoch:
            return self._memo[1]
        if not self.shuffle:
            order = np.arange(self.num_rows)
        elif self.algo == "shards":
            order = shard_aware_order(self.shard_rows, self.seed, self.epoch, self.block_rows, self.world_size)
        else:
            order = global_order(self.num_rows, self.seed, self.epoch)
        extra = self.num_rows % self.world_size
        if extra and self.remainder == "drop":
            order = order[: self.num_rows - extra]
        elif extra:  # np.resize repeats the order as often as needed, also when it is shorter than the gap
            order = np.resize(order, len(order) + self.world_size - extra)
        self._memo = (self.epoch, order)
        return order

    def rank_order(self) -> np.ndarray:
        """This rank's rows for the whole epoch, in order (cut to a multiple of ``whole``)."""
        order, n = self.global_order(), len(self.global_order()) // self.world_size
        mine = (
            order[self.rank * n : (self.rank + 1) * n] if self.algo == "shards" else order[self.rank :: self.world_size]
        )
        return mine[: len(mine) // self.whole * self.whole]

    def __len__(self) -> int:
        """The indices left in this epoch: none when a restored position lies past its end (a smaller order)."""
        return max(0, len(self.rank_order()) - self.start)

    def __iter__(self) -> Iterator[int]:
        return iter(self.rank_order()[self.start :].tolist())


def collate_packed(data: dict[str, Any] | list[dict[str, Any]], attention: Attention = "flex") -> dict[str, Any]:
    """Finish a batch (from ``__getitems__``, or a list of single rows). ``varlen``: ``cu_seqlens`` /
    ``max_seqlen`` (a host int) over the flattened batch; ``dense``: a ``[B, 1, L, L]`` boolean
    ``attn_mask``; ``flex``: the layouts and segments, from which the loader builds a ``BlockMask``
    on the target device; ``none``: no mask."""
    if isinstance(data, list):
        data = {
            k: [r[k] for r in data]
            if k in ("cu_seqlens", "images")
            else torch.tensor([r[k] for r in data])
            if k == "index"
            else torch.stack([r[k] for r in data])
            for k in data[0]
        }
    batch = {k: v for k, v in data.items() if k not in ("cu_seqlens", "segments", "block_layout")}
    if attention == "varlen":
        varlen = varlen_kwargs([cu.numpy() for cu in data["cu_seqlens"]], data["input_ids"].shape[1])
        batch["cu_seqlens"] = torch.from_numpy(varlen["cu_seqlens"])
        batch["max_seqlen"] = varlen["max_seqlen"]
    elif attention == "flex":
        batch["segments"], batch["block_layout"] = data["segments"], data["block_layout"]
    elif attention == "dense":
        batch["attn_mask"] = sdpa_mask_from(data["segments"], data["block_layout"])
    return batch


class PackedLoader:
    """Batches of one rank, resumable at the exact next batch (also with another number of workers).

    The loader keeps its epoch: a finished pass moves it to the next epoch, and a restored state
    continues where it was. ``set_epoch`` may jump forward but never back (that would replay rows
    a restored run has already trained on), so the loop is ``for epoch in range(loader.epoch, epochs)``.
    ``flex`` batches get ``block_mask``, built on ``device`` after the batch is moved there."""

    def __init__(
        self,
        shard_dir: str,
        batch_size: int | None = None,
        *,
        tokens_per_step: int | None = None,
        max_micro_batch: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        remainder: Remainder = "drop",
        attention: Attention = "flex",
        layout: Layout = "stored",
        seq_len: int | None = None,
        verify: bool = True,
        pin_memory: bool = False,
        device: str | torch.device | None = None,
        images: Images = False,
        shuffle_algo: ShuffleAlgo = "shards",
        shuffle_block: int | None = None,
        cache_dir: str | None = None,
        cache_bytes: int = 8 << 30,
        prefetch: bool = True,
    ) -> None:
        default_dir = os.path.join(tempfile.gettempdir(), "corpusmill-shard-cache", f"rank-{rank}")
        cache = None if storage.is_local(shard_dir) else ShardCache(cache_dir or default_dir, cache_bytes)
        self.dataset = PackedDataset(shard_dir, attention, images, layout, seq_len, verify, cache)
        shard_rows = [e["rows"] for e in self.dataset.shards.entries]
        self.sampler = EpochSampler(
            len(self.dataset), rank, world_size, seed, shuffle, remainder, shuffle_algo, shard_rows, shuffle_block
        )
        self.prefetch = prefetch and cache is not None
        self._ahead: Prefetcher | None = None
        if cache is not None:
            _check_cache_holds_the_window(self.dataset.shards, self.sampler, cache)
        self.plan: BatchPlan | None = None
        if tokens_per_step is not None:
            if batch_size is not None or max_micro_batch is None:
                raise ValueError("with tokens_per_step, give max_micro_batch (rows one device holds), not batch_size")
            self.plan = plan_batch(tokens_per_step, self.dataset.shards.seq_len, world_size, max_micro_batch)
            batch_size = self.plan.micro_batch
            self.sampler.whole = self.plan.micro_batch * self.plan.accumulation  # every step whole
            log.info(self.plan.describe())
        elif batch_size is None:
            raise ValueError("give batch_size (rows per batch) or tokens_per_step with max_micro_batch")
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.attention, self.device = attention, device
        self.batches_done = 0

    @property
    def epoch(self) -> int:
        """The epoch the next batch belongs to."""
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        """Go to ``epoch`` (the current one keeps its position, a later one starts at its beginning)."""
        if epoch < self.sampler.epoch:
            raise ValueError(
                f"set_epoch({epoch}): this loader is at epoch {self.sampler.epoch} (batch {self.batches_done}); "
                "going back would replay rows already trained on. Loop `for epoch in range(loader.epoch, epochs)`"
            )
        if epoch != self.sampler.epoch:
            self.batches_done = 0
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.sampler.rank_order()) // self.batch_size)

    def _finish(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.device is not None:
            batch = {
                k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
            }
        if self.attention == "flex":
            block = self.dataset.shards.manifest["mask"]["block_size"]
            batch["block_mask"] = flex_block_mask_from(batch["segments"], batch["block_layout"], block)
        return batch

    def _batches(self) -> Iterator[dict[str, Any]]:
        """The pass's batches: without workers or pinning, taken in this process straight from the
        sampler (the DataLoader's own machinery would cost ~a quarter of a batch's time); else a
        DataLoader's. Same indices, same batches either way."""
        collate = partial(collate_packed, attention=self.attention)
        if self.num_workers == 0 and not self.pin_memory:
            order = self.sampler.rank_order()[self.sampler.start :].tolist()
            size = self.batch_size
            return (collate(self.dataset.__getitems__(order[i : i + size])) for i in range(0, len(order), size))
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            collate_fn=collate,
        )
        return iter(loader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._ahead is not None:  # a pass left unfinished: its prefetcher stops before workers fork
            self._ahead.close()
        self.sampler.start = self.batches_done * self.batch_size
        batches = self._batches()  # DataLoader workers fork here: before the prefetcher starts (no inherited lock)
        ahead = self._ahead = None
        if self.prefetch:  # this pass's shards, fetched in the order it will need them
            order = self.sampler.rank_order()[self.sampler.start :]
            ahead = self._ahead = Prefetcher(self.dataset.shards, order, self.batch_size)
        try:
            for k, batch in enumerate(batches, 1):
                self.batches_done += 1
                if ahead is not None:
                    ahead.advance(k)
                yield self._finish(batch)
        finally:
            if ahead is not None:
                ahead.close()
        self.batches_done = 0  # the epoch is complete: the next pass is the next epoch
        self.sampler.start = 0
        self.sampler.set_epoch(self.sampler.epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        s = self.sampler
        return {
            "epoch": s.epoch,
            "batches_done": self.batches_done,
            "seed": s.seed,
            "rank": s.rank,
            "world_size": s.world_size,
            "batch_size": self.batch_size,
            "num_rows": s.num_rows,
            "shuffle": s.shuffle,
            "remainder": s.remainder,
            "shuffle_algo": s.algo,
            "shuffle_block": s.block_rows,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = self.state_dict()
        state = {"shuffle_algo": "global", **state}  # a state saved before shard-aware orders: global
        keys = ["seed", "rank", "world_size", "batch_size", "num_rows", "shuffle", "remainder", "shuffle_algo"]
        if mine["shuffle_algo"] == "shards":  # the block shapes only that order
            keys.append("shuffle_block")
        for key in keys:
            if state[key] != mine[key]:
                raise ValueError(f"cannot resume: {key} was {state[key]!r}, this loader has {mine[key]!r}")
        self.sampler.set_epoch(state["epoch"])
        self.batches_done = state["batches_done"]


def _check_cache_holds_the_window(shards: PackedShards, sampler: EpochSampler, cache: ShardCache) -> None:
    """Warn when the shuffle needs more resident shards than the cache holds: it would download
    shards again and again (the global order needs them all; the shard-aware one ~block/shard + 2)."""
    sizes = [e["bytes"] for e in shards.entries]
    if not sizes:
        return
    mean_rows = max(1, len(shards) // len(sizes))
    window = len(sizes) if sampler.algo == "global" else min(len(sizes), sampler.block_rows // mean_rows + 2)
    needed = window * max(sizes)
    if needed > cache.max_bytes:
        log.warning(
            "loader: the %s shuffle keeps about %d shards (%.1f MB) in use; the cache holds %.1f MB: shards will "
            "be downloaded again and again (raise cache_bytes%s)",
            sampler.algo,
            window,
            needed / 1e6,
            cache.max_bytes / 1e6,
            ", or use shuffle_algo='shards'" if sampler.algo == "global" else " or lower shuffle_block",
        )


def make_loader(shard_dir: str, batch_size: int, **kwargs: Any) -> PackedLoader:
    return PackedLoader(shard_dir, batch_size, **kwargs)
