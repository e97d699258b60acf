"""The quality step of the curation pass, after every dedup step: train the classifier (or take the user's),
score the documents in scope, cut each group's top fraction, then keep or move each document.

Every step is plain Ray tasks over files (jobs.ray_steps.per_item; the training examples over bundles of
files, per_bundle). The model is loaded once per worker process (pipeline.quality.scorer.load_scorer); each
scoring task reports its process and that process's load count, so the summary shows loads against workers.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.config import RunConfig
from jobs.ray_steps import TASKS_PER_CPU, per_bundle, per_item, trim_heap
from jobs.usage import UsageError
from pipeline.dedup.near_store import trim_signatures
from pipeline.quality import scorer as scorer_module
from pipeline.quality.apply import BINS, EXAMPLES, apply_selection, score_file
from pipeline.quality.config import QualityConfig
from pipeline.quality.examples import REFERENCE_SUFFIXES, reference_documents, run_documents
from pipeline.quality.select import low_score_reasons, score_ranges, tie_draw_limits, top_fraction_cuts
from pipeline.quality.train import document_examples, train_classifier

log = logging.getLogger("corpusmill")

QUALITY_DIR = "quality"
MIN_EXAMPLES = 10  # per class, as the trainer requires
SMALL_SET = 10_000  # examples per class under which a warning suggests more epochs (the sample: 700 at
# DCLM's settings gave a held-out ROC AUC of 0.85, at 25 epochs and lr 0.5 of 0.996)
SLACK = 1.25  # candidates drawn per example wanted: keys are uniform, so a few more than k almost always suffice


def reference_files(cfg: RunConfig, key: str, names: list[str]) -> list[str]:
    """The files among ``names`` (those that are not source names), resolved from the config's folder;
    anything else is a config error naming ``key``."""
    sources = {s.name for s in cfg.sources}
    out = []
    for name in names:
        if name in sources:
            continue
        found = sorted(glob.glob(os.path.join(cfg.base_dir, name)))
        if not found:
            raise UsageError(f"{key}: {name!r} is neither a source ({', '.join(sorted(sources))}) nor an existing file")
        bad = [f for f in found if not f.endswith(REFERENCE_SUFFIXES)]
        if bad:
            raise UsageError(f"{key}: {bad[0]} is not one of {', '.join(REFERENCE_SUFFIXES)}")
        out += found
    return out


def quality_inputs(cfg: RunConfig) -> list[list[Any]]:
    """What the pass hash must see of the quality step's own inputs: the model file's hash, or the
    reference files' sizes and change times (checked here, before any work)."""
    q = cfg.curate.quality
    if q is None:
        return []
    if q.model is not None:
        path = os.path.join(cfg.base_dir, q.model)
        if not os.path.isfile(path):
            raise UsageError(f"curate.quality.model: no file {path}")
        return [["quality_model", scorer_module.file_sha256(path)]]
    files = reference_files(cfg, "curate.quality.train.positives", q.train.positives)
    files += reference_files(cfg, "curate.quality.train.negatives", q.train.negatives)
    return [["quality_reference", f, os.path.getsize(f), os.stat(f).st_mtime_ns] for f in files]


def _training_items(cfg: RunConfig, out_dir: str) -> list[dict[str, Any]]:
    q, sources = cfg.curate.quality.train, {s.name for s in cfg.sources}
    items = []
    for positive, names in ((True, q.positives), (False, q.negatives)):
        key = "curate.quality.train." + ("positives" if positive else "negatives")
        for name in names:
            if name not in sources:
                continue
            kinds = ["curated"] + ([] if positive else ["rejects"])
            for kind in kinds:
                items += [
                    {"path": p, "kind": kind, "positive": positive}
                    for p in sorted(glob.glob(os.path.join(out_dir, kind, name, "*.parquet")))
                ]
        items += [{"path": p, "kind": "reference", "positive": positive} for p in reference_files(cfg, key, names)]
    return items


def _documents(item: dict[str, Any], text_field: str):
    if item["kind"] == "reference":
        return reference_documents(item["path"], text_field)
    return run_documents(item["path"], dropped_only=item["kind"] == "rejects")


def _examples(batch: pa.Table, seed: int, text_field: str, limit: int, cut: list[int] | None, out: str) -> pa.Table:
    """Per file of the bundle, its examples counted per class or, given the cut keys, those under them written
    to ``out``."""
    return pa.concat_tables([_file_examples(item, seed, text_field, limit, cut, out) for item in batch.to_pylist()])


