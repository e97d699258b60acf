"""FlexAttention BlockMask build time per batch: the previous construction against the current one, same batches.

Usage: python -m benchmarks.mask_build [--batches 3] [--iters 20] [--rounds 5] [--threads 0]
                                      [--device all|cpu|cuda] [--out benchmarks/results/mask_build.json]
Batches: 8 rows of 4096 tokens, block 64 (64 x 64 blocks), each row 2 to 12 documents, every third
row ending in padding; layouts as the pipeline stores them (``masks.block_layout``, ``MaskConfig()``
defaults, so ``block_sparse``; the other policies are timed too). Both constructions start from the
batch's ``segments`` and ``block_layout`` tensors on the device, as the loader hands them over
(``flex_block_mask_from``); ``new_rows`` adds computing the segments from ``cu_seqlens`` on the
host (``flex_block_mask``). Old and new take turns on each batch; a figure is the best round's
mean, in ms per batch of 8, wall clock and this process's CPU time (other load on the machine
inflates the latter less; ``--threads 1`` steadies both where other processes hold the cores, as
torch's intra-op threads then wait on each other). Before timing, every tensor of the two
BlockMasks is checked equal. ``--device all`` adds CUDA when there is one. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.nn.attention.flex_attention import BlockMask

from tokenization.shards.flex_mask import flex_block_mask, flex_block_mask_from
from tokenization.shards.masks import MaskConfig, attention_segments, block_layout

SEQ, BLOCK, ROWS = 4096, 64, 8
POLICIES = ("block_sparse", "document", "causal")


def old_flex_block_mask_from(segments: Any, layouts: Any, block: int) -> Any:
    """The construction before issue #21 point 8, verbatim: argsort for the kv lists, and
    ``from_kv_blocks`` deriving the q lists (a vmapped dense round trip and another argsort)."""
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


def make_batch(rng: np.random.Generator, policy: str, seq_len: int = SEQ, rows: int = ROWS) -> tuple[list, np.ndarray]:
    """``cu_seqlens`` and stored layouts of ``rows`` rows: 2 to 12 documents each, every third row padded."""
    cus = []
    for r in range(rows):
        filled = seq_len if r % 3 else int(rng.integers(seq_len // 2, seq_len - 1))
        cuts = np.sort(rng.choice(np.arange(1, filled), size=int(rng.integers(1, 12)), replace=False))
        cus.append(np.concatenate([[0], cuts, [filled]]).astype(np.int32))
    cfg = MaskConfig(policy=policy, block_size=BLOCK)
    layouts = np.stack([block_layout(cu, seq_len, cfg, seed=0, row_key=str(r)) for r, cu in enumerate(cus)])
    return cus, layouts


def same_block_mask(a: Any, b: Any) -> bool:
    """Every tensor (kv and q lists, partial and full) and the sizes equal."""
    ta, tb = a.as_tuple(), b.as_tuple()
    return len(ta) == len(tb) and all(
        torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y for x, y in zip(ta, tb) if not callable(x)
    )


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fns: dict[str, Callable[[], Any]], device: str, iters: int, rounds: int) -> dict[str, tuple[float, float]]:
    """(wall, process CPU) ms per call of each function, each the best round's mean; the functions
    take turns each round. CPU time counts only this process, so other load inflates it less."""
    best = {name: (float("inf"), float("inf")) for name in fns}
    for fn in fns.values():
        fn()  # warm-up (and, on CUDA, the kernels' first launch)
    for _ in range(rounds):
        for name, fn in fns.items():
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(iters):
                fn()
            _sync(device)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall / iters * 1e3), min(best[name][1], cpu / iters * 1e3))
    return best


def time_policy(policy: str, device: str, n_batches: int = 3, iters: int = 20, rounds: int = 5) -> dict[str, Any]:
    """Old and new construction on the same ``n_batches`` batches of ``policy``: ms per batch of 8,
    their ratio, and whether every BlockMask tensor came out equal."""
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(n_batches):
        cus, layouts = make_batch(rng, policy)
        segs = torch.from_numpy(np.stack([attention_segments(cu, SEQ, policy) for cu in cus])).to(device)
        batches.append((cus, layouts, segs, torch.from_numpy(layouts).to(device)))
    equal = all(
        same_block_mask(old_flex_block_mask_from(s, lay, BLOCK), flex_block_mask_from(s, lay, BLOCK))
        for _, _, s, lay in batches
    )
    times = dict.fromkeys(("old", "new", "new_rows", "old_process", "new_process"), 0.0)
    for cus, layouts, segs, lay in batches:
        got = _time(
            {
                "old": partial(old_flex_block_mask_from, segs, lay, BLOCK),
                "new": partial(flex_block_mask_from, segs, lay, BLOCK),
                "new_rows": partial(flex_block_mask, cus, layouts, SEQ, BLOCK, policy, device),
            },
            device,
            iters,
            rounds,
        )
        for name in ("old", "new", "new_rows"):
            times[name] += got[name][0] / len(batches)
        for name in ("old", "new"):
            times[f"{name}_process"] += got[name][1] / len(batches)
    out = {f"{k}_ms": round(v, 3) for k, v in times.items()}
    ratio = times["old"] / times["new"]
    out.update(ratio=round(ratio, 1), process_ratio=round(times["old_process"] / times["new_process"], 1), equal=equal)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=3, help="batches of 8 rows per policy")
    parser.add_argument("--iters", type=int, default=20, help="builds per timed round")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per batch; the best counts")
    parser.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, and cuda when present)")
    parser.add_argument("--out", default="benchmarks/results/mask_build.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if not devices:
        raise SystemExit(f"no CUDA device: run with --device cpu (asked for {args.device})")
    result: dict[str, Any] = {"rows": ROWS, "seq_len": SEQ, "block": BLOCK, "threads": torch.get_num_threads()}
    for device in devices:
        result[device] = {}
        for policy in POLICIES:
            result[device][policy] = time_policy(policy, device, args.batches, args.iters, args.rounds)
            print(device, policy, json.dumps(result[device][policy]))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    keys = ("old_ms", "new_ms", "ratio", "old_process_ms", "new_process_ms", "process_ratio")
    summary = {f"{d}_{k}": result[d]["block_sparse"][k] for d in devices for k in keys}
    summary["equal"] = all(r["equal"] for d in devices for r in result[d].values())
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
