"""Outcome counts per block and the reconciled ``stats.json`` built from them.

Workers return small count tables (one row per source × status × stage × reason × rewrite);
the driver sums them. The number of records read comes separately, from the readers'
per-file receipts, so ``in == kept + dropped + quarantined`` is a check that can fail.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import CREATED_EVENT, DROPPED, KEPT, MERGED, QUARANTINED

EVENT = "event"  # a counted rewrite event; not an outcome, so it is left out of the reconciliation

COUNT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("language", pa.string()),  # what language ID gave the rows (null: not identified)
        ("status", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("docs", pa.int64()),
        ("chars", pa.int64()),
    ]
)


def moved_to_dropped(
    source: str, stage: str, reason: str, docs: int, chars: int, language: str | None = None
) -> list[dict[str, Any]]:
    """Count rows for documents a later pass takes out of ``curated/``: kept down, dropped up by the same."""
    where = {"source": source, "language": language}
    return [
        {**where, "status": KEPT, "stage": None, "reason": None, "docs": -docs, "chars": -chars},
        {**where, "status": DROPPED, "stage": stage, "reason": reason, "docs": docs, "chars": chars},
    ]


def identified_language(meta: str | None) -> str | None:
    """The language language ID wrote into a document's meta (None for code, whose meta ``language``
    is its programming language, and for rows it never judged)."""
    fields = json.loads(meta) if meta else {}
    return fields.get("language") if "language_score" in fields else None


def count_outcomes(table: pa.Table, chars: pa.ChunkedArray | pa.Array | None = None) -> pa.Table:
    """Docs and characters per (source, status, stage, reason); ``chars``, the rows' lengths when given (a row
    that no longer carries its text), else its text's.

    A rewrite counts once per changed document as status ``rewritten``; each ``stage:tag``
    event (an e-mail redacted, a line removed) counts as status ``event`` with the tag as reason.
    """
    lengths = pc.utf8_length(table["text"]).cast(pa.int64()) if chars is None else chars
    language = table["language"] if "language" in table.schema.names else pa.nulls(table.num_rows, pa.string())
    base = pa.table(
        {
            "source": table["source"],
            "language": language,
            "status": table["status"],
            "stage": table["stage"],
            "reason": table["reason"],
            "chars": lengths,
        }
    )
    grouped = base.group_by(["source", "language", "status", "stage", "reason"], use_threads=False).aggregate(
        [("chars", "count"), ("chars", "sum")]
    )
    rows = [
        {
            "source": r["source"],
            "language": r["language"],
            "status": r["status"],
            "stage": r["stage"],
            "reason": r["reason"],
            "docs": r["chars_count"],
            "chars": r["chars_sum"],
        }
        for r in sorted(grouped.to_pylist(), key=lambda r: str(list(r.values())))
    ]
    tally: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for source, rewrites, n in zip(table["source"].to_pylist(), table["rewrites"].to_pylist(), lengths.to_pylist()):
        for entry in rewrites or []:
            stage, _, tag = entry.partition(":")
            counter = tally[(source, EVENT if tag else "rewritten", stage, tag or None)]
            counter[0] += 1
            counter[1] += 0 if tag else n
    rows += [
        {"source": k[0], "status": k[1], "stage": k[2], "reason": k[3], "docs": v[0], "chars": v[1]}
        for k, v in sorted(tally.items(), key=str)
    ]
    return pa.Table.from_pylist(rows, schema=COUNT_SCHEMA)


def build_stats(
    counts: list[dict[str, Any]],
    records_read: dict[str, int],
    order: list[str],
    acting: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Per-source totals and a per-stage funnel; ``reconciled`` is false if any record went missing.

    Records merged into a built document (code files into their repository's) leave as ``merged``;
    the documents built count as ``created``: ``in - merged + created == kept + dropped + quarantined``.
    A source's funnel lists the stages of ``order`` that ``acting`` says can act on it (all when a
    source is not named there) and any other stage that did act on it: nothing is hidden.
    """
    total: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        key = (c["source"], c["status"], c["stage"], c["reason"])
        total[key][0] += c["docs"]
        total[key][1] += c["chars"]
    sources = sorted({k[0] for k in total} | set(records_read))
    per_source, funnel, reasons, events, ok = {}, [], [], [], True
    for src in sources:

        def n(status: str, stage: str | None = None, src: str = src) -> int:
            return sum(v[0] for k, v in total.items() if k[0] == src and k[1] == status and stage in (None, k[2]))

        def created(stage: str | None = None, src: str = src) -> int:
            return sum(
                v[0]
                for k, v in total.items()
                if k[0] == src and k[1] == EVENT and k[3] == CREATED_EVENT and stage in (None, k[2])
            )

        kept, dropped, quarantined, merged = n(KEPT), n(DROPPED), n(QUARANTINED), n(MERGED)
        read = records_read.get(src, 0)
        balanced = read - merged + created() == kept + dropped + quarantined
        ok &= balanced
        kept_chars = sum(v[1] for k, v in total.items() if k[0] == src and k[1] == KEPT)
        per_source[src] = {
            "in": read,
            "kept": kept,
            "dropped": dropped,
            "quarantined": quarantined,
            "kept_chars": kept_chars,
            "reconciled": balanced,
        }
        if merged or created():
            per_source[src].update(merged=merged, created=created())
        docs_in = read
        touched = {k[2] for k in total if k[0] == src}
        for stage in [s for s in order if acting is None or src not in acting or s in acting[src] or s in touched]:
            d, q, r = n(DROPPED, stage), n(QUARANTINED, stage), n("rewritten", stage)
            m, c = n(MERGED, stage), created(stage)
            removed = sum(
                v[1] for k, v in total.items() if k[0] == src and k[2] == stage and k[1] in (DROPPED, QUARANTINED)
            )
            step = {
                "source": src,
                "stage": stage,
                "in": docs_in,
                "dropped": d,
                "quarantined": q,
                "rewritten": r,
                "chars_removed": removed,
            }
            if m or c:
                step.update(merged=m, created=c)
            docs_in += c - d - q - m
            funnel.append(step | {"out": docs_in})
        ok &= docs_in == kept
    for (src, status, stage, reason), (docs, chars) in sorted(total.items(), key=lambda kv: str(kv[0])):
        if status in (DROPPED, QUARANTINED):
            reasons.append(
                {"source": src, "status": status, "stage": stage, "reason": reason, "docs": docs, "chars": chars}
            )
        elif status == EVENT and reason != CREATED_EVENT:
            events.append({"source": src, "stage": stage, "type": reason, "count": docs})
    totals = {
        key: sum(s.get(key, 0) for s in per_source.values())
        for key in ("in", "kept", "dropped", "quarantined", "merged", "created")
    }
    return {
        "reconciled": ok,
        "totals": totals,
        "sources": per_source,
        "funnel": funnel,
        "reasons": reasons,
        "rewrite_events": events,
        "languages": by_language(counts),
    }


