"""Loader throughput against HF ``datasets`` on the same Arrow shards, same run.

Usage: python -m benchmarks.loader [--shards out/sample/shards] [--batch 8] [--epochs 5] [--repeats 3]
(run ``corpusmill run`` first). Both loaders run in this process (num_workers=0), shuffled,
over every row; corpusmill's batches carry input_ids, labels, position_ids and loss_mask, the
HF baseline only input_ids as torch tensors. Throughput is steady state: tokens after the first
batch over ``--epochs`` epochs of one loader (a training run lasts far longer than the sample's
epoch of 64 batches, so start-up is reported apart, as time to first batch). Also: the cost per
batch of each attention form (``none`` and ``varlen`` with the layouts they can express), and a
whole epoch of a new loader with shard verification on and off (each shard's size, xxh3-64,
layout and token ids checked when the process first opens it). MosaicML ``streaming`` is not
measured: with its pins it would replace the CPU torch with a CUDA build; installed without
them, ``import streaming`` fails, as it imports torchvision, and no torchvision wheel on the
registry loads its ops against the CPU torch. Last line: JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile
import time

import torch  # noqa: E402

from tokenization.loader import PackedLoader  # noqa: E402

LAYOUT = {"none": "causal", "varlen": "documents_only"}  # the sample's block_sparse mask needs flex or dense


def _ours(shards: str, batch: int, attention: str, epochs: int, verify: bool = True) -> tuple[float, float, int]:
    """(tokens/s after the first batch over ``epochs`` epochs, seconds to the first batch, batches per epoch)."""
    start = time.perf_counter()
    layout = LAYOUT.get(attention, "stored")
    loader = PackedLoader(shards, batch, seed=0, attention=attention, layout=layout, verify=verify)
    it = iter(loader)
    first = next(it)
    first_s = time.perf_counter() - start
    steady, tokens = time.perf_counter(), sum(b["input_ids"].numel() for b in it)
    for epoch in range(1, epochs):
        loader.set_epoch(epoch)
        tokens += sum(b["input_ids"].numel() for b in loader)
    del first
    return tokens / (time.perf_counter() - steady), first_s, len(loader)


def _cold_epoch(shards: str, batch: int, verify: bool) -> float:
    """Tokens/s of one whole epoch of a new loader, opening (and verifying) every shard on the way."""
    start = time.perf_counter()
    loader = PackedLoader(shards, batch, seed=0, attention="none", layout="causal", verify=verify)
    tokens = sum(b["input_ids"].numel() for b in loader)
    return tokens / (time.perf_counter() - start)


def _hf(files: list[str], batch: int, cache: str, epochs: int) -> tuple[float, float]:
    import datasets

    start = time.perf_counter()
    ds = datasets.load_dataset("arrow", data_files=files, split="train", cache_dir=cache).with_format(
        "torch", columns=["input_ids"]
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True)
    it = iter(loader)
    next(it)
    first_s = time.perf_counter() - start
    steady, tokens = time.perf_counter(), sum(b["input_ids"].numel() for b in it)
    for _ in range(1, epochs):
        tokens += sum(b["input_ids"].numel() for b in loader)
    return tokens / (time.perf_counter() - steady), first_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", default="out/sample/shards")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per loader, taking turns; the best counts")
    parser.add_argument("--out", default="benchmarks/results/loader.json")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.shards, "shard-*.arrow")))
    if not files:
        raise SystemExit(f"no shards in {args.shards}: run `corpusmill run` first")
    result: dict = {"forms": {}}
    with tempfile.TemporaryDirectory() as cache:
        ours, hf = [], []
        hf.append(_hf(files, args.batch, cache, 1))  # fills the cache: both then read prepared files
        hf.clear()
        for _ in range(args.repeats):  # alternate, so both see the same machine state
            ours.append(_ours(args.shards, args.batch, "none", args.epochs))
            hf.append(_hf(files, args.batch, cache, args.epochs))
    best, best_hf = max(ours), max(hf)
    result.update(
        tokens_per_s=round(best[0]),
        first_batch_s=round(min(o[1] for o in ours), 4),
        hf_datasets_tokens_per_s=round(best_hf[0]),
        hf_first_batch_s=round(min(h[1] for h in hf), 4),
        batches=best[2],
    )
    cold = {v: max(_cold_epoch(args.shards, args.batch, v) for _ in range(args.repeats)) for v in (True, False)}
    result["verified_epoch_tokens_per_s"] = round(cold[True])
    result["unverified_epoch_tokens_per_s"] = round(cold[False])
    result["verify_cost"] = round(cold[False] / cold[True] - 1, 3)  # extra time share of a cold epoch
    for form in ("varlen", "dense", "flex"):
        rate, _, batches = _ours(args.shards, args.batch, form, 1)  # one epoch: a dense mask is 128 MiB a batch
        result["forms"][form] = {
            "tokens_per_s": round(rate),
            "ms_per_batch_over_none": round((1 / rate - 1 / best[0]) * args.batch * 4096 * 1e3, 3),
        }
    result["speedup"] = round(result["tokens_per_s"] / result["hf_datasets_tokens_per_s"], 2)
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    keys = ("tokens_per_s", "hf_datasets_tokens_per_s", "speedup", "first_batch_s", "verified_epoch_tokens_per_s")
    print(json.dumps({k: result[k] for k in (*keys, "verify_cost")}))


if __name__ == "__main__":
    main()
