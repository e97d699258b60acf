"""The near-dedup pass over a run's curated files: MinHash LSH, verification, components, drops.

Every global step is a Ray Data shuffle (ray_steps.shuffle_map) between small-table functions from pipeline/:
band rows by (band, bucket) → candidate sets by document file (texts read back) → by set
(verified edges) → Large-Star/Small-Star rounds by vertex → drops by member, each told direct
or chain → drops by file (files rewritten) → survivors' cluster sizes by file.
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
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data

from jobs.ray_steps import column_total, connected_components, per_item, shuffle_map, text_bytes, trim_heap
from pipeline.accounting import COUNT_SCHEMA
from pipeline.dedup import near_store as store
from pipeline.dedup.components import components_local
from pipeline.dedup.lsh import EDGE_SCHEMA, candidate_sets, chain_edges, verify_sets
from pipeline.dedup.minhash import permutations, s_curve
from pipeline.dedup.near import NearDedupConfig, distinct_set_rows, shingled_slices
from pipeline.dedup.survivors import SurvivorConfig, classify_drops, drop_links, drops, edge_links, vertex_ids

log = logging.getLogger("corpusmill")
BAND_ROW_BYTES = 110  # band, bucket and a vertex name: what sizes the shuffles
ATTACH_BYTES = 32 << 20  # shingle bytes per block out of the attach step (the next shuffle holds blocks whole)


def print_s_curve(cfg: NearDedupConfig) -> None:
    """``corpusmill near-dedup-curve``: the chance a pair is caught at each Jaccard similarity."""
    print(s_curve(cfg.minhash))
    print(
        f"verification: {'true Jaccard >= ' + str(cfg.threshold) if cfg.verify else 'off'}; "
        f"shingles: {cfg.shingles.n}-{cfg.shingles.unit} n-grams; scope: {cfg.scope}"
    )


def _sign(
    batch: pa.Table, files: list[str], root: str, cfg: NearDedupConfig, seed: int, survivor: SurvivorConfig
) -> Iterator[pa.Table]:
    perm = permutations(seed, cfg.minhash.num_perm)
    for i in batch["file"].to_pylist():
        rel = os.path.relpath(files[i], root)
        yield from store.sign_file(files[i], store.signature_path(root, rel), i, cfg, perm, survivor)
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
        texts = store.read_texts(files[f], set(vertex_ids(part["vertex"]).to_pylist()))
        yield from shingled_slices(part, texts, cfg, ATTACH_BYTES)
        del texts
        trim_heap()


def _verify(block: pa.Table, cfg: NearDedupConfig) -> pa.Table:
    out = verify_sets(block, cfg.threshold, cfg.max_leaders)
    trim_heap()
    return out


APPLY_SCHEMA = pa.schema(
    list(COUNT_SCHEMA) + [("survivor_file", pa.int32()), ("survivor", pa.string()), ("copies", pa.int64())]
)


def _classify(block: pa.Table, verified: bool) -> pa.Table:
    out = classify_drops(block)
    return out if verified else out.set_column(4, "direct", pa.array([True] * out.num_rows))  # no edges to judge by


def _apply(block: pa.Table, root: str, files: list[str], stage: str) -> pa.Table:
    """Drops of whole files: count rows for stats, then one row per survivor its members grow."""
    counts: list[dict[str, Any]] = []
    grown: list[dict[str, Any]] = []
    where = dict(zip(block["survivor"].to_pylist(), block["survivor_file"].to_pylist()))
    for f in sorted(set(block["file"].to_pylist())):
        t = block.filter(pc.equal(block["file"], f))
        dropped = {
            i: (s, d) for i, s, d in zip(t["id"].to_pylist(), t["survivor"].to_pylist(), t["direct"].to_pylist())
        }
        rows, members = store.apply_drops(root, os.path.relpath(files[f], root), dropped, stage)
        counts += rows
        grown += [
            {"survivor_file": where[s], "survivor": s, "copies": n, "docs": 0, "chars": 0} for s, n in members.items()
        ]
    trim_heap()
    return pa.Table.from_pylist(counts + grown, schema=APPLY_SCHEMA)


def _grow(block: pa.Table, root: str, files: list[str], current: int) -> pa.Table:
    """Survivors' dup_cluster_size, file by file (survivors in an earlier run's files stay as published)."""
    for f in sorted(set(block["survivor_file"].to_pylist())):
        if f >= current:
            continue
        t = block.filter(pc.equal(block["survivor_file"], f))
        grown: dict[str, int] = {}
        for s, n in zip(t["survivor"].to_pylist(), t["copies"].to_pylist()):
            grown[s] = grown.get(s, 0) + n
        store.grow_survivors(root, os.path.relpath(files[f], root), grown)
    trim_heap()
    return pa.table({"files": pa.array([block.num_rows], pa.int64())})


def _sizes(files: list[str]) -> tuple[int, int]:
    """Documents and uncompressed text bytes of curated files, from their footers."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in files), sum(text_bytes(p) for p in files)


def _partitions(cfg: NearDedupConfig, cpus: int, nbytes: float) -> int:
    return cfg.partitions or max(cpus, min(4096, math.ceil(nbytes / (cfg.partition_mb << 20))))


