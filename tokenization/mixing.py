"""Source mixing: per-source token budgets from the mix weights, met by seeded repetition or subsampling.

A source's rate is its planned tokens over the tokens it has, capped at ``max_repeat`` epochs
(Muennighoff et al. 2023, "Scaling Data-Constrained Language Models": up to 4 epochs are nearly
as good as new data). When a source is too scarce for its share, the shares and the budget cannot
all hold, and the policy says which gives:

- ``exact`` (default): the largest total, at most the budget, at which every share holds within
  the caps: one scarce source shrinks the whole mix. A source listed in ``optional`` takes what
  its cap allows instead, and the others keep their proportions among themselves (its shortfall
  is spread over them by weight) rather than shrink.
- ``fill``: water-filling under the budget: a capped source takes its cap, the others share the
  remainder in proportion to their weights; the budget holds (unless every source is capped),
  the shares give.

A source with a weight but no tokens takes no share: the others are renormalized. The plan
records per source its target (the configured share), the share it plans, and what binds it.
A document's number of copies is the rate's integer part, plus one for the documents that a
hash of the run seed and the document id puts first, until their tokens reach the fractional
part of the source's tokens in the document's pack group: the same on every run and every
worker, with no coordination, and within one document of the budget per group.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel

DEFAULT_MIX = {"web": 0.45, "book": 0.30, "code": 0.15, "multimodal": 0.10}
_ROUNDS = 200  # bisection steps: far below a token on any budget a float holds


class MixConfig(StrictModel):
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))  # shares of tokens
    policy: Literal["exact", "fill"] = "exact"  # which gives when a source is scarce: the total or the shares
    # the budget; default: the corpus's own tokens (the mix reshapes the corpus, it does not grow it)
    total_tokens: int | None = Field(None, gt=0)
    max_repeat: float = Field(4.0, gt=0)  # epochs of one source at most (Muennighoff et al. 2023, section 4)
    optional: list[str] = Field(default_factory=list)  # exact: take what they have rather than shrink the rest
    tolerance_pts: float = Field(2.0, ge=0)  # achieved farther than this from target (points): a warning


class MixPlan(StrictModel):
    """What the mix will do: per source its rate, target and planned share, and what binds it."""

    policy: str
    budget: int
    total: float  # planned tokens
    rates: dict[str, float]
    target: dict[str, float]  # configured shares, over the sources with a weight
    planned: dict[str, float]  # shares the rates give, expected
    binding: dict[str, str]  # what decides each source's tokens (see _binding)


def _largest(ok: Callable[[float], bool], high: float) -> float:
    """The largest x in [0, high] with ok(x), for ok true up to a point and false after it."""
    if ok(high):
        return high
    low = 0.0
    for _ in range(_ROUNDS):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def _exact(shares: dict[str, float], caps: dict[str, float], budget: float, optional: set[str]) -> dict[str, float]:
    required = {s: p for s, p in shares.items() if s not in optional}
    norm = math.fsum(required.values())

    def alloc(total: float) -> dict[str, float]:
        extra = {s: min(shares[s] * total, caps[s]) for s in shares if s in optional}
        rest = total - math.fsum(extra.values())
        return extra | {s: rest * p / norm for s, p in required.items()}

    if not required:
        return alloc(budget)
    return alloc(_largest(lambda t: all(a <= caps[s] * (1 + 1e-12) for s, a in alloc(t).items()), budget))


def _fill(shares: dict[str, float], caps: dict[str, float], budget: float) -> dict[str, float]:
    def alloc(level: float) -> dict[str, float]:
        return {s: min(caps[s], level * p) for s, p in shares.items()}

    top = max(caps[s] / p for s, p in shares.items())
    return alloc(_largest(lambda level: math.fsum(alloc(level).values()) <= budget, top))


def _binding(
    cfg: MixConfig, tokens: dict[str, int], alloc: dict[str, float], caps: dict[str, float], budget: float
) -> dict[str, str]:
    """Per source what decides its tokens: ``budget`` (its share of the budget), ``cap`` (max_repeat epochs,
    its share given up), ``sets the total`` (exact: its cap holds the whole mix below the budget), ``total set
    by X`` (exact: shrunk with the rest), ``empty`` (a weight, no tokens) or ``no weight``."""
    capped = {s for s, a in alloc.items() if a >= caps[s] * (1 - 1e-9)}
    short = cfg.policy == "exact" and math.fsum(alloc.values()) < budget * (1 - 1e-9)
    setters = sorted(s for s in capped if s not in cfg.optional) if short else []
    binding = {}
    for s in sorted(set(tokens) | set(cfg.weights)):
        if cfg.weights.get(s, 0) <= 0:
            binding[s] = "no weight"
        elif not tokens.get(s):
            binding[s] = "empty"
        elif s in setters:
            binding[s] = "sets the total"
        elif s in capped:
            binding[s] = "cap"
        else:
            binding[s] = f"total set by {', '.join(setters)}" if setters else "budget"
    return binding


def plan_mix(source_tokens: dict[str, int], cfg: MixConfig) -> MixPlan:
    """The rates that meet the mix under ``cfg.policy``."""
    # sorted, and summed exactly: the plan must not depend on the order a config lists its sources in
    weights = {s: w for s, w in sorted(cfg.weights.items()) if w > 0}
    norm = math.fsum(weights.values()) or 1.0
    target = {s: w / norm for s, w in weights.items()}
    present = {s: p for s, p in target.items() if source_tokens.get(s, 0) > 0}
    budget = cfg.total_tokens or sum(source_tokens.values())
    caps = {s: cfg.max_repeat * source_tokens[s] for s in present}
    shares = {s: p / (math.fsum(present.values()) or 1.0) for s, p in present.items()}
    alloc = {}
    if shares:
        alloc = (
            _exact(shares, caps, budget, set(cfg.optional)) if cfg.policy == "exact" else _fill(shares, caps, budget)
        )
    total = math.fsum(alloc.values())
    rates = {s: 0.0 for s in source_tokens} | {s: min(cfg.max_repeat, a / source_tokens[s]) for s, a in alloc.items()}
    return MixPlan(
        policy=cfg.policy,
        budget=budget,
        total=total,
        rates=rates,
        target=target,
        planned={s: alloc.get(s, 0.0) / (total or 1.0) for s in target},
        binding=_binding(cfg, source_tokens, alloc, caps, budget),
    )


def mixing_rates(source_tokens: dict[str, int], cfg: MixConfig) -> dict[str, float]:
    """Copies per document for each source (below 1: a subsample) to reach the planned budgets."""
    return plan_mix(source_tokens, cfg).rates


def off_target(target: dict[str, float], achieved: dict[str, float], tolerance_pts: float) -> dict[str, float]:
    """Sources whose achieved share is more than ``tolerance_pts`` points from target: their gap in points."""
    gaps = {s: 100 * (achieved.get(s, 0.0) - target.get(s, 0.0)) for s in sorted(set(target) | set(achieved))}
    return {s: round(g, 2) for s, g in gaps.items() if abs(g) > tolerance_pts}


def _unit(seed: int, ident: str) -> float:
    digest = hashlib.blake2b(f"{seed}:mix:{ident}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _extra_copies(ids: list[str], sizes: list[int], fraction: float, seed: int) -> set[int]:
    """The documents of one source in one group that get the fractional copy: in seeded-hash order, each that fits,
    until their tokens reach ``fraction`` of the source's tokens here. A coin per document would hit the budget on
    average only; this lands within half a document of it, however few and long the documents are."""
    budget = fraction * sum(sizes)
    chosen, used = set(), 0
    for i in sorted(range(len(ids)), key=lambda i: (_unit(seed, ids[i]), ids[i])):
        if used + sizes[i] / 2 <= budget:  # a document that would overshoot by more than half of itself waits out
            chosen.add(i)
            used += sizes[i]
    return chosen


def apply_mix(group: pa.Table, rates: dict[str, float], seed: int, key_of) -> pa.Table:
    """Repeat or drop the group's documents; copy ``k > 0`` of a document gets pack key ``key_of(f"{id}@{k}")``.

    A rate's whole part repeats every document; its fraction goes to documents chosen by ``_extra_copies`` (by
    tokens, per source within the group), so that a source of a few long documents still meets its budget."""
    ids, sources = group["id"].to_pylist(), group["source"].to_pylist()
    sizes = pc.list_value_length(group["token_ids"]).to_pylist()
    extra: set[int] = set()
    for source in sorted(set(sources)):
        rows = [i for i, s in enumerate(sources) if s == source]
        fraction = rates.get(source, 1.0) - math.floor(rates.get(source, 1.0))
        if fraction > 0:
            chosen = _extra_copies([ids[i] for i in rows], [sizes[i] for i in rows], fraction, seed)
            extra.update(rows[j] for j in chosen)
    take, keys = [], []
    for i, (ident, source, key) in enumerate(zip(ids, sources, group["pack_key"].to_pylist())):
        for k in range(math.floor(rates.get(source, 1.0)) + (i in extra)):
            take.append(i)
            keys.append(key if k == 0 else key_of(f"{ident}@{k}"))
    mixed = group.take(pa.array(take, pa.int64()))
    return mixed.set_column(mixed.schema.get_field_index("pack_key"), "pack_key", pa.array(keys, pa.string()))
