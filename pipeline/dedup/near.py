"""Near-duplicate removal: the settings, the per-file signing step, and the whole pass in one process.

The Ray pass (jobs/near_dedup.py) runs the same functions on shuffled blocks; ``dedup_in_memory``
runs them on one table, for tests and the quality benchmark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.dedup.components import components_local
from pipeline.dedup.lsh import EDGE_SCHEMA, SET_SCHEMA, band_rows, candidate_sets, chain_edges, verify_sets
from pipeline.dedup.minhash import MinHashConfig, band_keys, permutations, signatures
from pipeline.dedup.shingles import ShingleConfig, sample, shingle_hashes, shingle_sets
from pipeline.dedup.survivors import SurvivorConfig, drops, ranks, vertex_ids, vertices

GROUP_ROWS = 2048  # documents read back together for verification: a curated file's row group


class NearDedupConfig(StrictModel):
    enabled: bool = True
    shingles: ShingleConfig = Field(default_factory=ShingleConfig)
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    # Candidates are confirmed by true Jaccard on shingle sets. 0.8 sits just above the steep part
    # of the 14 × 8 S-curve (0.72), so LSH finds pairs at 0.8 with p = 0.92 and verification turns
    # its ramp (5 % at 0.5, 56 % at 0.7) into a step; SlimPajama (Soboleva et al. 2023) dedups at 0.8.
    # FineWeb does not verify: it accepts the ramp.
    verify: bool = True
    threshold: float = Field(0.8, gt=0, le=1)
    # global: one index over every source. A copy of a book on a web page, of a licence file in
    # two repositories or of a README as a web page is one document to the model, whichever
    # source it came from; the mixer would count it in both shares. ("source": per source only.)
    scope: Literal["global", "source"] = "global"
    # Captions are short and their images differ: near-identical captions are not duplicates
    # (exact dedup already hashes caption and image together).
    skip_sources: list[str] = Field(default_factory=lambda: ["multimodal"])
    previous: list[str] = Field(default_factory=list)  # earlier runs' output dirs: published, never dropped
    seed: int | None = None  # permutations' seed; default: the run seed
    max_set_docs: int = Field(1000, gt=0)  # members per verification chunk: bounds a group's memory
    max_leaders: int = Field(16, gt=0)  # leaders a member is compared with inside one set
    # Verification is exact up to this many distinct shingles (about 400 kB of text). A larger
    # document keeps the shingles in the lowest 1/2^k of the hash space that fit (Broder's mod-m
    # sample, 1997); a pair is compared on the coarser sample of the two, the same for both.
    verify_max_shingles: int = Field(1 << 16, gt=0)
    # Up to this much curated text (and no ``partitions`` set) the pass runs in one Ray task: a
    # shuffle costs seconds of fixed overhead, which dominates a small corpus (the sample: 45 s
    # of shuffles for what one task does in a few), and this much text fits a worker's memory.
    one_task_text_mb: int = Field(256, ge=0)
    partition_mb: int = Field(256, gt=0)  # target shuffle partition size
    partitions: int | None = Field(None, gt=0)  # shuffle partitions; default: from partition_mb
    max_rounds: int = Field(64, gt=0)  # connected-components rounds before giving up


def sign(
    docs: pa.Table, cfg: NearDedupConfig, perm: tuple[np.ndarray, np.ndarray], survivor: SurvivorConfig
) -> pa.Table:
    """Signature rows for documents (columns id, source, text, meta): each with its survivor rank."""
    hashes, offsets = shingle_hashes(docs["text"].to_pylist(), cfg.shingles)
    sig = signatures(hashes, offsets, perm)
    shingles = np.diff(offsets).astype(np.int32)
    keys = band_keys(sig, cfg.minhash.bands, cfg.minhash.rows)
    chars = pc.utf8_length(docs["text"]).cast(pa.int64())
    rank = ranks(docs["id"].to_pylist(), docs["meta"].to_pylist(), chars.to_pylist(), survivor)
    k, b = sig.shape[1], keys.shape[1]
    return pa.table(
        {
            "id": docs["id"],
            "source": docs["source"],
            "chars": chars,
            "rank": pa.array(rank, pa.string()),
            "shingles": pa.array(shingles),
            "signature": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), k),
            "bands": pa.FixedSizeListArray.from_arrays(pa.array(keys.reshape(-1)), b),
        }
    )


def scope_key(source: str) -> int:
    return int.from_bytes(hashlib.blake2b(source.encode(), digest_size=8).digest(), "little")


def signed_band_rows(sig: pa.Table, cfg: NearDedupConfig, file: int, first_row: int, old: bool) -> pa.Table:
    """Band rows for the signature rows that have shingles; ``first_row``: the first one's row in ``file``."""
    live = pc.greater(sig["shingles"], 0)
    groups = ((first_row + np.flatnonzero(live.to_numpy(zero_copy_only=False))) // GROUP_ROWS).tolist()
    sig = sig.filter(live)
    keys = sig["bands"].combine_chunks().values.to_numpy().reshape(sig.num_rows, cfg.minhash.bands)
    scopes = (
        np.array([scope_key(s) for s in sig["source"].to_pylist()], dtype=np.uint64) if cfg.scope == "source" else None
    )
    return band_rows(vertices(sig, [file] * sig.num_rows, groups, old), keys, scopes)


def distinct_set_rows(sets: pa.Table) -> pa.Table:
    """Each (set, chunk, vertex) once: a member found through several buckets of one set is one member."""
    sets = sets.group_by(["set_id", "chunk", "vertex", "file", "group"], use_threads=False).aggregate([("pos", "min")])
    return pa.table({c: sets["pos_min" if c == "pos" else c] for c in SET_SCHEMA.names}, schema=SET_SCHEMA)


def with_shingles(sets: pa.Table, texts: dict[str, str], cfg: NearDedupConfig) -> pa.Table:
    """Distinct candidate set rows (``distinct_set_rows``) with each document's shingle set attached."""
    ids = vertex_ids(sets["vertex"]).to_pylist()
    needed = sorted(set(ids))
    found = {
        i: sample(a, cfg.verify_max_shingles)
        for i, a in zip(needed, shingle_sets([texts[i] for i in needed], cfg.shingles))
    }
    arrays = [found[i][1] for i in ids]
    offsets = np.r_[0, np.cumsum([len(a) for a in arrays])].astype(np.int64)
    values = np.concatenate(arrays) if arrays else np.zeros(0, np.uint64)
    return sets.append_column(
        "shingles", pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
    ).append_column("sample", pa.array([found[i][0] for i in ids], pa.int8()))


def shingled_slices(sets: pa.Table, texts: dict[str, str], cfg: NearDedupConfig, max_bytes: int) -> Iterator[pa.Table]:
    """``with_shingles`` in slices of whole documents whose shingle sets take about ``max_bytes``.

    A document sits in up to ``bands`` sets and carries its set (up to ``verify_max_shingles`` × 8 B)
    into each, so slices are cut on bytes, not on rows or documents: the shuffle after the attach
    step holds its input blocks whole. A document has at most ``len(text)`` shingles."""
    sets = sets.sort_by("vertex")
    ids = vertex_ids(sets["vertex"]).to_pylist()
    start = size = 0
    for i in range(len(ids)):
        if i > start and ids[i] != ids[i - 1] and size >= max_bytes:
            yield with_shingles(sets.slice(start, i - start), texts, cfg)
            start, size = i, 0
        size += 8 * min(len(texts[ids[i]]), cfg.verify_max_shingles)
    if start < len(ids):
        yield with_shingles(sets.slice(start), texts, cfg)


def candidate_edges(band: pa.Table, texts: dict[str, str], cfg: NearDedupConfig, incremental: bool) -> pa.Table:
    """Every band row in one block: confirmed edges (u, v)."""
    if not cfg.verify:
        return chain_edges(band, incremental)
    sets = candidate_sets(band, cfg.max_set_docs, incremental)
    checks = verify_sets(with_shingles(distinct_set_rows(sets), texts, cfg), cfg.threshold, cfg.max_leaders)
    return checks.filter(checks["ok"]).select(["u", "v"]).cast(EDGE_SCHEMA)


def dedup_in_memory(
    docs: pa.Table, cfg: NearDedupConfig, seed: int, old: pa.Table | None = None, survivor: SurvivorConfig | None = None
) -> pa.Table:
    """The whole pass on one table (and, incremental, the already published ``old`` documents).

    Returns the dropped documents: columns id, survivor."""
    perm = permutations(cfg.seed if cfg.seed is not None else seed, cfg.minhash.num_perm)
    docs = docs.filter(pc.invert(pc.is_in(docs["source"], pa.array(cfg.skip_sources, pa.string()))))
    survivor = survivor or SurvivorConfig()
    band = signed_band_rows(sign(docs, cfg, perm, survivor), cfg, 0, 0, False)
    texts = dict(zip(docs["id"].to_pylist(), docs["text"].to_pylist()))
    if old is not None:
        band = pa.concat_tables([band, signed_band_rows(sign(old, cfg, perm, survivor), cfg, 1, 0, True)])
        texts.update(zip(old["id"].to_pylist(), old["text"].to_pylist()))
    edges = candidate_edges(band, texts, cfg, old is not None)
    stars, _ = components_local(edges, cfg.max_rounds)
    return drops(stars).select(["id", "survivor"]).sort_by("id")
