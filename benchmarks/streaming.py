"""Streaming shards from an object store: bytes downloaded per epoch and time to the first batch.

Usage: python -m benchmarks.streaming [--shards 32] [--rows-per-shard 64] [--seq-len 1024]
[--cache-share 0.25] [--world 1 2 4] [--workers 0 2]

Writes synthetic shards to an in-memory fsspec filesystem that counts every byte read from it
(``counted://``, shared with DataLoader workers through shared memory), then runs one epoch of
``PackedLoader`` per setting with a cold cache of ``--cache-share`` of the dataset: the
shard-aware shuffle (``shuffle_algo="shards"``, the default) beside the global permutation,
each rank in turn. Reports bytes downloaded over all ranks / dataset bytes, and seconds to the
first batch. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import tempfile
import time
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
from fsspec.implementations.memory import MemoryFileSystem

from tokenization.shards.shards import PackConfig, build_rows, shard_counts, write_manifest, write_shard
from tokenization.tokenizer.tokenize import TOKENS_SCHEMA

BYTES_READ = multiprocessing.Value("q", 0)  # before any fork: DataLoader workers add to the same counter


class _CountingReader:
    def __init__(self, f: Any) -> None:
        self._f = f

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        with BYTES_READ.get_lock():
            BYTES_READ.value += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


class CountingFileSystem(MemoryFileSystem):
    """fsspec's in-memory filesystem, counting the bytes read from it (``counted://``)."""

    protocol = "counted"

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        f = super()._open(path, mode, **kwargs)
        return _CountingReader(f) if "r" in mode else f

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        data = super().cat_file(path, start, end, **kwargs)
        with BYTES_READ.get_lock():
            BYTES_READ.value += len(data)
        return data


fsspec.register_implementation("counted", CountingFileSystem, clobber=True)


def write_synthetic_shards(base: str, shards: int, rows_per_shard: int, seq_len: int) -> int:
    """``shards`` shards of ``rows_per_shard`` rows of random tokens (one document per row) under
    ``base``; returns their bytes."""
    cfg = PackConfig(seq_len=seq_len, mask={"block_size": 64})
    rng = np.random.default_rng(0)
    entries = []
    for s in range(shards):
        docs = [
            {
                "id": f"s{s}d{i}",
                "source": "web",
                "token_ids": rng.integers(20, 900, size=seq_len - 8).astype(np.uint32).tolist(),
                "image_sha256": [],
                "pack_group": s,
                "pack_key": f"{s:04d}{i:06d}",
            }
            for i in range(rows_per_shard)
        ]
        table, _ = build_rows(pa.Table.from_pylist(docs, schema=TOKENS_SCHEMA), cfg, group_key=str(s))
        entry = write_shard(table, f"{base}/shard-{s:05d}-0000.arrow", batch_rows=16)
        entries.append({**entry, **shard_counts(table)})
    header = {"seq_len": seq_len, "mask": cfg.mask.model_dump(), "tokenizer": {"vocab_size": 1024}}
    write_manifest(base, entries, header)
    return sum(e["bytes"] for e in entries)


def one_epoch(base: str, cache_bytes: int, world: int, workers: int, algo: str) -> dict[str, float]:
    """Every rank's epoch in turn, each with a cold cache of its own: bytes read and first-batch time."""
    from tokenization.loader import PackedLoader

    BYTES_READ.value = 0
    first_batch, rows = [], 0
    for rank in range(world):
        cache_dir = tempfile.mkdtemp(prefix="corpusmill-bench-cache-")
        start = time.perf_counter()
        loader = PackedLoader(
            base, 4, rank=rank, world_size=world, num_workers=workers, attention="dense", shuffle_algo=algo,
            cache_dir=cache_dir, cache_bytes=cache_bytes, seed=0,
        )  # fmt: skip
        for k, batch in enumerate(loader):
            if k == 0:
                first_batch.append(time.perf_counter() - start)
            rows += len(batch["index"])
        shutil.rmtree(cache_dir)
    return {"bytes_read": BYTES_READ.value, "first_batch_s": max(first_batch), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--rows-per-shard", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--cache-share", type=float, default=0.25)
    parser.add_argument("--world", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    base = "counted://bench/shards"
    total = write_synthetic_shards(base, args.shards, args.rows_per_shard, args.seq_len)
    cache_bytes = int(total * args.cache_share)
    print(f"dataset: {args.shards} shards, {total / 1e6:.1f} MB; cache {cache_bytes / 1e6:.1f} MB")
    results = []
    for world in args.world:
        for workers in args.workers:
            for algo in ("shards", "global"):
                r = one_epoch(base, cache_bytes, world, workers, algo)
                r |= {
                    "world": world,
                    "workers": workers,
                    "algo": algo,
                    "downloaded_over_dataset": r["bytes_read"] / total,
                }
                results.append(r)
                print(
                    f"world {world} workers {workers} {algo:>6}: downloaded {r['downloaded_over_dataset']:.2f}x "
                    f"the dataset, first batch {r['first_batch_s']:.3f} s, {r['rows']} rows"
                )
    worst = max(r["downloaded_over_dataset"] for r in results if r["algo"] == "shards")
    best_global = min(r["downloaded_over_dataset"] for r in results if r["algo"] == "global")
    summary = {"cache_share": args.cache_share, "shards_worst_ratio": round(worst, 3)}
    summary |= {"global_best_ratio": round(best_global, 3), "runs": results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
