"""The curation pass: read every source, clean, filter, deduplicate exactly, write curated files,
then remove near duplicates from them (jobs/near_dedup.py) and deduplicate their images
(jobs/image_dedup.py).

Per-row stages run in map tasks; exact dedup is one Ray Data hash shuffle on the content
bucket, and each bucket's group writes its own files, so nothing on the driver grows with
the corpus: it only sums small count tables and per-file read receipts.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray.data

from jobs.config import RunConfig
from jobs.image_dedup import run_image_dedup
from jobs.markers import done, mark_done, reset
from jobs.near_dedup import run_near_dedup
from pipeline.accounting import build_stats
from pipeline.curated_io import write_bucket
from pipeline.exact_dedup import add_content_keys, bucket_of, dedup_group, drop_keys, id_hash
from pipeline.readers import InputFile, SourceSpec, expand_inputs, read_input
from pipeline.repo_documents import repo_keys, repo_stage
from pipeline.schema import KEPT
from pipeline.stages import CurateConfig, run_row_stages, stage_order

log = logging.getLogger("corpusmill")


def _read_files(batch: pa.Table, specs: list[SourceSpec], receipts: str, cache: str) -> Iterator[pa.Table]:
    for row in batch.to_pylist():
        spec = specs[row["spec"]]
        inp = InputFile(spec.name, row["path"], row["rel"])
        records = 0
        for table in read_input(spec, inp, cache_dir=cache):
            records += table.num_rows
            yield table
        name = hashlib.sha1(f"{row['spec']}:{inp.rel}".encode()).hexdigest() + ".json"
        with open(os.path.join(receipts, name), "w") as f:
            json.dump({"source": spec.name, "rel": inp.rel, "records": records}, f)


def _add_repo_group(table: pa.Table, spread: int) -> pa.Table:
    """Kept code rows group by repository; every other row by a hash of its id (bounded groups)."""
    repos = repo_keys(table).to_pylist()
    keys = [f"repo:{repo}" if src == "code" and st == KEPT and repo else f"id:{bucket_of(id_hash(i), spread)}"
            for src, st, repo, i in zip(table["source"].to_pylist(), table["status"].to_pylist(), repos,
                                        table["id"].to_pylist())]
    return table.append_column("_group", pa.array(keys, pa.string()))


def _repo_group(group: pa.Table, cfg: CurateConfig) -> pa.Table:
    group = group.drop_columns(["_group"])
    live = pc.and_(pc.equal(group["status"], KEPT), pc.equal(group["source"], "code"))
    files, rest = group.filter(live), group.filter(pc.invert(live))
    if not files.num_rows:
        return group
    return pa.concat_tables([repo_stage(files, cfg.repo_documents), rest])


def _content_keys(table: pa.Table, cfg: CurateConfig) -> pa.Table:
    return add_content_keys(table, cfg.exact_dedup.num_buckets)


def _finish_bucket(group: pa.Table, out_dir: str, dedup: bool) -> pa.Table:
    bucket = group["bucket"][0].as_py()
    group = dedup_group(group) if dedup else group
    return write_bucket(drop_keys(group), out_dir, bucket)


def _records_read(receipts: str) -> dict[str, int]:
    read: dict[str, int] = {}
    for path in sorted(glob.glob(os.path.join(receipts, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        read[r["source"]] = read.get(r["source"], 0) + r["records"]
    return read


def run_curate(cfg: RunConfig, out_dir: str, force: bool = False, cpus: int = 2) -> dict[str, Any]:
    """Run (or skip, when already done with these settings) the curation pass; return its stats."""
    config_hash = cfg.stage_hash("sources", "curate")
    if not force and (prev := done(out_dir, "curate", config_hash)):
        log.info("curate: already done with these settings, skipped")
        return prev["stats"]
    receipts, cache = os.path.join(out_dir, "_receipts"), os.path.join(out_dir, "_cache")
    reset(os.path.join(out_dir, "curated"), os.path.join(out_dir, "rejects"), receipts)
    items = [{"spec": i, "path": f.path, "rel": f.rel}
             for i, spec in enumerate(cfg.sources) for f in expand_inputs(spec, cfg.base_dir)]
    if not any(os.path.exists(i["path"]) for i in items):
        raise FileNotFoundError(f"no input exists: {[s.paths for s in cfg.sources]} (relative to {cfg.base_dir})")
    started = time.time()
    buckets = cfg.curate.exact_dedup.num_buckets
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(partial(_read_files, specs=cfg.sources, receipts=receipts, cache=cache),
                        batch_size=1, batch_format="pyarrow")
    ds = ds.map_batches(partial(run_row_stages, cfg=cfg.curate), batch_format="pyarrow")
    if cfg.curate.repo_documents.enabled and any(s.name == "code" for s in cfg.sources):
        ds = ds.map_batches(partial(_add_repo_group, spread=64), batch_format="pyarrow")
        ds = ds.groupby("_group", num_partitions=min(buckets, 64)).map_groups(
            partial(_repo_group, cfg=cfg.curate), batch_format="pyarrow")
    ds = ds.map_batches(partial(_content_keys, cfg=cfg.curate), batch_format="pyarrow")
    ds = ds.groupby("bucket", num_partitions=min(buckets, 64)).map_groups(
        partial(_finish_bucket, out_dir=out_dir, dedup=cfg.curate.exact_dedup.enabled), batch_format="pyarrow")
    counts = ds.take_all()
    near = cfg.curate.near_dedup
    if near is not None and near.enabled:
        log.info("curate: near-duplicate removal (MinHash LSH)")
        result = run_near_dedup(out_dir, near, cfg.seed, cpus)
        counts += result["counts"]
    images = cfg.curate.image_dedup
    if images is not None and images.enabled:
        log.info("curate: image dedup (exact, perceptual hash LSH, frequent images)")
        image_result = run_image_dedup(out_dir, images, cpus)
        counts += image_result["counts"]
    stats = build_stats(counts, _records_read(receipts), stage_order(cfg.curate))
    if near is not None and near.enabled:
        stats["near_dedup"] = {k: v for k, v in result["summary"].items() if k != "seconds"}
    if images is not None and images.enabled:
        stats["image_dedup"] = {k: v for k, v in image_result["summary"].items() if k != "seconds"}
    stats["seconds"] = round(time.time() - started, 2)
    if not stats["reconciled"]:
        raise RuntimeError(f"curation lost records: {json.dumps(stats['sources'])}")
    mark_done(out_dir, "curate", config_hash, {"stats": stats})
    return stats


if __name__ == "__main__":  # python -m jobs.curate --config …: this pass and, when not done yet, those before it
    import sys

    from jobs.run import main

    sys.exit(main(until="curate"))
