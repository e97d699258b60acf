"""A model that trains on the shards: a small GPT fed by ``PackedLoader``, to show the shards train.

Usage: python -m benchmarks.train_probe OUT [--steps 200] [--seq-len 512] [--batch 4] [--d-model 64]
                                           [--layers 2] [--heads 4] [--resume-steps 20] [--threads N]
                                           [--compare OUT2] [--val DIR] [--png PATH] [--device cpu|cuda]

OUT is a corpusmill run's output directory (shards in OUT/shards). The model: token embedding tied to the
output, RoPE indexed by the batch's ``position_ids`` (packed documents restart at 0), pre-norm blocks whose
attention takes the batch's own mask: ``scaled_dot_product_attention`` with ``attn_mask`` ("dense"),
``flex_attention`` with the ``BlockMask`` ("flex"), ``flash_attn_varlen_func`` with ``cu_seqlens`` ("varlen");
cross-entropy over the labels (-100 where not counted), AdamW, warmup then a constant learning rate.
The defaults take about 4 minutes on 2 idle CPU cores (sample shards). Checks:

1. Training through every materializer this device runs and the loader accepts for the shards' mask
   policy (dense on CPU; flex and varlen on CUDA: flex's backward does not run on CPU, varlen needs
   flash_attn and cannot express a block_sparse mask): the smoothed loss falls (mean of the first vs the
   last tenth of the steps, 1 to 20 steps). Beside it ``unigram_loss``, the entropy of the very targets
   trained on: the best a model ignoring context can do, so a last loss below it shows context is used.
   ``agreement``: the untrained model's loss on one batch through each mask form whose forward runs here
   (on CPU dense and flex): equal to float rounding when the materializers build the same mask.
2. Resume: the first ``--resume-steps`` steps of that run again, stopped halfway, saved (model,
   optimizer, loader state, RNG) to a file, restored into a fresh model, optimizer and loader, continued.
   Its loss curve must equal the uninterrupted run's exactly (``--resume-tol`` 0): the same ops rerun on
   bit-identical weights, moments and batches (deterministic algorithms, the same thread count, a learning
   rate that depends on the step alone), so any difference is a resume bug, not noise.
3. Tokens/s over the steps after the first (loader, forward, backward, optimizer), counted
   (labels != -100) and all tokens of the cropped rows.
4. Validation loss on ``--val`` (its first ``--val-batches`` batches in stored order) or, by default, on
   every ``--holdout-every``-th row of OUT (20: 5 %, spread over all shards; read as rank k-1 of k,
   unshuffled), rows OUT's training skips. ``--compare OUT2`` trains the same model on OUT2 until it has
   seen as many counted tokens as the OUT run and validates it on the same rows. OUT2 may hold those
   very documents (an ablation of the same corpus): for a fair comparison pass a ``--val`` disjoint from both.

``--seq-len`` crops rows to a prefix (the sample's 4096 is slow on CPU; 0 keeps whole rows). The mask
stays exact: attention is causal, so query q < L only meets keys k <= q, and the mask of a prefix is the
prefix of the mask (dense: the top-left [L, L]; flex: segments[:L] and the layout's top-left blocks;
varlen: the cuts below L). The last kept token's label is the row's next token, a real target.
Writes the loss curves as a PNG (``--png``, default OUT/report/train_probe.png; drawn with Pillow) and
all figures and the curves to ``--out``. Exit status 1 if a loss does not fall or the resumed curve differs.
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import torch
import torch.nn.functional as F
from torch import nn

from tokenization.loader import PackedLoader
from tokenization.shards.flex_mask import flex_block_mask_from
from tokenization.shards.shards import read_manifest

IGNORE = -100
Attn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ProbeConfig:
    """The model and the run; ``seq_len`` None trains on whole rows."""

    vocab_size: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    seq_len: int | None = 512
    batch_size: int = 4
    lr: float = 3e-3
    warmup: int = 10  # then constant: the loss at step i does not depend on the run's length
    seed: int = 0


@dataclass
class TrainResult:
    losses: list[float]
    model: nn.Module
    steps: int = 0  # this call's (a resumed run's ``losses`` also hold the restored ones)
    counted_tokens: int = 0
    tokens: int = 0
    first_step_s: float = 0.0  # opening the shards, the first batch, the first step
    steady_s: float = 0.0  # the steps after the first
    first_counted: int = 0
    first_tokens: int = 0
    started: float = field(default_factory=time.perf_counter, repr=False)
    targets: Counter[int] = field(default_factory=Counter, repr=False)

    def add(self, labels: torch.Tensor) -> None:
        """Count one finished step's tokens and its targets; time it."""
        ids, n = torch.unique(labels[labels != IGNORE], return_counts=True)
        self.targets.update(dict(zip(ids.tolist(), n.tolist())))
        counted, total = int(n.sum()), labels.numel()
        self.steps, self.counted_tokens, self.tokens = (
            self.steps + 1,
            self.counted_tokens + counted,
            self.tokens + total,
        )
        now = time.perf_counter()
        if self.steps == 1:
            self.first_step_s, self.first_counted, self.first_tokens = now - self.started, counted, total
            self.started = now
        self.steady_s = now - self.started

    def figures(self) -> dict[str, Any]:
        first, last = smoothed(self.losses)
        unigram = unigram_loss(self.targets)
        rate = (lambda n: round(n / self.steady_s)) if self.steady_s > 0 else (lambda n: None)
        return {
            "steps": self.steps,
            "loss_first": round(first, 4),
            "loss_last": round(last, 4),
            "falls": last < first,
            "unigram_loss": round(unigram, 4),
            "below_unigram": last < unigram,
            "counted_tokens": self.counted_tokens,
            "tokens": self.tokens,
            "counted_tokens_per_s": rate(self.counted_tokens - self.first_counted),
            "tokens_per_s": rate(self.tokens - self.first_tokens),
            "first_step_s": round(self.first_step_s, 3),
        }


