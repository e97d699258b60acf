"""The GPU-only checks of what the trainer receives, in one run: what the CPU test suite cannot see.

Usage: python -m benchmarks.gpu_check [--work DIR] [--docs 400] [--skip-train-probe]
                                      [--probe-args "--steps 40 --resume-steps 10 --seq-len 1024"]
                                      [--cpu-dry-run]   (or benchmarks/gpu_check.sh)
Needs no download: it trains a 1000-token BPE on standard-library modules, tokenizes ``--docs`` of
them (the default takes all top-level ones, about 200) and packs them into a small shard directory
(4096-token rows, ``MaskConfig()`` block_sparse masks, block 64) without Ray. Then, each a figure
of the last line:

1. ``block_mask``: the BlockMask built on the GPU has every tensor of the one built on the CPU
   (kv and q lists, partial and full), for each policy on 8 x 4096 batches, and for the loader's
   flex batches (``device="cuda"``) against its CPU ones.
2. ``fused``: torch.compile'd FlexAttention with our BlockMask against SDPA with the dense mask
   (``masks.sdpa_mask``), forward and backward, fp32 and bf16, each policy: max abs difference of
   the outputs and of dq, dk, dv, relative to the largest reference value (tolerance: fp32 1e-3,
   bf16 5e-2). A control runs flex with the layouts less their blocks (i, i - 1): the comparison
   must see that difference (over 0.1), or it would prove nothing.
3. ``pinned``: ``PackedLoader(pin_memory=True)`` hands out pinned tensors, and with
   ``device="cuda"`` (0 and 2 workers) every batch arrives on the GPU equal to the CPU loader's.
4. ``build_ms``: BlockMask build time per batch of 8 on the GPU, old construction and new
   (``benchmarks.mask_build``; target < 1 ms).
5. ``train_probe``: ``python -m benchmarks.train_probe <shards> --device cuda`` with a short run,
   when benchmarks/train_probe.py exists.

Exit status: 2 with one line when there is no CUDA device, 1 when a check fails. ``--cpu-dry-run``
runs the same code on the CPU at small sizes (eager FlexAttention, forward only: no flex backward
on the CPU; no timing target, no probe), to try the script where there is no GPU. Last line: JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.nn.attention.flex_attention import flex_attention

from benchmarks.mask_build import BLOCK, make_batch, same_block_mask, time_policy
from pipeline.schema import DOCUMENT_SCHEMA
from tokenization.loader import PackedLoader
from tokenization.shards.flex_mask import flex_block_mask_from
from tokenization.shards.masks import attention_segments, sdpa_mask_from
from tokenization.shards.shards import PackConfig, build_rows, shard_counts, write_manifest, write_shard
from tokenization.tokenizer.tokenize import TokenizeStage
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer

POLICIES = ("causal", "document", "block_sparse")
TOLERANCE = {"float32": 1e-3, "bfloat16": 5e-2}  # max abs difference / max abs reference value
CONTROL = 0.1  # the control must differ at least this much: a mask error is of the order of the values
PROBE = Path(__file__).with_name("train_probe.py")


def build_shards(work: str, docs: int, seq_len: int) -> str:
    """A shard directory of real text (standard-library modules), packed as the pipeline packs it."""
    root = sysconfig.get_paths()["stdlib"]
    paths = sorted(glob.glob(os.path.join(root, "*.py")))[:docs]
    texts = [Path(p).read_text(encoding="utf-8", errors="replace") for p in paths]
    shard_dir = os.path.join(work, "shards")
    summary = train_tokenizer(iter(texts[:60]), TokenizerConfig(vocab_size=1000), shard_dir)
    rows = [{"id": f"code/{i}", "source": "code", "text": t, "meta": "{}", "images": []} for i, t in enumerate(texts)]
    stage = TokenizeStage(os.path.join(shard_dir, "tokenizer.json"), seed=0, num_pack_groups=2)
    table = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
    tokens = pa.concat_tables([stage(table.slice(i, 64)) for i in range(0, table.num_rows, 64)])
    cfg = PackConfig(seq_len=seq_len)  # MaskConfig() defaults: block_sparse, block 64
    entries = []
    for g in range(2):
        group = tokens.filter(pc.equal(tokens["pack_group"], g))
        shard, _ = build_rows(group, cfg, seed=0, group_key=f"{g:05d}")
        entry = write_shard(shard, os.path.join(shard_dir, f"shard-{g:05d}-0000.arrow"), batch_rows=16)
        entries.append({**entry, **shard_counts(shard)})
    tokenizer = {"file": "tokenizer.json", "sha256": summary["sha256"], "vocab_size": summary["vocab_size"]}
    write_manifest(shard_dir, entries, {"seq_len": seq_len, "mask": cfg.mask.model_dump(), "tokenizer": tokenizer})
    return shard_dir


def _batch_tensors(device: str, policy: str, seq_len: int, seed: int = 0) -> tuple[Any, Any]:
    """Segments and stored layouts of 8 rows of several documents, some padded, on ``device``."""
    cus, layouts = make_batch(np.random.default_rng(seed), policy, seq_len)
    segs = np.stack([attention_segments(cu, seq_len, policy) for cu in cus])
    return torch.from_numpy(segs).to(device), torch.from_numpy(layouts).to(device)


def check_block_mask(device: str, shard_dir: str, seq_len: int) -> dict[str, Any]:
    """The BlockMask built on ``device`` equals the CPU one, tensor for tensor."""
    out: dict[str, Any] = {}
    for policy in POLICIES:
        segs, layouts = _batch_tensors(device, policy, seq_len)
        there = flex_block_mask_from(segs, layouts, BLOCK).to("cpu")
        out[policy] = same_block_mask(there, flex_block_mask_from(segs.cpu(), layouts.cpu(), BLOCK))
    cpu = PackedLoader(shard_dir, 8, shuffle=False, attention="flex", device="cpu")
    dev = PackedLoader(shard_dir, 8, shuffle=False, attention="flex", device=device)
    pairs = list(zip(cpu, dev, strict=True))
    out["loader_batches"] = len(pairs)
    out["loader"] = bool(pairs) and all(same_block_mask(a["block_mask"], b["block_mask"].to("cpu")) for a, b in pairs)
    out["ok"] = all(out[k] for k in (*POLICIES, "loader"))
    return out


def _attend(device: str, dtype: Any, segs: Any, layouts: Any, flex: Any) -> dict[str, float]:
    """Flex with our BlockMask against SDPA with the dense mask of the same rows: max abs difference
    of the output and (not on the CPU: no flex backward there) of each input's gradient, over the
    largest reference value."""
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (segs.shape[0], 4, segs.shape[1], 64)  # 4 heads of 64
    base = [torch.randn(shape, generator=gen, device=device, dtype=dtype) for _ in range(4)]
    backward = device != "cpu"
    results = []
    for run in ("flex", "sdpa"):
        q, k, v = (t.detach().clone().requires_grad_(backward) for t in base[:3])
        if run == "flex":
            out = flex(q, k, v, block_mask=flex_block_mask_from(segs, layouts, BLOCK))
        else:
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=sdpa_mask_from(segs, layouts))
        if backward:
            out.backward(base[3])
        results.append([out.detach(), q.grad, k.grad, v.grad] if backward else [out])
    return {
        name: float((a.float() - b.float()).abs().max() / b.float().abs().max())
        for name, a, b in zip(("out", "dq", "dk", "dv"), *results)
    }


def _control(device: str, segs: Any, layouts: Any, flex: Any) -> float:
    """Flex with the layouts less their first sub-diagonal of blocks against SDPA with the whole
    mask: a comparison that could not tell these apart would prove nothing."""
    idx = torch.arange(layouts.shape[-1], device=device)
    short = layouts & (idx[:, None] - idx[None, :] != 1)  # without blocks (i, i - 1)
    gen = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(segs.shape[0], 4, segs.shape[1], 64, generator=gen, device=device) for _ in range(3))
    wrong = flex(q, k, v, block_mask=flex_block_mask_from(segs, short, BLOCK))
    right = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=sdpa_mask_from(segs, layouts))
    return float((wrong - right).abs().max() / right.abs().max())


def check_fused(device: str, seq_len: int, compiled: bool) -> dict[str, Any]:
    """Fused (compiled) FlexAttention forward and backward against SDPA with the dense mask, each
    policy and dtype, and the control."""
    flex = torch.compile(flex_attention, dynamic=False) if compiled else flex_attention
    out: dict[str, Any] = {"compiled": compiled}
    ok = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention (the dry run) warns that it is not compiled
        for dtype in (torch.float32, torch.bfloat16):
            name = str(dtype).removeprefix("torch.")
            for policy in POLICIES:
                segs, layouts = _batch_tensors(device, policy, seq_len, seed=1)
                diffs = _attend(device, dtype, segs, layouts, flex)
                out[f"{name}/{policy}"] = {k: round(v, 7) for k, v in diffs.items()}
                ok &= max(diffs.values()) <= TOLERANCE[name]
        segs, layouts = _batch_tensors(device, "block_sparse", seq_len, seed=1)
        out["control_rel_diff"] = round(_control(device, segs, layouts, flex), 4)
    out["ok"] = ok and out["control_rel_diff"] > CONTROL
    return out


def _same_batch(cpu: dict[str, Any], there: dict[str, Any], device: str) -> bool:
    """Every value of the device batch on ``device`` and equal to the CPU batch's."""
    if cpu.keys() != there.keys():
        return False
    for key, a in cpu.items():
        b = there[key]
        if isinstance(a, torch.Tensor):
            if b.device.type != torch.device(device).type or not torch.equal(a, b.cpu()):
                return False
        elif key == "block_mask":
            if not same_block_mask(a, b.to("cpu")):
                return False
        elif a != b:
            return False
    return True


