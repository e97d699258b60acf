"""The near-dedup pass over a run's curated files: MinHash LSH, verification, components, drops.

Every global step is a Ray Data hash shuffle between small-table functions from pipeline/:
band rows by (band, bucket) → candidate sets by document file (texts read back) → by set
(verified edges) → Large-Star/Small-Star rounds by vertex → drops by file (files rewritten).
The driver holds file lists and counts only. Outputs are sorted files, so they are the same
bytes whatever the number of workers, blocks or partitions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data

from jobs.ray_steps import column_total, connected_components, shuffle_map, trim_heap
from pipeline import near_dedup_store as store
from pipeline.accounting import COUNT_SCHEMA
from pipeline.lsh import EDGE_SCHEMA, candidate_sets, chain_edges, verify_sets
from pipeline.minhash import permutations, s_curve
from pipeline.near_dedup import NearDedupConfig, distinct_set_rows, shingled_slices
from pipeline.survivors import drops, vertex_ids

log = logging.getLogger("corpusmill")
BAND_ROW_BYTES = 110  # band, bucket and a vertex name: what sizes the shuffles
ATTACH_BYTES = 32 << 20  # shingle bytes per block out of the attach step (the next shuffle holds blocks whole)


def print_s_curve(cfg: NearDedupConfig) -> None:
    """``corpusmill near-dedup-curve``: the chance a pair is caught at each Jaccard similarity."""
    print(s_curve(cfg.minhash))
    print(f"verification: {'true Jaccard >= ' + str(cfg.threshold) if cfg.verify else 'off'}; "
          f"shingles: {cfg.shingles.n}-{cfg.shingles.unit} n-grams; scope: {cfg.scope}")


def _sign(batch: pa.Table, files: list[str], root: str, cfg: NearDedupConfig, seed: int) -> Iterator[pa.Table]:
    perm = permutations(seed, cfg.minhash.num_perm)
    for i in batch["file"].to_pylist():
        rel = os.path.relpath(files[i], root)
        yield from store.sign_file(files[i], store.signature_path(root, rel), i, cfg, perm)
    trim_heap()


def _stored(batch: pa.Table, stores: list[str], cfg: NearDedupConfig) -> Iterator[pa.Table]:
    for i in batch["file"].to_pylist():
        yield from store.stored_band_rows(stores[i], i, cfg)


def _candidates(block: pa.Table, cfg: NearDedupConfig, incremental: bool) -> pa.Table:
    out = candidate_sets(block, cfg.max_set_docs, incremental) if cfg.verify else chain_edges(block, incremental)
    trim_heap()
    return out


def _attach(block: pa.Table, files: list[str], cfg: NearDedupConfig) -> Iterator[pa.Table]:
    """Set rows with their shingle sets, one curated row group's texts at a time, in slices of
    about ATTACH_BYTES: what a worker holds is bounded by a row group and a slice, not the corpus."""
    block = distinct_set_rows(block)
    keys = block.select(["file", "group"]).group_by(["file", "group"], use_threads=False).aggregate([])
    for f, g in sorted(zip(keys["file"].to_pylist(), keys["group"].to_pylist())):
        part = block.filter(pc.and_(pc.equal(block["file"], f), pc.equal(block["group"], g)))
        texts = store.read_texts(files[f], set(vertex_ids(part["vertex"], cfg.survivor).to_pylist()))
        yield from shingled_slices(part, texts, cfg, ATTACH_BYTES)
        del texts
        trim_heap()


def _verify(block: pa.Table, cfg: NearDedupConfig) -> pa.Table:
    out = verify_sets(block, cfg.threshold, cfg.max_leaders)
    trim_heap()
    return out


def _apply(block: pa.Table, root: str, files: list[str]) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for f in sorted(set(block["file"].to_pylist())):
        t = block.filter(pc.equal(block["file"], f))
        rows += store.apply_drops(root, os.path.relpath(files[f], root), dict(zip(t["id"].to_pylist(),
                                                                           t["survivor"].to_pylist())))
    trim_heap()
    return pa.Table.from_pylist(rows, schema=COUNT_SCHEMA)


def _sizes(files: list[str]) -> tuple[int, int]:
    """Documents and uncompressed text bytes of curated files, from their footers."""
    docs = text = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        col = meta.schema.to_arrow_schema().get_field_index("text")
        docs += meta.num_rows
        text += sum(meta.row_group(g).column(col).total_uncompressed_size for g in range(meta.num_row_groups))
    return docs, text


def _partitions(cfg: NearDedupConfig, cpus: int, nbytes: float) -> int:
    return cfg.partitions or max(cpus, min(4096, math.ceil(nbytes / (cfg.partition_mb << 20))))


def run_near_dedup(out_dir: str, cfg: NearDedupConfig, seed: int, cpus: int = 2) -> dict[str, Any]:
    """Deduplicate ``<out_dir>/curated`` in place, after exact dedup, and keep its signatures.

    Dropped documents move to ``rejects/<source>/near_dedup-part-N.parquet`` (reason
    ``near_duplicate``, detail = the survivor's id). Returns ``counts`` (rows to add to the curate
    pass's outcome counts: kept down, dropped up) and ``summary``."""
    started, seed = time.time(), cfg.seed if cfg.seed is not None else seed
    meta = store.store_meta(cfg, seed)
    shutil.rmtree(os.path.join(out_dir, store.STORE), ignore_errors=True)
    curated = os.path.join(out_dir, "curated")
    files = sorted(os.path.join(curated, s, f) for s in (sorted(os.listdir(curated)) if os.path.isdir(curated) else [])
                   if s not in cfg.skip_sources for f in os.listdir(os.path.join(curated, s)) if f.endswith(".parquet"))
    stores: list[str] = [""] * len(files)
    for prev in cfg.previous:
        for rel in store.previous_files(prev, meta):
            stores.append(os.path.join(prev, store.STORE, rel))
            files.append(store.curated_path(prev, rel))
    docs, text_bytes = _sizes(files)
    parts = _partitions(cfg, cpus, docs * cfg.minhash.bands * BAND_ROW_BYTES)
    current = [i for i, s in enumerate(stores) if not s]
    if not current:
        return _finish(out_dir, meta, [], {"documents": 0, "confirmed": 0, "checked": 0, "rounds": 0}, started)
    bands = ray.data.from_items([{"file": i} for i in current], override_num_blocks=max(1, len(current))).map_batches(
        partial(_sign, files=files, root=out_dir, cfg=cfg, seed=seed), batch_size=1, batch_format="pyarrow")
    if len(current) < len(files):
        old = [i for i, s in enumerate(stores) if s]
        bands = bands.union(ray.data.from_items([{"file": i} for i in old], override_num_blocks=len(old)).map_batches(
            partial(_stored, stores=stores, cfg=cfg), batch_size=1, batch_format="pyarrow"))
    incremental = bool(cfg.previous)
    found = shuffle_map(bands, ["band", "bucket"], parts, _candidates, cfg=cfg, incremental=incremental)
    summary: dict[str, Any] = {"documents": docs, "partitions": parts}
    if cfg.verify:  # from here rows carry shingle sets: partitions sized on them (about 1.5 × the text)
        found = found.materialize()
        vparts = _partitions(cfg, cpus, found.count() * 1.5 * text_bytes / max(docs, 1))
        found = shuffle_map(found, ["file", "group"], vparts, _attach, files=files, cfg=cfg)
        checks = shuffle_map(found, ["set_id", "chunk"], vparts, _verify, cfg=cfg).materialize()
        summary["confirmed"], summary["checked"] = column_total(checks, "ok"), checks.count()
        edges = checks.map_batches(lambda t: t.filter(t["ok"]).select(["u", "v"]).cast(EDGE_SCHEMA),
                                   batch_format="pyarrow", batch_size=None)
    else:
        edges = found.materialize()
        summary["confirmed"] = summary["checked"] = edges.count()
    counts: list[dict[str, Any]] = []
    summary["rounds"] = 0
    if summary["confirmed"]:
        stars, summary["rounds"] = connected_components(edges, parts, cfg.max_rounds)
        dropped = stars.map_batches(lambda t: drops(t, cfg.survivor), batch_format="pyarrow", batch_size=None)
        counts = shuffle_map(dropped, ["file"], parts, _apply, root=out_dir, files=files).take_all()
    return _finish(out_dir, meta, counts, summary, started)


def _finish(out_dir: str, meta: dict[str, Any], counts: list[dict[str, Any]], summary: dict[str, Any],
            started: float) -> dict[str, Any]:
    """Write the store's ``_meta.json`` last: a store without it is incomplete and refused as ``previous``."""
    summary["dropped"] = sum(c["docs"] for c in counts if c["status"] == "dropped")
    os.makedirs(os.path.join(out_dir, store.STORE), exist_ok=True)
    with open(os.path.join(out_dir, store.STORE, "_meta.json"), "w") as f:
        json.dump({**meta, "summary": {k: v for k, v in summary.items() if k != "partitions"}}, f,
                  indent=2, sort_keys=True)
    summary["seconds"] = round(time.time() - started, 2)
    log.info("near dedup: %s", summary)
    return {"counts": counts, "summary": summary}
