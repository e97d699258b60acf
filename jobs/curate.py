"""The curation pass: read every source, clean, filter, deduplicate exactly, write curated files,
then remove near duplicates from them (jobs/near_dedup.py) and deduplicate their images
(jobs/image_dedup.py).

Each input file is read, cleaned and filtered by one map task into ``_staged/`` (every row, with
its status), a receipt marking it done: a rerun after a crash or a stopped job skips the files
already staged. A staged file's row groups each hold one content bucket's rows
(pipeline/dedup/bucket_files.py); exact dedup is then one task per bucket reading that bucket's row
groups from every staged file and writing its own files, so no text is shuffled between nodes and
nothing on the driver grows with the corpus: it only sums small count tables and the per-file
receipts. ``_staged/`` is removed once the pass is marked done.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import time
from typing import Any

import pyarrow as pa

from jobs.config import RunConfig
from jobs.decontam import decontam_inputs, run_decontam
from jobs.image_dedup import run_image_dedup
from jobs.markers import done, mark_done, read_receipts, reset, resume_dir, write_json_atomic
from jobs.near_dedup import run_near_dedup
from jobs.progress import Progress, report, text_bytes
from jobs.quality import quality_inputs, run_quality
from jobs.ray_steps import per_item
from jobs.repo_pass import run_repo_documents
from jobs.usage import UsageError
from pipeline.accounting import COUNT_SCHEMA, build_stats
from pipeline.curated_io import write_bucket
from pipeline.dedup.bucket_files import BucketedWriter, read_bucket
from pipeline.dedup.exact import add_content_keys, dedup_group, drop_keys
from pipeline.dedup.survivors import SurvivorConfig
from pipeline.images.decode import MAX_IMAGE_PIXELS
from pipeline.read.listing import tree_state
from pipeline.read.readers import InputFile, SourceSpec, carries_images, expand_sources, read_input
from pipeline.read.remote import is_remote, remote_size
from pipeline.stages import CurateConfig, run_row_stages, stage_order, stages_acting_on

log = logging.getLogger("corpusmill")


STAGED_LAYOUT = "by-bucket-1"  # with the settings, what an earlier attempt's staged files must match to be kept


def _stage_name(source: str, rel: str, part: int = 0, parts: int = 1) -> str:
    """The staged file of one input (of its ``part``-th share when several tasks clean it): ``rel`` is unique
    within its source name (readers.expand_sources)."""
    name = hashlib.sha1(f"{source}:{rel}".encode()).hexdigest()
    return name if parts == 1 else f"{name}-{part}of{parts}"


def _shares(spec: SourceSpec, path: str, size: int) -> int:
    """How many tasks clean a file: one, or for a local file over ``split_mb`` one per started ``split_mb``
    up to ``split_max`` (SourceSpec)."""
    if spec.split_mb is None or is_remote(path) or not os.path.isfile(path):
        return 1  # a remote copy would be fetched by every task; a directory (a repository) is one document
    return max(1, min(spec.split_max, -(-size // int(spec.split_mb * 1e6))))


def _max_pixels(cfg: CurateConfig) -> int | None:
    """The pixel cap images are decoded under: image_checks' own, else Pillow's (a guard on memory, not a filter)."""
    checks = cfg.image_checks
    return checks.max_pixels if checks is not None and checks.max_pixels is not None else MAX_IMAGE_PIXELS


def _stage_files(
    batch: pa.Table, specs: list[SourceSpec], cfg: CurateConfig, staged: str, cache: str, counter: Any
) -> pa.Table:
    """Read, clean and filter input files (or one share of a large one: SourceSpec.split_mb) into
    ``staged/<name>.parquet``; the receipt beside it, written last, marks it done, so a rerun after a crash
    starts from the files (shares) without one."""
    done = []
    for row in batch.to_pylist():
        spec = specs[row["spec"]]
        inp = InputFile(spec.name, os.fsdecode(row["path"]), row["rel"], os.fsdecode(row["root"]))
        share = (row["part"], row["parts"])
        name = _stage_name(spec.name, inp.rel, *share)
        records, rows = 0, 0
        writer = BucketedWriter(os.path.join(staged, f"{name}.parquet"))
        for table in read_input(spec, inp, cache_dir=cache, max_pixels=_max_pixels(cfg), share=share):
            records += table.num_rows
            table = add_content_keys(run_row_stages(table, cfg), cfg.exact_dedup.num_buckets)
            rows += table.num_rows
            writer.write(table)
            report(counter, "curate/read", docs=table.num_rows)
        writer.close()
        write_json_atomic(
            os.path.join(staged, f"{name}.json"),
            {"source": spec.name, "rel": inp.rel, "share": list(share), "records": records, "rows": rows},
        )
        report(counter, "curate/read", units=1, nbytes=row["bytes"] // share[1])
        done.append(rows)
    return pa.table({"rows": pa.array(done, pa.int64())})


def _finish_bucket(
    batch: pa.Table, staged: list[str], out_dir: str, dedup: bool, survivor: SurvivorConfig, counter: Any
) -> pa.Table:
    """One bucket: its rows from every staged file, one survivor per content, its curated and rejects files."""
    bucket = batch["bucket"][0].as_py()
    parts = [t for path in staged if (t := read_bucket(path, bucket)) is not None]
    if not parts:
        return COUNT_SCHEMA.empty_table()
    group = pa.concat_tables(parts)
    group = dedup_group(group, survivor) if dedup else group
    counts = write_bucket(drop_keys(group), out_dir, bucket)
    report(counter, "curate/exact_dedup", units=1, docs=group.num_rows, nbytes=text_bytes(group))
    return counts


def _records_read(staged: str) -> dict[str, int]:
    read: dict[str, int] = {}
    for r in read_receipts(staged):
        read[r["source"]] = read.get(r["source"], 0) + r["records"]
    return read


def _size_and_mtime(path: str, timeout_s: float) -> tuple[int, int]:
    """What tells a changed input: size and modification time (size alone for objects on a store); for a
    directory (a repository), the bytes of its files and the latest change anywhere below it."""
    if is_remote(path):
        try:
            return remote_size(path), 0
        except FileNotFoundError:
            return 0, 0
    try:
        st = os.stat(path)
    except OSError:
        return 0, 0
    return tree_state(path, timeout_s) if os.path.isdir(path) else (st.st_size, st.st_mtime_ns)


def _input_items(cfg: RunConfig) -> list[dict[str, Any]]:
    # paths travel as bytes: a file name that is not UTF-8 cannot be an Arrow string
    items = [
        {
            "spec": i,
            "path": os.fsencode(f.path),
            "root": os.fsencode(f.root),
            "rel": f.rel,
            "bytes": size,
            "mtime_ns": mtime,
            "part": part,
            "parts": parts,
        }
        for i, f in expand_sources(cfg.sources, cfg.base_dir)
        for size, mtime in [_size_and_mtime(f.path, cfg.sources[i].list_timeout_s)]
        for parts in [_shares(cfg.sources[i], f.path, size)]
        for part in range(parts)
    ]
    if not any(is_remote(os.fsdecode(i["path"])) or os.path.exists(i["path"]) for i in items):
        raise UsageError(
            f"no input exists: {[s.paths for s in cfg.sources]} (relative paths start at the config's "
            f"folder {cfg.base_dir}); check the sources' paths"
        )
    return items


def _stage_inputs(
    cfg: RunConfig,
    items: list[dict[str, Any]],
    config_hash: str,
    staged: str,
    cache: str,
    progress: Progress,
    force: bool,
) -> list[str]:
    """Stage every input not staged yet with these settings into ``staged``; return the staged files."""
    resume_dir(staged, f"{config_hash}:{STAGED_LAYOUT}", force)
    todo = [
        i
        for i in items
        if not os.path.exists(
            os.path.join(staged, _stage_name(cfg.sources[i["spec"]].name, i["rel"], i["part"], i["parts"]) + ".json")
        )
    ]
    if len(todo) < len(items):
        log.info(
            "curate: %d of %d input files already staged by an earlier attempt, skipped",
            len(items) - len(todo),
            len(items),
        )
    with progress.step("curate/read", "files", len(todo), sum(i["bytes"] // i["parts"] for i in todo)):
        if todo:
            per_item(
                todo,
                _stage_files,
                specs=cfg.sources,
                cfg=cfg.curate,
                staged=staged,
                cache=cache,
                counter=progress.counter,
            ).materialize()
    return sorted(glob.glob(os.path.join(staged, "*.parquet")))


def _exact_dedup(cfg: RunConfig, out_dir: str, staged: list[str], progress: Progress) -> list[dict[str, Any]]:
    """Every staged row (code as files) judged in its content bucket, one task per bucket reading its row groups
    of the staged files: one survivor per content, buckets written."""
    buckets = cfg.curate.exact_dedup.num_buckets
    with progress.step("curate/exact_dedup", "buckets", buckets):
        if not staged:
            return []
        return per_item(
            [{"bucket": b} for b in range(buckets)],
            _finish_bucket,
            staged=staged,
            out_dir=out_dir,
            dedup=cfg.curate.exact_dedup.enabled,
            survivor=cfg.curate.survivor,
            counter=progress.counter,
        ).take_all()


def _dedup_passes(
    cfg: RunConfig, out_dir: str, staged: list[str], progress: Progress, cpus: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Exact and near dedup with code as files, then code's repository documents and their own near dedup
    (The Stack v2's file-level dedup, DeepSeek-Coder's repository level), then images; count rows, summaries."""
    curate, summaries = cfg.curate, {}
    counts = _exact_dedup(cfg, out_dir, staged, progress)
    near = curate.near_dedup if curate.near_dedup is not None and curate.near_dedup.enabled else None
    if near is not None:
        log.info("curate: near-duplicate removal (MinHash LSH)")
        with progress.step("curate/near_dedup"):
            result = run_near_dedup(out_dir, near, cfg.seed, cpus, curate.survivor)
        counts += result["counts"]
        summaries["near_dedup"] = result["summary"]
    if curate.repo_documents.enabled and any(s.name == "code" for s in cfg.sources):
        log.info("curate: repository documents from the surviving code files")
        with progress.step("curate/repo_documents"):
            counts += run_repo_documents(
                out_dir, curate.repo_documents, curate.exact_dedup.num_buckets, max(1, cpus), progress.counter
            )
        if near is not None and "code" not in near.skip_sources:
            others = sorted({s.name for s in cfg.sources} - {"code"})
            with progress.step("curate/repo_near_dedup"):
                result = run_near_dedup(
                    out_dir,
                    near.model_copy(update={"skip_sources": others}),
                    cfg.seed,
                    cpus,
                    curate.survivor,
                    stage="repo_near_dedup",
                )
            counts += result["counts"]
            summaries["repo_near_dedup"] = result["summary"]
    images = curate.image_dedup
    if images is not None and images.enabled:
        log.info("curate: image dedup (exact, perceptual hash LSH, frequent images)")
        with progress.step("curate/image_dedup"):
            result = run_image_dedup(out_dir, images, cpus)
        counts += result["counts"]
        summaries["image_dedup"] = result["summary"]
    if curate.decontam is not None:
        log.info("curate: decontamination against %s", ", ".join(s.task for s in curate.decontam.sets))
        with progress.step("curate/decontam"):
            result = run_decontam(cfg, out_dir, cpus)
        counts += result["counts"]
        summaries["decontam"] = result["summary"]
    if curate.quality is not None:
        log.info("curate: quality classifier (%s)", "training" if curate.quality.train else curate.quality.model)
        with progress.step("curate/quality"):
            result = run_quality(cfg, out_dir, cpus)
        counts += result["counts"]
        summaries["quality"] = result["summary"]
    return counts, summaries


