"""Source mixing: per-source token budgets from the mix weights, met by seeded repetition or subsampling.

Each source's rate is its budget over the tokens it has (capped at ``max_repeat`` epochs:
Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", find up to 4 epochs
nearly as good as new data). A document's number of copies is the rate's integer part plus
one more with probability equal to its fractional part, decided by a hash of the run seed and
the document id: the same on every run and every worker, with no coordination.
"""

from __future__ import annotations

import hashlib
import math

import pyarrow as pa
from pydantic import BaseModel, Field

DEFAULT_MIX = {"web": 0.45, "book": 0.30, "code": 0.15, "multimodal": 0.10}


class MixConfig(BaseModel):
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))  # shares of tokens
    total_tokens: int | None = Field(None, gt=0)  # default: as many tokens as the corpus has
    max_repeat: float = Field(4.0, gt=0)


def mixing_rates(source_tokens: dict[str, int], cfg: MixConfig) -> dict[str, float]:
    """Copies per document for each source (below 1: a subsample) to reach the weighted budgets."""
    present = {s: w for s, w in cfg.weights.items() if source_tokens.get(s, 0) > 0 and w > 0}
    norm = sum(present.values())
    total = cfg.total_tokens or sum(source_tokens.values())
    rates = {s: 0.0 for s in source_tokens}
    for source, weight in present.items():
        rates[source] = min(cfg.max_repeat, total * weight / norm / source_tokens[source])
    return rates


def _unit(seed: int, ident: str) -> float:
    digest = hashlib.blake2b(f"{seed}:mix:{ident}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def copies(ident: str, rate: float, seed: int) -> int:
    whole = math.floor(rate)
    return whole + (1 if _unit(seed, ident) < rate - whole else 0)


def apply_mix(group: pa.Table, rates: dict[str, float], seed: int, key_of) -> pa.Table:
    """Repeat or drop the group's documents; copy ``k > 0`` of a document gets pack key ``key_of(f"{id}@{k}")``."""
    take, keys = [], []
    for i, (ident, source, key) in enumerate(zip(group["id"].to_pylist(), group["source"].to_pylist(),
                                                  group["pack_key"].to_pylist())):
        for k in range(copies(ident, rates.get(source, 1.0), seed)):
            take.append(i)
            keys.append(key if k == 0 else key_of(f"{ident}@{k}"))
    mixed = group.take(pa.array(take, pa.int64()))
    return mixed.set_column(mixed.schema.get_field_index("pack_key"), "pack_key", pa.array(keys, pa.string()))