def _file_examples(item: dict[str, Any], seed: int, text_field: str, limit: int, cut: list[int] | None, out: str):
    """One file's share of ``_examples``: a document at a time, so a large file is never held whole."""
    positive = item["positive"]
    count, keep = 0, []
    for doc_id, text in _documents(item, text_field):
        examples = document_examples(seed, positive, doc_id, text, limit)
        if cut is None:
            count += len(examples)
        else:
            keep += [(k, t) for k, t in examples if k < cut[int(positive)]]
    if cut is not None:
        name = hashlib.sha1(f"{positive}:{item['path']}".encode()).hexdigest()
        table = pa.table({"key": pa.array([k for k, _ in keep], pa.uint64()), "text": [t for _, t in keep]})
        pq.write_table(table, os.path.join(out, f"{int(positive)}-{name}.parquet"))
        count = len(keep)
    return pa.table({"positive": [positive], "examples": pa.array([count], pa.int64())})


def _per_class(rows: list[dict[str, Any]]) -> dict[bool, int]:
    totals = {True: 0, False: 0}
    for r in rows:
        totals[r["positive"]] += r["examples"]
    return totals


def _cuts_for(totals: dict[bool, int], k: int, widen: int) -> list[int]:
    """Per class (index: positive), the key under which to draw candidates: a little over k of N."""
    full = 2**64
    return [min(full, int(full * min(1.0, widen * (SLACK * k + 64) / max(totals[c], 1)))) for c in (False, True)]


def _train_task(batch: pa.Table, q: QualityConfig, seed: int, k: int, out_dir: str) -> pa.Table:
    pos, neg = [], []
    for path in sorted(glob.glob(os.path.join(batch["dir"][0].as_py(), "*.parquet"))):
        t = pq.read_table(path)
        (pos if os.path.basename(path).startswith("1-") else neg).extend(
            zip(t["key"].to_pylist(), t["text"].to_pylist())
        )
    pos, neg = sorted(pos)[:k], sorted(neg)[:k]
    result = train_classifier(pos, neg, q.train, (q.label, q.negative_label), q.lowercase, seed, out_dir)
    return pa.table({"result": [json.dumps(result)]})


def train_model(cfg: RunConfig, out_dir: str, cpus: int) -> dict[str, Any]:
    """Draw the balanced sample (counts, then candidates under a key cut, widened until each class has k),
    train in one task, write ``quality/model.bin`` and ``quality/model.json``; return the latter."""
    q, seed = cfg.curate.quality, cfg.seed
    items = _training_items(cfg, out_dir)
    work = os.path.join(out_dir, QUALITY_DIR, "_train")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    kw = {"seed": seed, "text_field": q.train.text_field, "limit": q.train.example_chars, "out": work}
    kw["parts"] = TASKS_PER_CPU * cpus
    totals = _per_class(per_bundle(items, _examples, cut=None, **kw).take_all()) if items else {True: 0, False: 0}
    k = min(totals[True], totals[False], q.train.max_examples_per_class)
    if k < MIN_EXAMPLES:
        raise UsageError(
            f"curate.quality.train: {totals[True]} positive and {totals[False]} negative examples found in "
            f"{q.train.positives} and {q.train.negatives}; at least {MIN_EXAMPLES} of each are needed"
        )
    log.info("quality: %d positive and %d negative examples; training on %d of each", totals[True], totals[False], k)
    if k < SMALL_SET and (q.train.epoch, q.train.lr) == (5, 0.1):
        log.warning(
            "quality: %d examples per class; DCLM's 5 epochs at lr 0.1 were set for ~200k and leave a small set "
            "near 0.5: consider curate.quality.train.epoch 25 and lr 0.5 (fastText's tutorial for small sets)",
            k,
        )
    widen = 1
    while True:
        drawn = _per_class(per_bundle(items, _examples, cut=_cuts_for(totals, k, widen), **kw).take_all())
        if min(drawn.values()) >= k or widen > 2**20:
            break
        widen *= 4  # an unlucky draw: fewer than k keys under the cut
        for f in glob.glob(os.path.join(work, "*.parquet")):
            os.remove(f)
    model_dir = os.path.join(out_dir, QUALITY_DIR)
    rows = per_item([{"dir": work}], _train_task, q=q, seed=seed, k=k, out_dir=model_dir).take_all()
    shutil.rmtree(work, ignore_errors=True)
    result = {**json.loads(rows[0]["result"]), "positives": totals[True], "negatives": totals[False]}
    result["settings"] = q.train.model_dump()
    with open(os.path.join(model_dir, "model.json"), "w") as f:  # the same bytes on a rerun: no timings
        json.dump({k: v for k, v in result.items() if k != "train_seconds"}, f, indent=2, sort_keys=True)
    return result


