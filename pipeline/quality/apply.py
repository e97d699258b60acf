"""The quality stage on one curated file: score its documents in scope, then keep or move each to rejects.

Scoring and selecting are two steps because a top fraction is cut over a whole group, which no single
file sees. Both stream the file a batch at a time; the scores file lists the scored rows in file order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.accounting import identified_language, moved_to_dropped
from pipeline.curated_io import RowGroupWriter, reject_rows
from pipeline.quality.config import QualityConfig
from pipeline.quality.select import DISTRIBUTION_SCHEMA, distribution, group_of

STAGE, REASON = "quality", "low_score"
BATCH = 256  # documents scored at once
SCORES_SCHEMA = pa.schema([("id", pa.string()), ("group", pa.string()), ("score", pa.float64())])
BINS = 20  # the report's histogram bins over each group's span of scores
EXAMPLES = 3  # per group: the lowest-scored kept and highest-scored dropped documents
EXAMPLE_CHARS = 400


def score_file(path: str, scores_path: str, score: Callable[[list[str]], np.ndarray], cfg: QualityConfig) -> pa.Table:
    """Score the file's documents in scope into ``scores_path``; return their distribution per group."""
    out, parts = RowGroupWriter(scores_path), []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["id", "source", "text", "meta"]):
        t = pa.Table.from_batches([batch])
        languages = [identified_language(m) for m in t["meta"].to_pylist()]  # each meta parsed once
        if cfg.languages is not None:
            scope = [lang in cfg.languages for lang in languages]
            t = t.filter(pa.array(scope, pa.bool_()))
            languages = [lang for lang, keep in zip(languages, scope) if keep]
        if not t.num_rows:
            continue
        groups = [group_of(s, lang, cfg.per_language) for s, lang in zip(t["source"].to_pylist(), languages)]
        scores = score(t["text"].to_pylist())
        out.write(pa.table([t["id"], pa.array(groups, pa.string()), pa.array(scores, pa.float64())], SCORES_SCHEMA))
        parts.append(distribution(groups, scores))
    out.close()
    return pa.concat_tables(parts) if parts else DISTRIBUTION_SCHEMA.empty_table()


def _with_score(meta: str | None, score: float) -> str:
    fields = json.loads(meta) if meta else {}
    fields["quality_score"] = score
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


Decide = Callable[[list[str], list[str], np.ndarray], list[str | None]]


def apply_selection(
    root: str, curated_rel: str, scores_path: str, decide: Decide, ranges: dict[str, tuple[float, float]]
) -> dict[str, Any]:
    """Write each scored document's ``quality_score`` into its meta, move those ``decide`` rejects to
    ``rejects/<source>/quality-<file>``; return count rows, the dropped ids, a histogram per group over its
    span of scores (``ranges``: a cut inside one bin of [0, 1] is still seen) and examples."""
    scored = pq.read_table(scores_path)
    ids, groups, scores = scored["id"].to_pylist(), scored["group"].to_pylist(), scored["score"].to_numpy()
    details = decide(ids, groups, scores)
    verdict = {i: (g, s, d) for i, g, s, d in zip(ids, groups, scores.tolist(), details)}
    source, name = os.path.normpath(curated_rel).split(os.sep)[-2:]
    path = os.path.join(root, curated_rel)
    curated = RowGroupWriter(path + ".new")
    rejects = RowGroupWriter(os.path.join(root, "rejects", source, f"{STAGE}-{name}"))
    moved: dict[str | None, list[int]] = {}
    report = _Report(ranges)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        row_ids = t["id"].to_pylist()
        metas = [_with_score(m, verdict[i][1]) if i in verdict else m for i, m in zip(row_ids, t["meta"].to_pylist())]
        t = t.set_column(t.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string()))
        drop = pa.array([i in verdict and verdict[i][2] is not None for i in row_ids], pa.bool_())
        curated.write(t.filter(pc.invert(drop)))
        gone = t.filter(drop)
        for row_id, text in zip(row_ids, t["text"].to_pylist()):
            if row_id in verdict:
                report.add(verdict[row_id], text)
        for meta, n in zip(gone["meta"].to_pylist(), pc.utf8_length(gone["text"]).to_pylist()):
            total = moved.setdefault(identified_language(meta), [0, 0])
            total[0], total[1] = total[0] + 1, total[1] + n
        rejects.write(reject_rows(gone, STAGE, REASON, [verdict[i][2] for i in gone["id"].to_pylist()]))
    curated.close()
    rejects.close()
    os.replace(path + ".new", path) if curated.rows else os.remove(path)
    counts = [
        row
        for language, (n, chars) in sorted(moved.items(), key=str)
        for row in moved_to_dropped(source, STAGE, REASON, n, chars, language)
    ]
    dropped = [i for i, d in zip(ids, details) if d is not None]
    return {"counts": counts, "dropped": dropped, **report.result()}


def bin_of(score: float, lo: float, hi: float) -> int:
    """The bin of ``score`` among BINS equal bins over [lo, hi] (the last one closed)."""
    if hi <= lo:
        return 0
    return min(max(int((score - lo) / (hi - lo) * BINS), 0), BINS - 1)


class _Report:
    """A file's score histogram per group (kept and dropped) and its documents nearest the cut."""

    def __init__(self, ranges: dict[str, tuple[float, float]]) -> None:
        self.ranges = ranges
        self.bins: dict[str, np.ndarray] = {}
        self.kept: dict[str, list[tuple[float, str, str]]] = {}
        self.dropped: dict[str, list[tuple[float, str, str]]] = {}

    def add(self, verdict: tuple[str, float, str | None], text: str) -> None:
        group, score, detail = verdict
        row = self.bins.setdefault(group, np.zeros((2, BINS), np.int64))
        row[int(detail is not None), bin_of(score, *self.ranges.get(group, (0.0, 1.0)))] += 1
        snippet = text[:EXAMPLE_CHARS]
        if detail is None:  # the lowest-scored kept documents
            self.kept.setdefault(group, []).append((score, snippet, ""))
            self.kept[group] = sorted(self.kept[group])[:EXAMPLES]
        else:  # the highest-scored dropped documents
            self.dropped.setdefault(group, []).append((-score, snippet, detail))
            self.dropped[group] = sorted(self.dropped[group])[:EXAMPLES]

    def result(self) -> dict[str, Any]:
        return {
            "histogram": {g: {"kept": b[0].tolist(), "dropped": b[1].tolist()} for g, b in self.bins.items()},
            "examples": {
                "kept": {g: [[s, t] for s, t, _ in v] for g, v in self.kept.items()},
                "dropped": {g: [[-s, t] for s, t, _ in v] for g, v in self.dropped.items()},
            },
        }
