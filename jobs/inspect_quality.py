"""``corpusmill inspect OUT --quality``: the best and the worst documents the quality classifier scored,
so a person can judge what its cut keeps and removes."""

from __future__ import annotations

import glob
import heapq
import json
import os

import pyarrow.parquet as pq

from jobs.usage import UsageError

SNIPPET = 160


def _scored(out_dir: str):
    """(score, status, source, id, language, text) of every scored document, kept or dropped for it."""
    kept = sorted(glob.glob(os.path.join(out_dir, "curated", "*", "*.parquet")))
    dropped = sorted(glob.glob(os.path.join(out_dir, "rejects", "*", "quality-*.parquet")))
    for status, paths in (("kept", kept), ("dropped", dropped)):
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024, columns=["id", "source", "text", "meta"]):
                for doc_id, source, text, meta in zip(
                    *(batch[c].to_pylist() for c in ("id", "source", "text", "meta"))
                ):
                    fields = json.loads(meta) if meta else {}
                    if "quality_score" in fields:
                        yield fields["quality_score"], status, source, doc_id, fields.get("language"), text


def _line(row: tuple) -> str:
    score, status, source, doc_id, language, text = row
    snippet = " ".join(text.split())[:SNIPPET]
    return f"{score:.6f}  {status:<7} {source}/{language or '-'}  {doc_id}\n    {snippet!r}"


def describe_quality(out_dir: str, n: int = 5) -> str:
    """The ``n`` highest- and lowest-scored documents, one line each with a snippet (repr: control characters
    and markup stay visible and inert)."""
    if not os.path.exists(os.path.join(out_dir, "quality")):
        raise UsageError(f"{out_dir} has no quality/ directory: its run had no quality step (curate.quality)")
    top: list[tuple] = []
    bottom: list[tuple] = []
    count = 0
    for row in _scored(out_dir):
        count += 1
        key = (row[0], row[3])
        heapq.heappush(top, (key, row)) if len(top) < n else heapq.heappushpop(top, (key, row))
        neg = ((-row[0], _Reverse(row[3])), row)
        heapq.heappush(bottom, neg) if len(bottom) < n else heapq.heappushpop(bottom, neg)
    best = [r for _, r in sorted(top, reverse=True)]
    worst = [r for _, r in sorted(bottom, reverse=True)]
    lines = [f"{count} documents scored", f"highest {len(best)}:"] + [_line(r) for r in best]
    lines += [f"lowest {len(worst)}:"] + [_line(r) for r in worst]
    return "\n".join(lines)


class _Reverse:
    """Orders strings backwards, so the lowest-score heap breaks ties by id like the highest-score one."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value