def check_pinned(device: str, shard_dir: str) -> dict[str, Any]:
    """Pinned batches, and batches moved to ``device`` from pinned memory, equal to the CPU loader's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dry run: torch warns that there is nothing to pin to
        first = next(iter(PackedLoader(shard_dir, 8, shuffle=False, attention="flex", pin_memory=True)))
        out: dict[str, Any] = {"pinned": all(v.is_pinned() for v in first.values() if isinstance(v, torch.Tensor))}
        for workers in (0, 2):
            cpu = PackedLoader(shard_dir, 8, shuffle=False, attention="flex")
            there = PackedLoader(
                shard_dir, 8, shuffle=False, attention="flex", pin_memory=True, device=device, num_workers=workers
            )
            pairs = [_same_batch(a, b, device) for a, b in zip(cpu, there, strict=True)]
            out[f"workers_{workers}"] = {"batches": len(pairs), "equal": bool(pairs) and all(pairs)}
    out["ok"] = (out["pinned"] or device == "cpu") and all(out[f"workers_{w}"]["equal"] for w in (0, 2))
    return out


def check_build_time(device: str, iters: int) -> dict[str, Any]:
    """BlockMask build per batch of 8 x 4096 (block_sparse): old and new construction."""
    out = time_policy("block_sparse", device, 3, iters, 5)
    out.update(target_ms=1.0, target_met=out["new_ms"] < 1.0, ok=out["equal"])
    return out


def run_train_probe(shard_dir: str, probe_args: str, timeout: int) -> dict[str, Any]:
    """A short ``benchmarks.train_probe`` run on the GPU, when that script exists."""
    if not PROBE.exists():
        return {"ran": False, "why": f"{PROBE.name} is not in benchmarks/"}
    cmd = [sys.executable, "-m", "benchmarks.train_probe", shard_dir, "--device", "cuda", *shlex.split(probe_args)]
    print("train_probe:", shlex.join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROBE.parent.parent)
    except subprocess.TimeoutExpired:
        return {"ran": True, "ok": False, "why": f"no result within {timeout} s"}
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    for line in lines[-40:]:
        print("  train_probe |", line)
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    try:
        result = json.loads(last[0])
    except json.JSONDecodeError:
        result = None
    return {"ran": True, "ok": proc.returncode == 0, "returncode": proc.returncode, "result": result}


def _no_cuda_exit() -> None:
    built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    print(
        f"gpu_check: no CUDA device here (torch {torch.__version__}, {built}); these checks need one. "
        "Run it on a GPU machine, or pass --cpu-dry-run to try the script on the CPU.",
        file=sys.stderr,
    )
    sys.exit(2)


def _run(name: str, fn: Any, *args: Any) -> dict[str, Any]:
    """One check; an exception fails it (with its traceback) and the other checks still run."""
    start = time.perf_counter()
    try:
        result = fn(*args)
    except Exception as e:  # reported as this check's failure
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(name, json.dumps(result), flush=True)
    return result


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", help="where the shards go, kept (default: a temporary directory, removed)")
    parser.add_argument("--docs", type=int, default=400, help="standard-library modules packed into the shards")
    parser.add_argument("--skip-train-probe", action="store_true")
    parser.add_argument("--probe-args", default="--steps 40 --resume-steps 10 --seq-len 1024")
    parser.add_argument("--probe-timeout", type=int, default=120, help="seconds")
    parser.add_argument("--cpu-dry-run", action="store_true", help="the same code on the CPU, small (no GPU checks)")
    parser.add_argument("--out", default="benchmarks/results/gpu_check.json")
    return parser.parse_args()


def _checks(args: argparse.Namespace, work: str, device: str, seq_len: int, docs: int) -> dict[str, dict]:
    """Every check in turn, on shards built under ``work``."""
    shards = _run("shards", lambda: {"dir": build_shards(work, docs, seq_len)})
    if "dir" not in shards:
        sys.exit("gpu_check: FAILED: could not build the shard directory (see above)")
    shard_dir = shards["dir"]
    results = {
        "block_mask": _run("block_mask", check_block_mask, device, shard_dir, seq_len),
        "fused": _run("fused", check_fused, device, seq_len, device != "cpu"),
        "pinned": _run("pinned", check_pinned, device, shard_dir),
        "build_ms": _run("build_ms", check_build_time, device, 5 if device == "cpu" else 50),
    }
    if not (args.skip_train_probe or args.cpu_dry_run):
        results["train_probe"] = _run("train_probe", run_train_probe, shard_dir, args.probe_args, args.probe_timeout)
    return results


def main() -> None:
    args = _parse()
    if args.cpu_dry_run:
        device, seq_len, docs = "cpu", 512, min(args.docs, 40)
    elif not torch.cuda.is_available():
        _no_cuda_exit()
    else:
        device, seq_len, docs = "cuda", 4096, args.docs
        print("device:", torch.cuda.get_device_name(), "torch", torch.__version__, flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:  # kept only when --work names a place
        results = _checks(args, args.work or tmp, device, seq_len, docs)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"device": device, **results}, f, indent=2)
    failed = [name for name, r in results.items() if r.get("ok") is False]
    summary: dict[str, Any] = {name: r.get("ok") for name, r in results.items()}
    summary.update(build_new_ms=results["build_ms"].get("new_ms"), build_old_ms=results["build_ms"].get("old_ms"))
    print(json.dumps({"device": device, **summary, "failed": failed}))
    if failed:
        print(f"gpu_check: FAILED: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