def by_language(counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outcomes per (source, language that language ID gave), with the drop reasons of each.

    Only sources with at least one identified row are listed; their rows that never reached
    language ID (dropped before it) are ``language: null``, so each source's rows add up to its
    kept, dropped and quarantined totals. (Code has no row language: its meta's ``language`` is the
    programming language.)"""
    identified = {c["source"] for c in counts if c.get("language") is not None}
    table: dict[tuple, dict[str, Any]] = {}
    for c in counts:
        if c["source"] not in identified or c["status"] not in (KEPT, DROPPED, QUARANTINED):
            continue
        key = (c["source"], c.get("language"))
        row = table.setdefault(
            key,
            {"source": key[0], "language": key[1], KEPT: 0, DROPPED: 0, QUARANTINED: 0, "kept_chars": 0, "reasons": {}},
        )
        row[c["status"]] += c["docs"]
        if c["status"] == KEPT:
            row["kept_chars"] += c["chars"]
        else:
            name = (c["status"], c["stage"], c["reason"])
            row["reasons"][name] = row["reasons"].get(name, 0) + c["docs"]
    out = []
    for key in sorted(table, key=lambda k: (k[0], k[1] is None, k[1] or "")):
        row = table[key]
        row["reasons"] = [
            {"status": st, "stage": stage, "reason": reason, "docs": n}
            for (st, stage, reason), n in sorted(row["reasons"].items(), key=lambda kv: (-kv[1], str(kv[0])))
        ]
        out.append(row)
    return out