def unigram_loss(counts: Counter[int]) -> float:
    """The entropy of the targets trained on: the best loss without context, fitted to those very
    targets. A model below it predicts from context, not from token frequencies alone."""
    n = np.array(list(counts.values()), dtype=np.float64)
    p = n / max(n.sum(), 1.0)
    return float(-(p * np.log(p)).sum()) if len(n) else float("nan")


def smoothed(losses: list[float]) -> tuple[float, float]:
    """Mean of the first and of the last tenth of the curve (1 to 20 steps): single steps are noisy."""
    w = max(1, min(20, len(losses) // 10))
    return float(np.mean(losses[:w])), float(np.mean(losses[-w:]))


def rope(position_ids: torch.Tensor, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [B, 1, L, head_dim / 2] at each token's position in its own document."""
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, device=position_ids.device, dtype=torch.float32) / head_dim))
    angles = position_ids[:, None, :, None].float() * inv
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attend: Attn) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = attend(rotate(q, cos, sin), rotate(k, cos, sin), v)  # [B, H, L, hd]
        x = x + self.proj(y.transpose(1, 2).reshape(b, length, d))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    def __init__(self, cfg: ProbeConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg.d_model, cfg.n_heads) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head_dim = cfg.d_model // cfg.n_heads
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, batch: dict[str, Any], attend: Attn) -> torch.Tensor:
        """Mean cross-entropy over the counted tokens; logits only where a label is counted."""
        x = self.embed(batch["input_ids"])
        cos, sin = rope(batch["position_ids"], self.head_dim)
        for block in self.blocks:
            x = block(x, cos, sin, attend)
        counted = batch["labels"] != IGNORE
        logits = self.norm(x)[counted] @ self.embed.weight.T  # tied embeddings
        return F.cross_entropy(logits.float(), batch["labels"][counted])