def run_near_dedup(
    out_dir: str,
    cfg: NearDedupConfig,
    seed: int,
    cpus: int = 2,
    survivor: SurvivorConfig | None = None,
    stage: str = "near_dedup",
) -> dict[str, Any]:
    """Deduplicate ``<out_dir>/curated`` in place, after exact dedup, and keep its signatures.

    Dropped documents move to ``rejects/<source>/near_dedup-part-N.parquet`` (reason
    ``near_duplicate``, or ``near_duplicate_chain`` when joined to the survivor only through other
    members; detail = the survivor's id), and each survivor's ``meta.dup_cluster_size`` counts what
    it stands for. Returns ``counts`` (rows to add to the curate pass's outcome counts: kept down,
    dropped up) and ``summary``. ``stage`` names the pass in rejects and stats (``repo_near_dedup``:
    the second pass, over code's repository documents); the signatures of the sources it signs are
    replaced, the others' kept."""
    survivor = survivor or SurvivorConfig()
    started, seed = time.time(), cfg.seed if cfg.seed is not None else seed
    meta = store.store_meta(cfg, seed)
    curated = os.path.join(out_dir, "curated")
    sources = [s for s in (sorted(os.listdir(curated)) if os.path.isdir(curated) else []) if s not in cfg.skip_sources]
    for source in sources:
        shutil.rmtree(os.path.join(out_dir, store.STORE, source), ignore_errors=True)
    files = sorted(
        os.path.join(curated, s, f)
        for s in sources
        for f in os.listdir(os.path.join(curated, s))
        if f.endswith(".parquet")
    )
    stores: list[str] = [""] * len(files)
    for prev in cfg.previous:
        for rel in store.previous_files(prev, meta):
            stores.append(os.path.join(prev, store.STORE, rel))
            files.append(store.curated_path(prev, rel))
    docs, text_bytes = _sizes(files)
    parts = _partitions(cfg, cpus, docs * cfg.minhash.bands * BAND_ROW_BYTES)
    current = [i for i, s in enumerate(stores) if not s]
    if not current:
        nothing = {"documents": 0, "partitions": 0, "confirmed": 0, "checked": 0, "rounds": 0}
        return _finish(out_dir, meta, [], nothing, started)
    if cfg.partitions is None and text_bytes <= cfg.one_task_text_mb << 20:
        job = (files, stores, out_dir, cfg, seed, survivor, stage)
        # no retry: a second attempt would find curated files the first had already rewritten
        counts, steps = ray.get(_in_one_task.options(num_cpus=1, max_retries=0).remote(*job))
        return _finish(out_dir, meta, counts, {"documents": docs, "partitions": 1, **steps}, started)
    items = [{"file": i} for i in current]
    bands = per_item(items, _sign, files=files, root=out_dir, cfg=cfg, seed=seed, survivor=survivor)
    if len(current) < len(files):
        old = [i for i, s in enumerate(stores) if s]
        bands = bands.union(per_item([{"file": i} for i in old], _stored, stores=stores, cfg=cfg))
    incremental = bool(cfg.previous)
    found = shuffle_map(bands, ["band", "bucket"], parts, _candidates, cfg=cfg, incremental=incremental)
    summary: dict[str, Any] = {"documents": docs, "partitions": parts}
    if cfg.verify:  # from here rows carry shingle sets: partitions sized on them (about 1.5 × the text)
        found = found.materialize()
        vparts = _partitions(cfg, cpus, found.count() * 1.5 * text_bytes / max(docs, 1))
        found = shuffle_map(found, ["file", "group"], vparts, _attach, files=files, cfg=cfg)
        checks = shuffle_map(found, ["set_id", "chunk"], vparts, _verify, cfg=cfg).materialize()
        summary["confirmed"], summary["checked"] = column_total(checks, "ok"), checks.count()
        edges = checks.map_batches(_confirmed, batch_format="pyarrow", batch_size=None)
    else:
        edges = found.materialize()
        summary["confirmed"] = summary["checked"] = edges.count()
    counts: list[dict[str, Any]] = []
    summary["rounds"] = 0
    if summary["confirmed"]:
        counts, summary["rounds"] = _drop_members(edges, parts, cfg, out_dir, files, len(current), stage)
    return _finish(out_dir, meta, counts, summary, started)


