"""Fill-in-the-middle for code documents, as DeepSeek-V3 trains it (PSM at rate 0.1).

A document chosen for FIM is cut at two character positions into prefix, middle and
suffix, and reordered so the model learns to write the middle from both sides. Whether a
document is chosen, and where it is cut, depend only on the run seed and the document id.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel
from tokenization.tokenizer.special_tokens import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, SPECIAL_IDS

Segment = str | int  # text to encode, or a special-token id


class FimConfig(StrictModel):
    rate: float = Field(0.1, ge=0.0, le=1.0)  # DeepSeek-V3: 0.1 of code documents
    order: Literal["psm", "spm"] = "psm"  # PSM (DeepSeek-V3) or SPM (Bavarian et al. 2022)
    sources: list[str] = Field(default_factory=lambda: ["code"])


def _rng(seed: int, ident: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{seed}:fim:{ident}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def fim_segments(text: str, ident: str, seed: int, cfg: FimConfig) -> list[Segment] | None:
    """The document reordered for FIM, or None when it is not chosen."""
    rng = _rng(seed, ident)
    if not text or rng.random() >= cfg.rate:
        return None
    lo, hi = sorted(int(x) for x in rng.integers(0, len(text) + 1, size=2))
    prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
    pre, suf, mid = SPECIAL_IDS[FIM_PREFIX], SPECIAL_IDS[FIM_SUFFIX], SPECIAL_IDS[FIM_MIDDLE]
    if cfg.order == "psm":
        return [pre, prefix, suf, suffix, mid, middle]
    return [suf, suffix, pre, prefix, mid, middle]