def attention_fn(attention: str, batch: dict[str, Any]) -> Attn:
    """The attention call for this batch's mask form."""
    if attention == "dense":
        mask = batch["attn_mask"]
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if attention == "flex":
        flex, block_mask = _flex(batch["input_ids"].device), batch["block_mask"]
        return lambda q, k, v: flex(q, k, v, block_mask=block_mask)
    if attention == "varlen":
        from flash_attn import flash_attn_varlen_func

        cu, top = batch["cu_seqlens"], batch["max_seqlen"]

        def varlen(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            b, h, length, hd = q.shape
            flat = [t.transpose(1, 2).reshape(b * length, h, hd).to(torch.bfloat16) for t in (q, k, v)]
            out = flash_attn_varlen_func(*flat, cu, cu, top, top, causal=True, deterministic=True)
            return out.view(b, length, h, hd).transpose(1, 2).to(q.dtype)

        return varlen
    raise ValueError(f"unknown attention {attention!r}")


_FLEX: dict[str, Callable[..., torch.Tensor]] = {}


def _flex(device: torch.device) -> Callable[..., torch.Tensor]:
    """flex_attention, compiled on CUDA (the fused kernel); eager elsewhere (CPU runs its forward only)."""
    from torch.nn.attention.flex_attention import flex_attention

    if device.type not in _FLEX:
        _FLEX[device.type] = torch.compile(flex_attention, dynamic=False) if device.type == "cuda" else flex_attention
    return _FLEX[device.type]


def prepare(
    batch: dict[str, Any], attention: str, seq_len: int | None, block: int, skip: frozenset[int]
) -> dict[str, Any]:
    """The batch without the ``skip`` rows, cropped to ``seq_len``, its mask cropped alike (the mask of a
    prefix is the prefix of the mask: attention is causal). Untouched when nothing is cut."""
    full = batch["input_ids"].shape[1]
    length = min(seq_len or full, full)
    keep = [r for r, i in enumerate(batch["index"].tolist()) if i not in skip]
    if length == full and len(keep) == len(batch["index"]):
        return batch
    out = {k: batch[k][keep, :length] for k in ("input_ids", "labels", "position_ids")}
    out["index"] = batch["index"][keep]
    if not keep:
        return out
    rows = torch.tensor(keep, device=batch["input_ids"].device)
    if attention == "dense":
        out["attn_mask"] = batch["attn_mask"][rows][:, :, :length, :length]
    elif attention == "flex":
        if length % block:
            raise ValueError(f"flex needs --seq-len a multiple of the mask's block size {block}, not {length}")
        nb = length // block
        segments, layout = batch["segments"][rows, :length], batch["block_layout"][rows, :nb, :nb]
        out["block_mask"] = flex_block_mask_from(segments.contiguous(), layout.contiguous(), block)
    elif attention == "varlen":
        out["cu_seqlens"], out["max_seqlen"] = crop_cu_seqlens(batch["cu_seqlens"], full, length, keep)
    return out


def crop_cu_seqlens(cu: torch.Tensor, full: int, length: int, keep: list[int]) -> tuple[torch.Tensor, int]:
    """Flattened varlen cuts of rows ``keep`` (each ``full`` long) cropped to ``length`` and re-flattened."""
    parts = []
    for new, r in enumerate(keep):
        local = cu[(cu >= r * full) & (cu < r * full + length)] - r * full
        parts.append(local + new * length)
    parts.append(torch.tensor([len(keep) * length], dtype=cu.dtype, device=cu.device))
    out = torch.cat(parts).to(torch.int32)
    return out, int((out[1:] - out[:-1]).max())


def endless(loader: PackedLoader) -> Iterator[dict[str, Any]]:
    """Batches across epochs, continuing from the loader's (possibly restored) position."""
    empty = 0  # passes in a row without a batch: one is a restore at an epoch's end, two an empty loader
    while empty < 2:
        epoch, empty = loader.state_dict()["epoch"], empty + 1
        for batch in loader:
            empty = 0
            yield batch
        if loader.state_dict()["epoch"] == epoch:  # a loader that does not move on by itself
            loader.set_epoch(epoch + 1)
    raise ValueError("the loader yields no batches")


def lr_at(cfg: ProbeConfig, step: int) -> float:
    return cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))