def _score_task(batch: pa.Table, root: str, scores_dir: str, model: tuple[str, str], q: QualityConfig) -> pa.Table:
    started = time.process_time()
    scorer = scorer_module.load_scorer(model[0], model[1], q.label, q.lowercase, q.fold_output_layer)
    parts = []
    for rel in batch["rel"].to_pylist():
        parts.append(score_file(os.path.join(root, rel), os.path.join(scores_dir, rel), scorer, q))
    trim_heap()
    dist = pa.concat_tables(parts)
    return pa.table(
        {
            "distribution": [
                json.dumps([dist["group"].to_pylist(), dist["score"].to_pylist(), dist["docs"].to_pylist()])
            ],
            "pid": [os.getpid()],
            "loads": [scorer_module.LOADS],
            "cpu_s": [time.process_time() - started],
        }
    )


def _select_task(
    batch: pa.Table,
    root: str,
    scores_dir: str,
    q: QualityConfig,
    cuts: dict[str, tuple[float, float]],
    ranges: dict[str, tuple[float, float]],
    seed: int,
) -> pa.Table:
    def decide(ids: list[str], groups: list[str], scores: np.ndarray) -> list[str | None]:
        return low_score_reasons(ids, groups, scores, q, cuts, seed)

    out = []
    for rel in batch["rel"].to_pylist():
        result = apply_selection(root, rel, os.path.join(scores_dir, rel), decide, ranges)
        trim_signatures(root, rel, pa.array(sorted(result.pop("dropped")), pa.string()))
        out.append(result)
    trim_heap()
    return pa.table({"result": [json.dumps(out)]})


def _model(cfg: RunConfig, out_dir: str, cpus: int) -> tuple[str, str, dict[str, Any]]:
    q = cfg.curate.quality
    if q.train is None:
        path = os.path.abspath(os.path.join(cfg.base_dir, q.model))
        return path, scorer_module.file_sha256(path), {}
    training = train_model(cfg, out_dir, cpus)
    return os.path.join(out_dir, QUALITY_DIR, "model.bin"), training["model_sha256"], training


def _scored_files(cfg: RunConfig, out_dir: str) -> list[str]:
    q = cfg.curate.quality
    names = sorted({s.name for s in cfg.sources if q.sources is None or s.name in q.sources})
    return [
        os.path.relpath(p, out_dir)
        for name in names
        for p in sorted(glob.glob(os.path.join(out_dir, "curated", name, "*.parquet")))
    ]


def run_quality(cfg: RunConfig, out_dir: str, cpus: int) -> dict[str, Any]:
    """The whole step; returns the count rows for stats.json and the step's summary."""
    q, started = cfg.curate.quality, time.time()
    path, sha, training = _model(cfg, out_dir, cpus)
    files = _scored_files(cfg, out_dir)
    scores_dir = os.path.join(out_dir, QUALITY_DIR, "_scores")
    shutil.rmtree(scores_dir, ignore_errors=True)
    items = [{"rel": rel} for rel in files]
    try:
        scored = per_item(items, _score_task, root=out_dir, scores_dir=scores_dir, model=(path, sha), q=q).take_all()
    except Exception as e:  # a model without the configured label: one line, not a task's traceback
        found = re.search(r"quality\.label: '[^\n]*", str(e))  # the message, not the source line in the traceback
        if found:
            raise UsageError(f"curate.{found.group()}") from None
        raise
    parts = [_distribution(r["distribution"]) for r in scored]
    cuts = top_fraction_cuts(parts, q.fraction) if q.select == "top_fraction" else {}
    cuts = tie_draw_limits(cuts, _tied(scores_dir, cuts), cfg.seed)
    ranges = score_ranges(parts)
    selected = per_item(
        items, _select_task, root=out_dir, scores_dir=scores_dir, q=q, cuts=cuts, ranges=ranges, seed=cfg.seed
    )
    results = [r for row in selected.take_all() for r in json.loads(row["result"])]
    shutil.rmtree(scores_dir, ignore_errors=True)
    summary = _summary(q, sha, training, cuts, scored, results)
    for g, entry in summary["groups"].items():
        entry["histogram_span"] = list(ranges.get(g, (0.0, 1.0)))
    _write_examples(out_dir, results)
    log.info("quality: %d scored, %d dropped (%.1f s)", summary["scored"], summary["dropped"], time.time() - started)
    return {"counts": [c for r in results for c in r["counts"]], "summary": summary}


