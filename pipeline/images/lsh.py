"""Near-duplicate images: bit-sampling LSH over 64-bit perceptual hashes, confirmed by Hamming distance.

Bands of contiguous bits would need 11 bands to guarantee a catch at distance 10 (pigeonhole),
each only ~6 bits wide: buckets holding 1/64 of every image. Bit sampling (Indyk & Motwani
1998) keys each of ``tables`` tables on ``bits`` seeded bit positions instead: a pair at
distance d shares a table's key with probability C(64-d, bits) / C(64, bits), so the defaults
catch pairs at distance 10 with p = 0.97 while random pictures (about 32 bits apart) meet in
a bucket with p = 0.008. Inside a bucket, members in vertex (survivor) order are compared
with the bucket's leaders and joined to every one within ``max_distance`` (each is a candidate the
pixel check may refuse, pipeline/images/pixels.py): a collision never becomes an edge unless the
hashes really are close.
"""

from __future__ import annotations

from math import comb

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.hash import hamming


class ImageLshConfig(StrictModel):
    max_distance: int = Field(10, ge=0, le=64)  # Hamming bits of a near-duplicate (a common pHash cut-off)
    tables: int = Field(20, gt=0)
    bits: int = Field(10, gt=0, le=64)
    max_leaders: int = Field(16, gt=0)  # leaders a member is compared with inside one bucket
    seed: int = 0


def bit_positions(cfg: ImageLshConfig) -> np.ndarray:
    """``(tables, bits)`` distinct bit positions per table, drawn from the seed."""
    gen = np.random.default_rng(cfg.seed)
    return np.stack([np.sort(gen.choice(64, cfg.bits, replace=False)) for _ in range(cfg.tables)])


def lsh_keys(hashes: np.ndarray, cfg: ImageLshConfig) -> np.ndarray:
    """``(images, tables)`` uint64 keys: the table number, then the sampled bits of the hash."""
    h = np.asarray(hashes, dtype=np.uint64)
    keys = np.zeros((len(h), cfg.tables), dtype=np.uint64)
    for t, positions in enumerate(bit_positions(cfg)):
        key = np.full(len(h), t, dtype=np.uint64)
        for p in positions:
            key = (key << np.uint64(1)) | ((h >> np.uint64(p)) & np.uint64(1))
        keys[:, t] = key
    return keys


def catch_probability(distance: int, cfg: ImageLshConfig) -> float:
    """Chance that two hashes ``distance`` bits apart share at least one table's key."""
    one = comb(64 - distance, cfg.bits) / comb(64, cfg.bits)
    return 1 - (1 - one) ** cfg.tables


def bucket_edges(vertices: list[str], hashes: np.ndarray, cfg: ImageLshConfig) -> list[tuple[str, str]]:
    """Edges of one bucket: leader clustering in vertex order, a member joined to each leader within
    ``max_distance``; a member that joins none becomes a leader."""
    order = sorted(set(zip(vertices, np.asarray(hashes, np.uint64).tolist())))
    leaders: list[tuple[str, int]] = []
    edges = []
    for name, h in order:
        if leaders:
            dist = hamming(np.array([x[1] for x in leaders], np.uint64), np.uint64(h))
            hit = np.flatnonzero(dist <= cfg.max_distance)
            if len(hit):
                edges.extend((leaders[i][0], name) for i in hit.tolist())
                continue
        if len(leaders) < cfg.max_leaders:
            leaders.append((name, h))
    return edges


def near_edges(vertices: list[str], hashes: np.ndarray, cfg: ImageLshConfig) -> list[tuple[str, str]]:
    """Every table's buckets in one process (tests, benchmarks): all confirmed edges, deduplicated."""
    keys = lsh_keys(hashes, cfg)
    buckets: dict[int, list[int]] = {}
    for i, row in enumerate(keys.tolist()):
        for key in row:
            buckets.setdefault(key, []).append(i)
    edges = set()
    for members in buckets.values():
        if len(members) > 1:
            edges.update(bucket_edges([vertices[i] for i in members], np.asarray(hashes)[members], cfg))
    return sorted(edges)