def build(cfg: ProbeConfig, shard_dir: str, attention: str, device: str) -> tuple[nn.Module, Any, PackedLoader]:
    """A model seeded by ``cfg.seed``, its AdamW, and a loader on the shards."""
    torch.manual_seed(cfg.seed)
    model = TinyGPT(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    loader = PackedLoader(shard_dir, cfg.batch_size, attention=attention, seed=cfg.seed, device=device)
    return model, opt, loader


def train(
    shard_dir: str,
    cfg: ProbeConfig,
    steps: int,
    attention: str = "dense",
    device: str = "cpu",
    skip: frozenset[int] = frozenset(),
    stop_after: int | None = None,
    checkpoint: str | None = None,
    resume: str | None = None,
    counted_budget: int | None = None,
    log_every: int = 0,
) -> TrainResult:
    """Train for ``steps`` steps (or until ``counted_budget`` counted tokens), skipping rows ``skip``.
    ``stop_after`` with ``checkpoint`` saves everything after that many steps and stops; ``resume``
    restores such a file into fresh objects and continues to ``steps``."""
    model, opt, loader = build(cfg, shard_dir, attention, device)
    step, losses = 0, []
    if resume:
        step, losses = restore(resume, model, opt, loader)
    block = block_size(shard_dir)
    res, batches = TrainResult(losses, model), endless(loader)
    while step < steps and (counted_budget is None or res.counted_tokens < counted_budget):
        batch = prepare(next(batches), attention, cfg.seq_len, block, skip)
        if not len(batch["input_ids"]):
            continue  # every row of it held out
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, step)
        loss = model(batch, attention_fn(attention, batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())  # a host sync: the step's time is its own
        step += 1
        res.add(batch["labels"])
        if log_every and step % log_every == 0:
            print(f"  {shard_dir} {attention} step {step}: loss {losses[-1]:.4f}", flush=True)
        if stop_after is not None and step == stop_after and checkpoint:
            save(checkpoint, model, opt, loader, step, losses)
            break
    return res


def save(path: str, model: nn.Module, opt: Any, loader: PackedLoader, step: int, losses: list[float]) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "loader": loader.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all()},
        "step": step,
        "losses": losses,
    }
    torch.save(state, path)


