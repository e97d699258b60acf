import itertools

import numpy as np

from pipeline.quality.metrics import accuracy, roc_auc


def _pairwise_auc(scores, positive):
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_equals_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = np.round(rng.random(60), 1)  # many ties
        positive = rng.random(60) < 0.4
        assert abs(roc_auc(scores, positive) - _pairwise_auc(scores, positive)) < 1e-12


def test_roc_auc_extremes_and_accuracy():
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0])) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([1, 1, 0, 0])) == 0.0
    assert np.isnan(roc_auc(np.array([0.5]), np.array([1])))
    assert accuracy(np.array([0.9, 0.4, 0.6, 0.1]), np.array([1, 1, 0, 0])) == 0.5
