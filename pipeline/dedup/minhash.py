"""MinHash signatures and LSH band keys, computed for a whole batch in numpy.

Each shingle hash is mixed once (fmix32 of its low 32 bits), then permuted by ``K`` affine
maps ``a*x + b mod 2**32`` with odd ``a`` (bijections, so the permutation adds no collisions):
datasketch's default ``affine32`` scheme since 2.0, with the same parameters drawn from the same
seed, so a signature here equals datasketch's for the same shingle hashes. One broadcast over
(shingles × permutations) and a segmented minimum give every document's signature.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from pipeline.config_base import StrictModel
from pipeline.dedup.shingles import fmix64

CHUNK = 8192  # shingles per broadcast: 112 × 8192 × 4 bytes ≈ 3.7 MB
EMPTY = np.uint32(0xFFFFFFFF)  # every slot of a document without shingles


class MinHashConfig(StrictModel):
    bands: int = Field(14, gt=0)  # FineWeb: 14 bands × 8 rows = 112 permutations
    rows: int = Field(8, gt=0)
    num_perm: int | None = None  # default bands × rows; more permutations are stored but not banded

    @model_validator(mode="after")
    def _enough_permutations(self) -> MinHashConfig:
        if self.num_perm is None:
            self.num_perm = self.bands * self.rows
        if self.num_perm < self.bands * self.rows:
            raise ValueError(f"num_perm {self.num_perm} < bands × rows = {self.bands * self.rows}")
        return self


def permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` as datasketch's ``MinHash(seed=seed, scheme="affine32")`` draws them."""
    gen = np.random.RandomState(seed % (1 << 32))
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(hashes: np.ndarray, offsets: np.ndarray, perm: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``(documents, K)`` uint32: per permutation, the minimum over each document's shingles.

    The broadcast is laid out permutations × shingles, so numpy's inner loops run along the
    shingles (long, vectorized) rather than along the 112 permutations."""
    a, b = perm
    n = len(offsets) - 1
    sig = np.full((n, len(a)), EMPTY, dtype=np.uint32)
    x = fmix32(hashes.astype(np.uint32))  # the low 32 bits
    doc = np.repeat(np.arange(n), np.diff(offsets))
    buf = np.empty((len(a), min(CHUNK, len(x))), dtype=np.uint32)
    for s0 in range(0, len(x), CHUNK):
        s1 = min(s0 + CHUNK, len(x))
        out = buf[:, : s1 - s0]
        np.multiply(a[:, None], x[None, s0:s1], out=out)
        np.add(out, b[:, None], out=out)
        d0, d1 = doc[s0], doc[s1 - 1]
        starts = np.maximum(offsets[d0 : d1 + 1], s0) - s0
        np.minimum(sig[d0 : d1 + 1], np.minimum.reduceat(out, starts, axis=1).T, out=sig[d0 : d1 + 1])
    sig[offsets[1:] == offsets[:-1]] = EMPTY  # reduceat filled empty documents from their neighbour
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(documents, bands)`` uint64: one hash of each band's ``rows`` values; equal rows, equal key."""
    keys = np.empty((len(sig), bands), dtype=np.uint64)
    for i in range(bands):
        h = np.full(len(sig), i + 1, dtype=np.uint64)
        for j in range(i * rows, (i + 1) * rows):
            h = (h ^ sig[:, j].astype(np.uint64)) * np.uint64(0x100000001B3)
        keys[:, i] = fmix64(h)
    return keys


def catch_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two documents of this Jaccard similarity share at least one band."""
    return 1 - (1 - similarity**rows) ** bands


def s_curve(cfg: MinHashConfig, points: list[float] | None = None) -> str:
    """The S-curve of a bands × rows setting, as a printable table."""
    points = points or [round(0.5 + 0.05 * i, 2) for i in range(10)]
    lines = [
        f"MinHash LSH: {cfg.bands} bands x {cfg.rows} rows = {cfg.bands * cfg.rows} permutations; "
        f"steepest near Jaccard {(1 / cfg.bands) ** (1 / cfg.rows):.3f}",
        "jaccard  P(pair shares a band)",
    ]
    lines += [f"{s:7.2f}  {catch_probability(s, cfg.bands, cfg.rows):.4f}" for s in points]
    return "\n".join(lines)
