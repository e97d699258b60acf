"""Which scored documents the quality stage keeps: by threshold, by top fraction per group, or by
GPT-3's Pareto sampling. Every rule depends only on a document's score, id, group and the run's seed,
so the kept set does not depend on how the work was split."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.quality.config import QualityConfig
from pipeline.quality.scorer import SCORE_DIGITS

MICRO = 10**SCORE_DIGITS  # scores as integers: exact counting of a group's distribution
DISTRIBUTION_SCHEMA = pa.schema([("group", pa.string()), ("score", pa.int64()), ("docs", pa.int64())])


def group_of(source: str, language: str | None, per_language: bool) -> str:
    """The group a top fraction is taken in: a source, or a source and language ID's language."""
    return f"{source}/{language or 'unknown'}" if per_language else source


def distribution(groups: list[str], scores: np.ndarray) -> pa.Table:
    """Documents per (group, score in millionths): what a top fraction's cut is computed from."""
    t = pa.table({"group": pa.array(groups, pa.string()), "score": np.rint(scores * MICRO).astype(np.int64)})
    counted = t.group_by(["group", "score"], use_threads=False).aggregate([("score", "count")])
    return counted.rename_columns(["group", "score", "docs"]).cast(DISTRIBUTION_SCHEMA)


def top_fraction_cuts(parts: list[pa.Table], fraction: float) -> dict[str, tuple[float, float]]:
    """Per group, the lowest score kept and the share of the documents tied at it that stay, so that the
    best ``fraction`` of its documents are kept: a classifier sure that 115 of 235 Chinese pages are not
    books gives them all its floor score, and keeping every tie kept all 235."""
    if not parts:
        return {}
    merged = pa.concat_tables(parts).group_by(["group", "score"], use_threads=False).aggregate([("docs", "sum")])
    cuts: dict[str, tuple[float, float]] = {}
    for group in sorted(set(merged["group"].to_pylist())):
        t = merged.filter(pc.equal(merged["group"], group)).sort_by([("score", "descending")])
        docs = t["docs_sum"].to_numpy()
        counts = np.cumsum(docs)
        wanted = max(1, math.ceil(fraction * int(counts[-1]) - 1e-9))
        at = int(np.searchsorted(counts, wanted))
        above = int(counts[at] - docs[at])
        cuts[group] = (t["score"][at].as_py() / MICRO, (wanted - above) / int(docs[at]))
    return cuts


def tie_draw_limits(
    cuts: dict[str, tuple[float, float]], tied: dict[str, list[str]], seed: int
) -> dict[str, tuple[float, float]]:
    """The cuts with, in place of each share of tied documents to keep, the draw under which exactly that
    many of them stay (``tied``: per group whose share is under 1, the ids scored at its cut)."""
    out = dict(cuts)
    for group, ids in tied.items():
        cut, share = cuts[group]
        draws = sorted(_draw(seed, "tie", i) for i in ids)
        keep = round(share * len(draws))
        out[group] = (cut, draws[keep - 1] if keep else -1.0)
    return out


def _draw(seed: int, salt: str, doc_id: str) -> float:
    """A document's own uniform draw in (0, 1): the same whatever the order or the split of the work."""
    return (xxhash.xxh3_64_intdigest(f"{seed}\x00{salt}\x00{doc_id}".encode()) + 0.5) / 2.0**64


def pareto_draw(seed: int, doc_id: str, alpha: float) -> float:
    """numpy's ``pareto(alpha)`` (Lomax) from the document's own uniform draw: (1 - u)^(-1/alpha) - 1."""
    return (1.0 - _draw(seed, "quality", doc_id)) ** (-1.0 / alpha) - 1.0


def low_score_reasons(
    ids: list[str],
    groups: list[str],
    scores: np.ndarray,
    cfg: QualityConfig,
    cuts: dict[str, tuple[float, float]],
    seed: int,
) -> list[str | None]:
    """``None`` for a kept document, else the drop's detail: the score and the rule it failed."""
    out: list[str | None] = []
    for doc_id, group, score in zip(ids, groups, scores.tolist()):
        if cfg.select == "threshold":
            out.append(None if score >= cfg.threshold else f"score {score:.6f} < threshold {cfg.threshold:.6f}")
        elif cfg.select == "top_fraction":
            cut, limit = cuts[group]  # limit: the highest draw a document tied at the cut stays with
            if score > cut or (score == cut and (limit >= 1 or _draw(seed, "tie", doc_id) <= limit)):
                out.append(None)
            elif score == cut:  # tied at the cut, past the fraction: a seeded draw decides which ties stay
                out.append(f"score {score:.6f} tied at the cut of {group}, past its top {cfg.fraction:g}")
            else:
                out.append(f"score {score:.6f} < {cut:.6f}, the top {cfg.fraction:g} of {group}")
        else:
            draw = pareto_draw(seed, doc_id, cfg.pareto_alpha)
            out.append(None if draw > 1.0 - score else f"score {score:.6f}: pareto draw {draw:.6f} <= {1 - score:.6f}")
    return out


def score_ranges(parts: list[pa.Table]) -> dict[str, tuple[float, float]]:
    """Per group, its lowest and highest score: the span a histogram of the group is drawn over."""
    if not parts:
        return {}
    merged = (
        pa.concat_tables(parts).group_by("group", use_threads=False).aggregate([("score", "min"), ("score", "max")])
    )
    return {
        g: (lo / MICRO, hi / MICRO)
        for g, lo, hi in zip(
            merged["group"].to_pylist(), merged["score_min"].to_pylist(), merged["score_max"].to_pylist()
        )
    }