def _tied(scores_dir: str, cuts: dict[str, tuple[float, float]]) -> dict[str, list[str]]:
    """Per group that keeps only part of the documents tied at its cut, their ids (from the scores files,
    three small columns; only the tied rows reach Python)."""
    partial = {g: c for g, (c, share) in cuts.items() if share < 1}
    tied: dict[str, list[str]] = {g: [] for g in partial}
    if not partial:
        return tied
    for path in sorted(glob.glob(os.path.join(scores_dir, "**", "*.parquet"), recursive=True)):
        t = pq.read_table(path)
        for g, cut in partial.items():
            tied[g] += t.filter(pc.and_(pc.equal(t["group"], g), pc.equal(t["score"], cut)))["id"].to_pylist()
    return tied


def _distribution(encoded: str) -> pa.Table:
    groups, scores, docs = json.loads(encoded)
    return pa.table(
        {
            "group": pa.array(groups, pa.string()),
            "score": pa.array(scores, pa.int64()),
            "docs": pa.array(docs, pa.int64()),
        }
    )


def _summary(
    q: QualityConfig,
    sha: str,
    training: dict[str, Any],
    cuts: dict[str, tuple[float, float]],
    scored: list[dict[str, Any]],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for r in results:
        for g, h in r["histogram"].items():
            entry = groups.setdefault(g, {"kept_histogram": [0] * BINS, "dropped_histogram": [0] * BINS})
            entry["kept_histogram"] = [a + b for a, b in zip(entry["kept_histogram"], h["kept"])]
            entry["dropped_histogram"] = [a + b for a, b in zip(entry["dropped_histogram"], h["dropped"])]
    for g, entry in groups.items():
        cut = cuts[g][0] if g in cuts else q.threshold if q.select == "threshold" else None
        entry.update(kept=sum(entry["kept_histogram"]), dropped=sum(entry["dropped_histogram"]), cut=cut)
        entry["scored"] = entry["kept"] + entry["dropped"]
    loads = {}
    for r in scored:  # a process's count only grows: its last report is its total
        loads[r["pid"]] = max(loads.get(r["pid"], 0), r["loads"])
    n = sum(g["scored"] for g in groups.values())
    keep = ("examples_per_class", "train_examples", "holdout_examples", "holdout_accuracy", "holdout_roc_auc")
    return {
        "model_sha256": sha,
        "trained": bool(training),
        "training": {k: training[k] for k in (*keep, "train_seconds") if k in training},
        "select": q.select,
        "scored": n,
        "dropped": sum(g["dropped"] for g in groups.values()),
        "groups": dict(sorted(groups.items())),
        "model_loads": sum(loads.values()),
        "worker_processes": len(loads),
        "docs_per_s_per_core": round(n / max(sum(r["cpu_s"] for r in scored), 1e-9), 1),
    }


def _write_examples(out_dir: str, results: list[dict[str, Any]]) -> None:
    """quality/examples.json: per group, the lowest-scored kept and highest-scored dropped documents."""
    kept: dict[str, list] = {}
    dropped: dict[str, list] = {}
    for r in results:
        for g, v in r["examples"]["kept"].items():
            kept[g] = sorted(kept.get(g, []) + v)[:EXAMPLES]
        for g, v in r["examples"]["dropped"].items():
            dropped[g] = sorted(dropped.get(g, []) + v, key=lambda e: (-e[0], e[1]))[:EXAMPLES]
    os.makedirs(os.path.join(out_dir, QUALITY_DIR), exist_ok=True)
    with open(os.path.join(out_dir, QUALITY_DIR, "examples.json"), "w") as f:
        json.dump(
            {"kept": dict(sorted(kept.items())), "dropped": dict(sorted(dropped.items()))},
            f,
            indent=1,
            ensure_ascii=False,
            sort_keys=True,
        )
