"""Outcome counts per block and the reconciled ``stats.json`` built from them.

Workers return small count tables (one row per source × status × stage × reason × rewrite);
the driver sums them. The number of records read comes separately, from the readers'
per-file receipts, so ``in == kept + dropped + quarantined`` is a check that can fail.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import DROPPED, KEPT, QUARANTINED

COUNT_SCHEMA = pa.schema([("source", pa.string()), ("status", pa.string()), ("stage", pa.string()),
                          ("reason", pa.string()), ("docs", pa.int64()), ("chars", pa.int64())])


def count_outcomes(table: pa.Table) -> pa.Table:
    """Docs and characters per (source, status, stage, reason); rewrites counted as status ``rewritten``."""
    lengths = pc.utf8_length(table["text"]).cast(pa.int64())
    base = pa.table({"source": table["source"], "status": table["status"], "stage": table["stage"],
                     "reason": table["reason"], "chars": lengths})
    grouped = base.group_by(["source", "status", "stage", "reason"], use_threads=False).aggregate(
        [("chars", "count"), ("chars", "sum")])
    rows = [{"source": r["source"], "status": r["status"], "stage": r["stage"], "reason": r["reason"],
             "docs": r["chars_count"], "chars": r["chars_sum"]} for r in grouped.to_pylist()]
    for source, rewrites, n in zip(table["source"].to_pylist(), table["rewrites"].to_pylist(), lengths.to_pylist()):
        rows += [{"source": source, "status": "rewritten", "stage": s, "reason": None, "docs": 1, "chars": n}
                 for s in rewrites or []]
    return pa.Table.from_pylist(rows, schema=COUNT_SCHEMA)


def build_stats(counts: list[dict[str, Any]], records_read: dict[str, int], order: list[str]) -> dict[str, Any]:
    """Per-source totals and a per-stage funnel; ``reconciled`` is false if any record went missing."""
    total: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        key = (c["source"], c["status"], c["stage"], c["reason"])
        total[key][0] += c["docs"]
        total[key][1] += c["chars"]
    sources = sorted({k[0] for k in total} | set(records_read))
    per_source, funnel, reasons, ok = {}, [], [], True
    for src in sources:
        def n(status: str, stage: str | None = None, src: str = src) -> int:
            return sum(v[0] for k, v in total.items() if k[0] == src and k[1] == status and stage in (None, k[2]))
        kept, dropped, quarantined = n(KEPT), n(DROPPED), n(QUARANTINED)
        read = records_read.get(src, 0)
        balanced = read == kept + dropped + quarantined
        ok &= balanced
        kept_chars = sum(v[1] for k, v in total.items() if k[0] == src and k[1] == KEPT)
        per_source[src] = {"in": read, "kept": kept, "dropped": dropped, "quarantined": quarantined,
                           "kept_chars": kept_chars, "reconciled": balanced}
        docs_in = read
        for stage in order:
            d, q, r = n(DROPPED, stage), n(QUARANTINED, stage), n("rewritten", stage)
            funnel.append({"source": src, "stage": stage, "in": docs_in, "dropped": d, "quarantined": q,
                           "rewritten": r, "out": docs_in - d - q})
            docs_in -= d + q
        ok &= docs_in == kept
    for (src, status, stage, reason), (docs, chars) in sorted(total.items(), key=lambda kv: str(kv[0])):
        if status in (DROPPED, QUARANTINED):
            reasons.append({"source": src, "status": status, "stage": stage, "reason": reason,
                            "docs": docs, "chars": chars})
    totals = {key: sum(s[key] for s in per_source.values()) for key in ("in", "kept", "dropped", "quarantined")}
    return {"reconciled": ok, "totals": totals, "sources": per_source, "funnel": funnel, "reasons": reasons}
