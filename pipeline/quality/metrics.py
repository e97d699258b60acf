"""Held-out metrics of a binary classifier's scores, with numpy only."""

from __future__ import annotations

import numpy as np


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half):
    the Mann-Whitney U statistic over the product of the class sizes."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values, inverse = np.unique(scores, return_inverse=True)
    counts = np.bincount(inverse)
    # average rank (1-based) of each distinct value
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0
    ranks = average[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def accuracy(scores: np.ndarray, positive: np.ndarray, cut: float = 0.5) -> float:
    return float(np.mean((scores >= cut) == positive.astype(bool))) if len(scores) else float("nan")