@ray.remote
def _in_one_task(
    files: list[str],
    stores: list[str],
    root: str,
    cfg: NearDedupConfig,
    seed: int,
    survivor: SurvivorConfig,
    stage: str,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The whole pass on a small corpus: the shuffled path's steps, each on all rows at once
    (every step's input is then one partition holding whole groups), in one worker."""
    current = [i for i, s in enumerate(stores) if not s]
    old = [i for i, s in enumerate(stores) if s]
    bands = list(_sign(pa.table({"file": current}), files, root, cfg, seed, survivor))
    bands += list(_stored(pa.table({"file": pa.array(old, pa.int64())}), stores, cfg))
    found = _candidates(pa.concat_tables(bands), cfg, bool(cfg.previous))
    edges, steps = _verified(found, files, cfg)
    steps["rounds"], counts = 0, []
    if steps["confirmed"]:
        told, steps["rounds"] = _told(edges, cfg.max_rounds, cfg.verify)
        applied = _apply(told, root, files, stage)
        grow = applied.filter(pc.is_valid(applied["survivor"]))
        if grow.num_rows:
            _grow(grow, root, files, len(current))
        counts = _count_rows(applied.filter(pc.is_null(applied["survivor"])).to_pylist())
    return counts, steps


def _verified(found: pa.Table, files: list[str], cfg: NearDedupConfig) -> tuple[pa.Table, dict[str, int]]:
    """The candidates confirmed by true Jaccard (all of them when ``verify`` is off), with the counts."""
    if not cfg.verify:
        return found, {"confirmed": found.num_rows, "checked": found.num_rows}
    attached = list(_attach(found, files, cfg)) if found.num_rows else []
    if not attached:
        return EDGE_SCHEMA.empty_table(), {"confirmed": 0, "checked": 0}
    checks = _verify(pa.concat_tables(attached), cfg)
    edges = _confirmed(checks)
    return edges, {"confirmed": edges.num_rows, "checked": checks.num_rows}


def _confirmed(checks: pa.Table) -> pa.Table:
    """The edges of the checked pairs that passed."""
    return checks.filter(checks["ok"]).select(["u", "v"]).cast(EDGE_SCHEMA)


def _count_rows(applied: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_apply``'s count rows (those without a survivor to grow) as the curate pass's counts."""
    return [{k: c.get(k) for k in COUNT_SCHEMA.names} for c in applied]


# Up to this many confirmed edges (16 bytes each) the components are found, and the drops told direct or chain,
# in one task: the same rounds of star contraction, with the same stars, in a second or two, where each
# distributed round is two shuffles of fixed cost (measured on 1 GB of input: 4 rounds, 12.5 s for 11,241 edges)
# and telling the drops a third.
LOCAL_COMPONENT_EDGES = 1 << 22


def _told(edges: pa.Table, max_rounds: int, verified: bool) -> tuple[pa.Table, int]:
    """The drops, each told direct or chain, and the rounds, from all confirmed edges at once."""
    stars, rounds = components_local(edges, max_rounds)
    links = pa.concat_tables([edge_links(edges), drop_links(drops(stars))])
    return _classify(links, verified), rounds


@ray.remote(max_retries=3)
def _local_told(refs: list[Any], max_rounds: int, verified: bool) -> tuple[pa.Table, int]:
    return _told(pa.concat_tables(ray.get(refs)), max_rounds, verified)


def _drop_members(
    edges: ray.data.Dataset, parts: int, cfg: NearDedupConfig, out_dir: str, files: list[str], current: int, stage: str
) -> tuple[list[dict[str, Any]], int]:
    """Components → drops told direct or chain → files rewritten → survivors grown; the count rows, rounds."""
    edges = edges.materialize()
    if edges.count() <= LOCAL_COMPONENT_EDGES:  # drops told in the same task: no shuffle on their links
        table, rounds = ray.get(_local_told.remote(edges.to_arrow_refs(), cfg.max_rounds, cfg.verify))
        told = ray.data.from_arrow(table)
    else:
        stars, rounds = connected_components(edges, parts, cfg.max_rounds)
        dropped = stars.map_batches(drops, batch_format="pyarrow", batch_size=None)
        links = edges.map_batches(edge_links, batch_format="pyarrow", batch_size=None).union(
            dropped.map_batches(drop_links, batch_format="pyarrow", batch_size=None)
        )
        told = shuffle_map(links, ["key"], parts, _classify, verified=cfg.verify)
    applied = shuffle_map(told, ["file"], parts, _apply, root=out_dir, files=files, stage=stage).materialize()
    grow = applied.filter(lambda r: r["survivor"] is not None)
    if grow.count():
        shuffle_map(grow, ["survivor_file"], parts, _grow, root=out_dir, files=files, current=current).materialize()
    return _count_rows(applied.filter(lambda r: r["survivor"] is None).take_all()), rounds


def _finish(
    out_dir: str, meta: dict[str, Any], counts: list[dict[str, Any]], summary: dict[str, Any], started: float
) -> dict[str, Any]:
    """Write the store's ``_meta.json`` last: a store without it is incomplete and refused as ``previous``."""
    summary["dropped"] = sum(c["docs"] for c in counts if c["status"] == "dropped")
    summary["chain_dropped"] = sum(c["docs"] for c in counts if c["status"] == "dropped" and c["reason"] == store.CHAIN)
    os.makedirs(os.path.join(out_dir, store.STORE), exist_ok=True)
    with open(os.path.join(out_dir, store.STORE, "_meta.json"), "w") as f:
        json.dump(
            {**meta, "summary": {k: v for k, v in summary.items() if k != "partitions"}}, f, indent=2, sort_keys=True
        )
    summary["seconds"] = round(time.time() - started, 2)
    log.info("near dedup: %s", summary)
    return {"counts": counts, "summary": summary}