def _acting(cfg: RunConfig) -> dict[str, list[str]]:
    """Per source name, the stages that can act on it: the rows of its funnel."""
    names = dict.fromkeys(spec.name for spec in cfg.sources)
    return {
        name: stages_acting_on(cfg.curate, name, any(carries_images(s) for s in cfg.sources if s.name == name))
        for name in names
    }


def run_curate(cfg: RunConfig, out_dir: str, progress: Progress, force: bool = False, cpus: int = 2) -> dict[str, Any]:
    """Run (or skip, when already done with these settings) the curation pass; return its stats."""
    items = _input_items(cfg)
    inputs = (
        [[i["spec"], i["rel"], i["bytes"], i["mtime_ns"]] for i in items if i["part"] == 0]
        + quality_inputs(cfg)
        + decontam_inputs(cfg)
    )
    config_hash = cfg.pass_hash("curate", inputs=inputs)
    if not force and (prev := done(out_dir, "curate", config_hash)):
        log.info("curate: already done with these settings and inputs, skipped")
        return prev["stats"]
    started = time.time()
    staged_dir = os.path.join(out_dir, "_staged")
    staged = _stage_inputs(cfg, items, config_hash, staged_dir, os.path.join(out_dir, "_cache"), progress, force)
    reset(os.path.join(out_dir, "curated"), os.path.join(out_dir, "rejects"), os.path.join(out_dir, "near_dedup"))
    shutil.rmtree(os.path.join(out_dir, "quality"), ignore_errors=True)  # a model and examples of an earlier attempt
    counts, summaries = _dedup_passes(cfg, out_dir, staged, progress, cpus)
    stats = build_stats(counts, _records_read(staged_dir), stage_order(cfg.curate), _acting(cfg))
    for name, summary in summaries.items():
        stats[name] = {k: v for k, v in summary.items() if k != "seconds"}
    stats["seconds"] = round(time.time() - started, 2)
    stats["timings"] = {k: v for k, v in progress.timings.items() if k.startswith("curate/")}
    if not stats["reconciled"]:
        raise RuntimeError(f"curation lost records: {json.dumps(stats['sources'])}")
    mark_done(
        out_dir,
        "curate",
        config_hash,
        {"stats": stats},
        [
            os.path.join(out_dir, d)
            for d in ("curated", "rejects", "quality")
            if os.path.isdir(os.path.join(out_dir, d))
        ],
    )
    shutil.rmtree(staged_dir, ignore_errors=True)  # the curated files replace it
    return stats
