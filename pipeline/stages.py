"""The per-row curation stages, in order, and how their outcomes are recorded.

A rewrite stage returns the same rows with new text; the rows whose text changed get the
stage's name in ``rewrites``. A filter stage returns the rows with a ``drop_reason`` column;
rows with a reason leave with status ``dropped``. Only rows still ``kept`` enter a stage.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from pipeline.clean import CleanConfig, LengthConfig, clean, min_length
from pipeline.exact_dedup import ExactDedupConfig
from pipeline.schema import DROPPED, KEPT

StageFn = Callable[[pa.Table], pa.Table]


class CurateConfig(BaseModel):
    clean: CleanConfig = Field(default_factory=CleanConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    exact_dedup: ExactDedupConfig = Field(default_factory=ExactDedupConfig)


def row_stages(cfg: CurateConfig) -> list[tuple[str, str, StageFn]]:
    """``(name, kind, fn)`` for each per-row stage, in the order they run."""
    return [
        ("clean", "rewrite", lambda t: clean(t, cfg.clean)),
        ("min_length", "filter", lambda t: min_length(t, cfg.length)),
    ]


def stage_order(cfg: CurateConfig) -> list[str]:
    """Every stage a record can leave at, in order: what stats.json reconciles along."""
    return ["read"] + [name for name, _, _ in row_stages(cfg)] + (["exact_dedup"] if cfg.exact_dedup.enabled else [])


def _apply(table: pa.Table, name: str, kind: str, fn: StageFn) -> pa.Table:
    out = fn(table)
    if kind == "rewrite":
        changed = pc.not_equal(out["text"], table["text"]).to_pylist()
        rewrites = [r + [name] if c else r for r, c in zip(out["rewrites"].to_pylist(), changed)]
        return out.set_column(out.schema.get_field_index("rewrites"), "rewrites",
                              pa.array(rewrites, pa.list_(pa.string())))
    reason = out["drop_reason"]
    out = out.drop_columns(["drop_reason"])
    dropped = pc.is_valid(reason)
    for col, value in (("status", pa.scalar(DROPPED)), ("stage", pa.scalar(name)), ("reason", reason)):
        merged = pc.if_else(dropped, value, out[col])
        out = out.set_column(out.schema.get_field_index(col), col, merged.cast(pa.string()))
    return out


def run_row_stages(table: pa.Table, cfg: CurateConfig) -> pa.Table:
    """Run every per-row stage on the rows still kept; the others pass through untouched."""
    for name, kind, fn in row_stages(cfg):
        live = pc.equal(table["status"], KEPT)
        kept, out = table.filter(live), table.filter(pc.invert(live))
        if kept.num_rows:
            kept = _apply(kept, name, kind, fn)
        table = pa.concat_tables([kept, out]) if out.num_rows else kept
    return table
