"""The image dedup pass over a run's curated image documents (pipeline/images/dedup.py says what it decides).

Ray Data steps: image occurrences per curated file (hashed) → LSH key rows shuffled by key
(hash edges) → the pictures of those edges read again, joined to each edge by u then by v (pixel
check: confirmed edges) → components (jobs/ray_steps.py) → occurrences meet their labels by vertex →
by label (frequent components, counts) → by document (keys) → by key (duplicates) → by file
(files rewritten). Only metadata rows travel through the shuffles; image bytes stay in the
curated files. Outputs are sorted, so the bytes written do not depend on the number of
workers, blocks or partitions.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data

from jobs.ray_steps import column_total, connected_components, per_item, shuffle_map, trim_heap
from pipeline.accounting import COUNT_SCHEMA
from pipeline.dedup.near_store import BATCH
from pipeline.images.confirm import (
    attach_u,
    confirm,
    confirm_in_memory,
    confirmed,
    edge_rows,
    edge_vertices,
    pixel_rows,
)
from pipeline.images.dedup import (
    ImageDedupConfig,
    attach_roots,
    bucket_block_edges,
    key_rows,
    occurrence_rows,
    star_rows,
)
from pipeline.images.dedup_apply import DUPLICATE, FREQUENT, apply_image_dedup
from pipeline.images.dedup_docs import (
    SUMMARY_KEYS,
    component_labels,
    dedup_images_in_memory,
    document_duplicates,
    document_keys,
    unkeyed,
)
from pipeline.images.pixels import PixelCheckConfig

log = logging.getLogger("corpusmill")
ROWS_PER_PARTITION = 1 << 20  # occurrence rows (about 250 B each) per shuffle partition
MAX_ROUNDS = 100


def _occurrences(batch: pa.Table, files: list[str], cfg: ImageDedupConfig) -> Iterator[pa.Table]:
    for f in batch["file"].to_pylist():
        hashes: dict[str, int | None] = {}
        for b in pq.ParquetFile(files[f]).iter_batches(batch_size=BATCH, columns=["id", "text", "images", "meta"]):
            yield occurrence_rows(pa.Table.from_batches([b]), f, cfg, hashes)
        trim_heap()


def _apply(block: pa.Table, root: str, files: list[str], cfg: ImageDedupConfig) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for f in sorted(set(block["file"].to_pylist())):
        mine = block.filter(pc.equal(block["file"], f))
        rows += apply_image_dedup(root, os.path.relpath(files[f], root), mine, cfg.max_documents)
    trim_heap()
    return pa.Table.from_pylist(rows, schema=COUNT_SCHEMA)


def _files(out_dir: str, sources: list[str]) -> list[str]:
    curated = os.path.join(out_dir, "curated")
    return sorted(
        os.path.join(curated, s, f)
        for s in sources
        if os.path.isdir(os.path.join(curated, s))
        for f in os.listdir(os.path.join(curated, s))
        if f.endswith(".parquet")
    )


def _image_slots(path: str) -> int:
    """Images in a curated file, from its footer (an empty list counts one): sizes the shuffles."""
    meta = pq.ParquetFile(path).metadata
    leaf = next(i for i in range(meta.num_columns) if meta.row_group(0).column(i).path_in_schema.endswith("sha256"))
    return sum(meta.row_group(g).column(leaf).num_values for g in range(meta.num_row_groups))


def run_image_dedup(out_dir: str, cfg: ImageDedupConfig, cpus: int = 2) -> dict[str, Any]:
    """Deduplicate the images of ``<out_dir>/curated/<source>`` for ``cfg.sources``, in place.

    Returns ``counts`` (rows for the curate pass's outcome counts: documents that leave move from
    kept to dropped) and ``summary`` (SUMMARY_KEYS, documents dropped per reason, component rounds)."""
    started = time.time()
    files = _files(out_dir, cfg.sources)
    images = sum(_image_slots(f) for f in files)
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_KEYS, 0) | {"edges_refused": 0}
    if not images:  # a corpus without images: every counter still reads 0
        return _done({"counts": [], "summary": _dropped(summary, [], 0)}, started)
    parts = cfg.partitions or max(cpus, math.ceil(images * cfg.lsh.tables / ROWS_PER_PARTITION))
    occ = per_item([{"file": i} for i in range(len(files))], _occurrences, files=files, cfg=cfg).materialize()
    if cfg.partitions is None and images <= cfg.one_task_images:
        refs = occ.to_arrow_refs()
        edges, refused = _confirm_in_tasks(ray.get(_hash_edges.remote(cfg, *refs)), files, cfg, cpus)
        changes, tallies = ray.get(_decide.remote(cfg, edges, *refs))
        summary |= tallies | {"edges_refused": refused}
        tasks = [
            _apply_file.remote(
                out_dir,
                os.path.relpath(files[f], out_dir),
                changes.filter(pc.equal(changes["file"], f)),
                cfg.max_documents,
            )
            for f in sorted(set(changes["file"].to_pylist()))
        ]
        counts = [row for rows in ray.get(tasks) for row in rows]
        return _done({"counts": counts, "summary": _dropped(summary, counts, summary["rounds"])}, started)
    keys = occ.map_batches(partial(key_rows, cfg=cfg), batch_size=None, batch_format="pyarrow")
    edges = shuffle_map(keys, ["key"], parts, bucket_block_edges, cfg=cfg).materialize()
    edges, summary["edges_refused"] = _confirm_shuffled(edges, files, cfg, parts)
    rounds = 0
    if edges.count():
        stars, rounds = connected_components(edges, parts, MAX_ROUNDS)
        occ = occ.union(stars.map_batches(star_rows, batch_size=None, batch_format="pyarrow"))
    labelled = shuffle_map(occ, ["vertex"], parts, attach_roots)
    labels = shuffle_map(labelled, ["root"], parts, component_labels, cfg=cfg).materialize()
    for row in labels.map_batches(
        lambda t: t.filter(pc.is_null(t["id"])).select(["vertex", "docs"]), batch_size=None, batch_format="pyarrow"
    ).take_all():
        summary[row["vertex"]] += row["docs"]
    counts: list[dict[str, Any]] = []
    if summary["frequent_images"] or (cfg.duplicate_documents and summary["near_duplicates"]):
        labels = labels.map_batches(lambda t: t.filter(pc.is_valid(t["id"])), batch_size=None, batch_format="pyarrow")
        docs = shuffle_map(labels, ["id"], parts, document_keys)
        if not cfg.duplicate_documents:
            docs = docs.map_batches(unkeyed, batch_size=None, batch_format="pyarrow")
        changes = shuffle_map(docs, ["key"], parts, document_duplicates)
        counts = shuffle_map(changes, ["file"], parts, _apply, root=out_dir, files=files, cfg=cfg).take_all()
    return _done({"counts": counts, "summary": _dropped(summary, counts, rounds)}, started)


def _file_pictures(path: str, wanted: set[str]) -> Iterator[pa.Table]:
    """Pixel rows of the wanted vertices found in one curated file, a batch of rows at a time."""
    for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["images"]):
        yield pixel_rows(pa.Table.from_batches([b]), wanted)


def _pictures(batch: pa.Table, files: list[str], wanted: set[str]) -> Iterator[pa.Table]:
    """Pixel rows of the wanted vertices found in the batch's files."""
    for f in batch["file"].to_pylist():
        yield from _file_pictures(files[f], wanted)
        trim_heap()


