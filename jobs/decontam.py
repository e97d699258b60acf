"""The decontamination step of the curation pass, after every dedup step and before the quality classifier:
index the evaluation sets once on the driver, put the index in the object store, and scan every curated
file of the sources in scope, in bundles of about equal text (jobs.ray_steps.file_bundles)."""

from __future__ import annotations

import glob
import logging
import os
import time
from typing import Any

import pyarrow as pa
import ray

from jobs.config import RunConfig
from jobs.ray_steps import TASKS_PER_CPU, file_bundles, per_item, trim_heap
from jobs.usage import UsageError
from pipeline.decontam.apply import decontaminate_file
from pipeline.decontam.common import common_grams, count_file, merge_counts
from pipeline.decontam.config import DecontamConfig
from pipeline.decontam.eval_sets import load_items
from pipeline.decontam.index import DecontamIndex, build_index
from pipeline.dedup.near_store import trim_signatures
from pipeline.quality.scorer import file_sha256

log = logging.getLogger("corpusmill")


def _set_path(cfg: RunConfig, path: str) -> str:
    return os.path.abspath(os.path.join(cfg.base_dir, path))


def decontam_inputs(cfg: RunConfig) -> list[list[Any]]:
    """The evaluation sets as the pass hash sees them (a file's sha256; a directory's files'), checked here,
    before any work: a missing set is a config error naming it."""
    d = cfg.curate.decontam
    if d is None:
        return []
    out = []
    for i, s in enumerate(d.sets):
        path = _set_path(cfg, s.path)
        if os.path.isfile(path):
            out.append(["decontam_set", s.task, file_sha256(path)])
        elif os.path.isdir(path):
            files = sorted(glob.glob(os.path.join(path, "**", "*"), recursive=True))
            out.append(
                [
                    "decontam_set",
                    s.task,
                    [[os.path.relpath(f, path), file_sha256(f)] for f in files if os.path.isfile(f)],
                ]
            )
        else:
            raise UsageError(f"curate.decontam.sets.{i}.path: no file or directory {path}")
    return out


def _index(cfg: RunConfig) -> tuple[DecontamIndex, dict[str, int]]:
    d = cfg.curate.decontam
    items, sizes = [], {}
    for s in d.sets:
        try:
            found = load_items(s, _set_path(cfg, s.path))
        except ValueError as e:
            raise UsageError(str(e)) from None
        sizes[s.task] = len(found)
        items += found
    return build_index(items, d), sizes


def _index_of(index_ref: Any) -> DecontamIndex:
    return ray.get(index_ref[0]) if isinstance(index_ref, list) else index_ref


def _scan_task(batch: pa.Table, root: str, index_ref: Any, d: DecontamConfig) -> pa.Table:
    import json

    index, out = _index_of(index_ref), []
    for rel in batch["rels"][0].as_py():
        result = decontaminate_file(root, rel, index, d)
        trim_signatures(root, rel, pa.array(sorted(result.pop("dropped")), pa.string()))
        out.append(result)
    trim_heap()
    return pa.table({"result": [json.dumps(out)]})


def _count_task(batch: pa.Table, root: str, index_ref: Any, d: DecontamConfig) -> pa.Table:
    import json

    index = _index_of(index_ref)
    out = [[rel, count_file(root, rel, index, d)] for rel in batch["rels"][0].as_py()]
    trim_heap()
    return pa.table({"result": [json.dumps(out)]})


def _bundles(files: list[str], out_dir: str, cpus: int) -> list[dict[str, list[str]]]:
    """Task inputs: the files (relative to ``out_dir``) in bundles of about equal text, in file order."""
    paths = [os.path.join(out_dir, f) for f in files]
    return [{"rels": [os.path.relpath(p, out_dir) for p in b]} for b in file_bundles(paths, TASKS_PER_CPU * cpus)]


