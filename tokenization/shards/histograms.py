"""Fixed-bin histograms for the run report: tasks count into the same bins, so the driver merges
them by adding lists, whatever the number of tasks, and the result does not depend on it."""

from __future__ import annotations

from typing import Any

import numpy as np

LOG2_BINS = 41  # [0, 1), [1, 2), [2, 4), ..., [2**39, 2**40): lengths in chars or tokens
FILL_BINS = 20  # 5 % steps of a packed row


def log2_edges() -> list[float]:
    return [0.0] + [float(2**k) for k in range(LOG2_BINS)]


def fill_edges() -> list[float]:
    return [round(i / FILL_BINS, 2) for i in range(FILL_BINS + 1)]


def log2_counts(values: np.ndarray) -> list[int]:
    """Counts of ``values`` (non-negative ints) per power-of-two bin."""
    values = np.asarray(values, np.int64)
    bins = np.zeros(len(values), np.int64)
    positive = values > 0
    bins[positive] = np.floor(np.log2(values[positive])).astype(np.int64) + 1
    return np.bincount(np.minimum(bins, LOG2_BINS - 1), minlength=LOG2_BINS).tolist()


def fill_counts(fills: np.ndarray) -> list[int]:
    """Counts of row fills (0..1) per 5 % bin; a full row counts in the last bin."""
    bins = np.minimum((np.asarray(fills, np.float64) * FILL_BINS).astype(np.int64), FILL_BINS - 1)
    return np.bincount(bins, minlength=FILL_BINS).tolist()


def merge(into: dict[str, list[int]], counts: dict[str, list[int]]) -> None:
    """Add per-series counts into ``into`` (series → bin counts)."""
    for series, c in counts.items():
        total = into.setdefault(series, [0] * len(c))
        for i, n in enumerate(c):
            total[i] += n


def histogram(unit: str, edges: list[float], counts: dict[str, list[int]]) -> dict[str, Any]:
    """The stats.json form: bin i counts values in [edges[i], edges[i + 1])."""
    return {"unit": unit, "edges": edges, "counts": dict(sorted(counts.items()))}