def restore(path: str, model: nn.Module, opt: Any, loader: PackedLoader) -> tuple[int, list[float]]:
    state = torch.load(path, weights_only=True)  # tensors, numbers, strings
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    loader.load_state_dict(state["loader"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state["step"], list(state["losses"])


def resume_check(
    shard_dir: str,
    cfg: ProbeConfig,
    reference: list[float],
    attention: str = "dense",
    device: str = "cpu",
    skip: frozenset[int] = frozenset(),
    split: int | None = None,
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """Rerun the ``len(reference)`` steps of an uninterrupted run stopped at ``split`` (default the
    middle), saved to a file and resumed in fresh objects; the curves must be equal (``tolerance``
    0: deterministic kernels on bit-identical state give bit-identical losses)."""
    steps = len(reference)
    split = steps // 2 if split is None else split
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.pt")
        train(shard_dir, cfg, steps, attention, device, skip, stop_after=split, checkpoint=path)
        resumed = train(shard_dir, cfg, steps, attention, device, skip, resume=path).losses
    diff = max((abs(a - b) for a, b in zip(resumed, reference)), default=0.0)
    return {
        "steps": steps,
        "split_at": split,
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "equal": len(resumed) == steps and diff <= tolerance,
        "losses": resumed,
    }


def shard_dir_of(path: str) -> str:
    """A run's output directory's shards, or a shard directory itself."""
    inner = os.path.join(path, "shards")
    return inner if os.path.exists(os.path.join(inner, "manifest.json")) else path


def vocab_size(shard_dir: str) -> int:
    """The tokenizer's vocabulary size from the manifest; else the largest token id stored, plus one."""
    manifest = read_manifest(shard_dir)
    size = manifest.get("tokenizer", {}).get("vocab_size")
    if size:
        return int(size)
    top = 0
    for entry in manifest["shards"]:
        with pa.memory_map(os.path.join(shard_dir, entry["file"])) as src:
            ids = ipc.open_file(src).read_all().column("input_ids")
        top = max(top, pc.max(pc.list_flatten(ids)).as_py() or 0)
    return top + 1


def block_size(shard_dir: str) -> int:
    """The mask's block size (only flex needs it): the manifest's, else MaskConfig's default 64."""
    return int(read_manifest(shard_dir).get("mask", {}).get("block_size", 64))


def holdout_rows(shard_dir: str, every: int) -> frozenset[int]:
    """Every ``every``-th row (k-1, 2k-1, ...): what rank k-1 of k reads unshuffled, spread over all shards."""
    if every < 2:
        raise ValueError(f"holdout every {every}th row would leave nothing to train on")
    rows = read_manifest(shard_dir)["rows"]
    return frozenset(range(every - 1, rows, every))


def unavailable(attention: str, device: str, shard_dir: str) -> str | None:
    """Why this materializer cannot train here, or None."""
    if attention == "flex" and not device.startswith("cuda"):
        return "FlexAttention's backward does not run on CPU"
    if attention == "varlen":
        if not device.startswith("cuda"):
            return "FlashAttention runs on CUDA only"
        try:
            import flash_attn  # noqa: F401
        except ImportError:
            return "flash_attn is not installed"
    try:
        PackedLoader(shard_dir, 1, attention=attention)
    except ValueError as e:  # the loader refuses a mask the materializer cannot express
        return str(e)
    return None


@torch.no_grad()
def evaluate(
    model: nn.Module, cfg: ProbeConfig, shard_dir: str, attention: str, device: str, every: int | None, batches: int
) -> dict[str, Any]:
    """Mean cross-entropy per counted token over the first ``batches`` batches of the rows in stored order:
    all rows, or (``every``) the held-out ones, read as rank every-1 of ``every``."""
    split = {"rank": every - 1, "world_size": every} if every else {}
    loader = PackedLoader(shard_dir, cfg.batch_size, attention=attention, shuffle=False, device=device, **split)
    block = block_size(shard_dir)
    model.eval()
    total, counted = 0.0, 0
    for n, raw in enumerate(loader):
        if n == batches:
            break
        batch = prepare(raw, attention, cfg.seq_len, block, frozenset())
        k = int((batch["labels"] != IGNORE).sum())
        total, counted = total + model(batch, attention_fn(attention, batch)).item() * k, counted + k
    model.train()
    return {"val_loss": round(total / max(counted, 1), 4), "val_counted_tokens": counted}


def agreement(cfg: ProbeConfig, shard_dir: str, device: str) -> dict[str, float]:
    """The untrained model's loss on one batch through each mask form whose forward runs here: the
    materializers must agree on the mask, so the losses agree to float rounding (bf16 for varlen)."""
    torch.manual_seed(cfg.seed)
    model, out = TinyGPT(cfg).to(device).eval(), {}
    block = block_size(shard_dir)
    for attention in ("dense", "flex", "varlen"):
        reason = unavailable(attention, device, shard_dir)
        if reason and not (attention == "flex" and "backward" in reason):
            continue
        loader = PackedLoader(shard_dir, cfg.batch_size, attention=attention, shuffle=False, device=device)
        batch = prepare(next(iter(loader)), attention, cfg.seq_len, block, frozenset())
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # eager flex_attention's advice to compile it
            out[attention] = model(batch, attention_fn(attention, batch)).item()
    return out


COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def draw_curves(curves: dict[str, list[float]], path: str, title: str, size: tuple[int, int] = (900, 540)) -> None:
    """Loss per step, one line per run, with axes, ticks and a legend, drawn with Pillow alone
    (matplotlib is not a dependency). A curve named ``...resumed...`` is drawn as dots over its reference."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.font = ImageFont.load_default(size=13)  # Pillow's bundled TrueType font
    values = [v for c in curves.values() for v in c if math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(values), max(values)
    lo, hi = (lo - 0.5, hi + 0.5) if hi == lo else (lo, hi)
    steps = max((len(c) for c in curves.values()), default=1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / max(1, steps - 1))
        return x, top + (height - top - bottom) * (hi - v) / (hi - lo)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for t in range(6):
        v, i = lo + (hi - lo) * t / 5, round((steps - 1) * t / 5)
        y, x = xy(0, v)[1], xy(i, lo)[0]
        draw.line([left - 5, y, left, y], fill="black")
        draw.text((8, y - 7), f"{v:.2f}", fill="black")
        draw.line([x, height - bottom, x, height - bottom + 5], fill="black")
        draw.text((x - 10, height - bottom + 8), str(i + 1), fill="black")
    draw.text((left, 12), title, fill="black")
    draw.text((width // 2 - 20, height - 20), "step", fill="black")
    draw.text((5, 12), "loss", fill="black")
    for n, (label, curve) in enumerate(curves.items()):
        color, row = COLORS[n % len(COLORS)], top + 10 + 18 * n
        points = [xy(i, v) for i, v in enumerate(curve) if math.isfinite(v)]
        if "resumed" in label:
            for x, y in points:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], outline=color)
        elif len(points) > 1:
            draw.line(points, fill=color, width=2)
        draw.rectangle([width - right - 340, row, width - right - 326, row + 12], fill=color)
        draw.text((width - right - 320, row - 2), label[:48], fill="black")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image.save(path)


def probe(
    out: str,
    steps: int = 200,
    *,
    compare: str | None = None,
    val: str | None = None,
    holdout_every: int = 20,
    val_batches: int = 8,
    resume_steps: int = 20,
    resume_tol: float = 0.0,
    device: str = "cpu",
    png: str | None = None,
    log_every: int = 0,
    **model: Any,
) -> dict[str, Any]:
    """Every check of the module docstring on ``out`` (and ``compare``); the figures, ``ok`` among them."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    shards = shard_dir_of(out)
    dirs = [shards] + [shard_dir_of(d) for d in (compare, val) if d]
    cfg = ProbeConfig(vocab_size=max(vocab_size(d) for d in dirs), **model)
    skip = holdout_rows(shards, holdout_every) if val is None else frozenset()
    figures: dict[str, Any] = {"shards": shards, "device": device, "config": asdict(cfg), "materializers": {}}
    figures["val_set"] = val or f"every {holdout_every}th row of {shards} ({len(skip)} rows), not trained on"
    curves, runs = {}, {}
    for attention in ("flex", "varlen", "dense"):  # the first that trains here is checked for resume
        reason = unavailable(attention, device, shards)
        if reason:
            figures["materializers"][attention] = {"skipped": reason}
            continue
        runs[attention] = train(shards, cfg, steps, attention, device, skip, log_every=log_every)
        figures["materializers"][attention] = runs[attention].figures()
        curves[f"OUT {name(out)} {attention}"] = runs[attention].losses
    if not runs:
        raise SystemExit(f"no materializer trains on {device}: {figures['materializers']}")
    main_attention, main = next(iter(runs.items()))
    figures["agreement"] = agreement(cfg, shards, device)
    k = min(resume_steps, steps)
    if k >= 2:
        resume = resume_check(shards, cfg, main.losses[:k], main_attention, device, skip, tolerance=resume_tol)
        curves[f"OUT {main_attention}: {k} steps, resumed at {resume['split_at']} (dots)"] = resume.pop("losses")
        figures["resume"] = resume
    val_dir, every = (shard_dir_of(val), None) if val else (shards, holdout_every)
    figures["val"] = {out: evaluate(main.model, cfg, val_dir, main_attention, device, every, val_batches)}
    if compare:
        evaluated, curves[f"OUT2 {name(compare)} {main_attention}"] = ablation(
            compare, cfg, main, main_attention, device, (val_dir, every, val_batches), log_every
        )
        figures["val"][compare] = evaluated
    png = png or os.path.join(out, "report", "train_probe.png")
    draw_curves(curves, png, f"train_probe: training loss per step ({device}, seq_len {cfg.seq_len})")
    figures["png"], figures["curves"] = png, curves
    falls = all(m.get("falls", True) for m in figures["materializers"].values())
    figures["ok"] = falls and figures.get("resume", {}).get("equal", True)
    return figures


def name(path: str) -> str:
    return os.path.basename(os.path.abspath(path))


def ablation(
    compare: str,
    cfg: ProbeConfig,
    reference: TrainResult,
    attention: str,
    device: str,
    val: tuple[str, int | None, int],
    log_every: int,
) -> tuple[dict[str, Any], list[float]]:
    """The same model trained on ``compare`` until it has seen the counted tokens of ``reference``
    (at most 4x its steps), then validated like it: its figures and loss curve."""
    budget = reference.counted_tokens
    steps = 4 * reference.steps
    run = train(shard_dir_of(compare), cfg, steps, attention, device, counted_budget=budget, log_every=log_every)
    figures = dict(evaluate(run.model, cfg, val[0], attention, device, val[1], val[2]), **run.figures())
    figures["budget_reached"] = run.counted_tokens >= budget
    return figures, run.losses


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The last line: the main figures, flat enough to read."""
    trained = {a: m for a, m in figures["materializers"].items() if "skipped" not in m}
    keys = ("loss_first", "loss_last", "falls", "unigram_loss", "counted_tokens_per_s", "tokens_per_s")
    resume = figures.get("resume", {})
    return {
        "ok": figures["ok"],
        "device": figures["device"],
        **{f"{a}_{k}": m[k] for a, m in trained.items() for k in keys},
        "skipped": sorted(set(figures["materializers"]) - set(trained)),
        "resume_equal": resume.get("equal"),
        "resume_max_abs_diff": resume.get("max_abs_diff"),
        "val_loss": {name: v["val_loss"] for name, v in figures["val"].items()},
        "png": figures["png"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="OUT", help="a corpusmill run's output directory (or a shard directory)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seq-len", type=int, default=512, help="crop rows to this prefix; 0: whole rows")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume-steps", type=int, default=20, help="steps of the resume check (split halfway)")
    parser.add_argument(
        "--resume-tol", type=float, default=0.0, help="largest loss difference the resume check accepts"
    )
    parser.add_argument("--compare", help="a second run's output directory: same model, same counted tokens")
    parser.add_argument("--val", help="a shard directory to validate on (default: OUT's held-out rows)")
    parser.add_argument("--holdout-every", type=int, default=20, help="hold out every k-th row of OUT")
    parser.add_argument("--val-batches", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--png", help="default: OUT/report/train_probe.png")
    parser.add_argument("--out", dest="results", default="benchmarks/results/train_probe.json", help="figures")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before CUDA starts
    figures = probe(
        args.run,
        args.steps,
        compare=args.compare,
        val=args.val,
        holdout_every=args.holdout_every,
        val_batches=args.val_batches,
        resume_steps=args.resume_steps,
        resume_tol=args.resume_tol,
        device=args.device,
        png=args.png,
        log_every=max(1, args.steps // 10),
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        seq_len=args.seq_len or None,
        batch_size=args.batch,
        lr=args.lr,
        seed=args.seed,
    )
    print(json.dumps({k: v for k, v in figures.items() if k != "curves"}, indent=2))
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(figures, f, indent=2)
    print(json.dumps(summary(figures)))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