def _confirm_in_tasks(
    found: tuple[pa.Table, list[int]], files: list[str], cfg: ImageDedupConfig, cpus: int
) -> tuple[pa.Table, int]:
    """Hash edges checked on their pixels in plain tasks (the one-task path): confirmed edges, refused count."""
    edges, needed = found
    if cfg.pixel_check is None or not edges.num_rows:
        return edges, 0
    wanted = edge_vertices(edges)
    pictures = ray.put(pa.concat_tables(ray.get([_read_pictures.remote(files[f], wanted) for f in needed])))
    step = math.ceil(edges.num_rows / max(1, cpus))
    checked = pa.concat_tables(
        ray.get(
            [_check.remote(edges.slice(i, step), pictures, cfg.pixel_check) for i in range(0, edges.num_rows, step)]
        )
    )
    kept = confirmed(checked)
    return kept, checked.num_rows - kept.num_rows


def _confirm_shuffled(
    edges: ray.data.MaterializedDataset, files: list[str], cfg: ImageDedupConfig, parts: int
) -> tuple[ray.data.MaterializedDataset, int]:
    """Hash edges checked on their pixels: each edge meets u's picture, then v's, by vertex."""
    if cfg.pixel_check is None or not edges.count():
        return edges, 0
    wanted = set().union(*ray.get([_edge_vertices.remote(ref) for ref in edges.to_arrow_refs()]))
    pictures = per_item([{"file": i} for i in range(len(files))], _pictures, files=files, wanted=wanted).materialize()
    rows = edges.map_batches(edge_rows, batch_size=None, batch_format="pyarrow").union(pictures)
    with_u = shuffle_map(rows, ["key"], parts, attach_u)
    checked = shuffle_map(with_u.union(pictures), ["key"], parts, confirm, cfg=cfg.pixel_check).materialize()
    refused = checked.count() - column_total(checked, "ok")
    return checked.map_batches(confirmed, batch_size=None, batch_format="pyarrow").materialize(), refused


@ray.remote
def _hash_edges(cfg: ImageDedupConfig, *blocks: pa.Table) -> tuple[pa.Table, list[int]]:
    """Hash edges of all occurrences, and the files holding their pictures."""
    occ = pa.concat_tables(blocks)
    edges = bucket_block_edges(key_rows(occ, cfg), cfg)
    wanted = pa.array(sorted(edge_vertices(edges)), pa.string())
    return edges, sorted(set(occ.filter(pc.is_in(occ["vertex"], wanted))["file"].to_pylist()))


@ray.remote
def _read_pictures(path: str, wanted: set[str]) -> pa.Table:
    return pa.concat_tables(list(_file_pictures(path, wanted)))


@ray.remote
def _check(edges: pa.Table, pictures: pa.Table, cfg: PixelCheckConfig) -> pa.Table:
    return confirm_in_memory(edges, pictures, cfg)


_edge_vertices = ray.remote(edge_vertices)


@ray.remote
def _decide(cfg: ImageDedupConfig, edges: pa.Table, *blocks: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    return dedup_images_in_memory(pa.concat_tables(blocks), cfg, edges=edges)


_apply_file = ray.remote(apply_image_dedup)


def _dropped(summary: dict[str, Any], counts: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    summary["rounds"] = rounds
    for reason in (FREQUENT, DUPLICATE):
        summary[f"dropped_{reason}"] = sum(c["docs"] for c in counts if c["reason"] == reason)
    return summary


def _done(result: dict[str, Any], started: float) -> dict[str, Any]:
    result["summary"]["seconds"] = round(time.time() - started, 2)
    log.info("image dedup: %s", result["summary"])
    return result