def _without_common(
    index: DecontamIndex, files: list[str], out_dir: str, d: DecontamConfig, cpus: int
) -> tuple[DecontamIndex, list[str], dict[str, Any]]:
    """GPT-3's rule: count each indexed n-gram's documents in a first scan, then leave out the common ones.
    Returns the index without them, the files that still hold a hit (only those are rewritten), and what was
    left out for the summary."""
    import json

    rows = per_item(_bundles(files, out_dir, cpus), _count_task, root=out_dir, index_ref=[ray.put(index)], d=d)
    per_file = [r for row in rows.take_all() for r in json.loads(row["result"])]
    total = merge_counts([grams for _, grams in per_file])
    common = common_grams(total, d.common_documents)
    ignored = {(k, h) for k, hs in common.items() for h in hs.tolist()}
    hit_files = sorted(rel for rel, grams in per_file if any((k, h) not in ignored for k, h, *_ in grams))
    listed = sorted((-v[0], v[2], index.items[v[1]]) for key, v in total.items() if key in ignored)
    report = {
        "common_documents": d.common_documents,
        "common_ngrams": len(ignored),
        "common_examples": [
            {"ngram": gram, "task": task, "item": item, "documents": -docs} for docs, gram, (task, item) in listed[:20]
        ],
    }
    return index.without(common), hit_files, report


def run_decontam(cfg: RunConfig, out_dir: str, cpus: int) -> dict[str, Any]:
    """The whole step; returns the count rows for stats.json and the step's summary."""
    import json

    d, started = cfg.curate.decontam, time.time()
    index, sizes = _index(cfg)
    names = sorted({s.name for s in cfg.sources if d.sources is None or s.name in d.sources})
    files = [
        os.path.relpath(p, out_dir)
        for name in names
        for p in sorted(glob.glob(os.path.join(out_dir, "curated", name, "*.parquet")))
    ]
    common: dict[str, Any] = {"common_documents": None, "common_ngrams": 0, "common_examples": []}
    scanned = index
    if d.common_documents is not None and files:
        scanned, files, common = _without_common(index, files, out_dir, d, cpus)
    results = []
    if files:
        ref = [ray.put(scanned)]  # once in the object store; every task maps the same copy
        rows = per_item(_bundles(files, out_dir, cpus), _scan_task, root=out_dir, index_ref=ref, d=d).take_all()
        results = [r for row in rows for r in json.loads(row["result"])]
    summary = {**_summary(d, index, sizes, results), **common}
    summary["seconds"] = round(time.time() - started, 2)
    log.info("decontam: %s", {k: v for k, v in summary.items() if k not in ("tasks", "common_examples")})
    return {"counts": [c for r in results for c in r["counts"]], "summary": summary}


def _summary(d: DecontamConfig, index: DecontamIndex, sizes: dict[str, int], results: list[dict]) -> dict[str, Any]:
    tasks: dict[str, dict[str, Any]] = {
        t: {"items": n, "items_indexed": index.indexed.get(t, 0), "items_found": 0, "documents": {}}
        for t, n in sizes.items()
    }
    found: dict[str, set] = {t: set() for t in sizes}
    for r in results:
        for task, v in r["tasks"].items():
            found[task].update(v["items"])
            docs = tasks[task]["documents"]
            docs[r["source"]] = docs.get(r["source"], 0) + v["documents"]
    for task in tasks:
        tasks[task]["items_found"] = len(found[task])
        tasks[task]["found_item_ids"] = sorted(found[task])[:50]
    by_source: dict[str, int] = {}
    for r in results:  # documents dropped, or rewritten when redacted
        n = sum(c["docs"] for c in r["counts"] if c["status"] in ("dropped", "rewritten") and c["stage"] == "decontam")
        by_source[r["source"]] = by_source.get(r["source"], 0) + n
    return {
        "rule": d.rule,
        "n": d.gram,
        "mode": d.mode,
        "indexed_ngrams": int(sum(len(k) for k in index.keys.values())),
        "tasks": tasks,
        "documents": dict(sorted(by_source.items())),
    }
