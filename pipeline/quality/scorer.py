"""A fastText classifier's score for each document: the probability of one label.

The model is loaded once per process and kept (``load_scorer``): a Ray worker scores every block it is
given with the same copy. ``LOADS`` counts loads in this process so a job can show it.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np

from pipeline.quality.model_text import model_line

LOADS = 0  # models loaded by this process

SCORE_DIGITS = 6  # scores are rounded so that outputs are byte-stable


ROWS_AT_ONCE = 1 << 16  # input rows folded at once: bounds the float64 temporary


def fold_output_layer(model) -> bool:
    """Fold the output layer into the input rows: fastText's score is softmax(B · mean(A[ids])), and B is
    linear, so mean((A·Bᵀ)[ids]) gives the same logits from rows of len(labels) floats instead of dim.
    Scoring then adds 2 floats per word instead of 100 (about twice as fast) and the model takes a fiftieth
    of the memory; the float32 sums run in another order, so scores move by float rounding (up to 1.5e-5
    on long pages of a confident model): opt-in (``quality.fold_output_layer``).
    Not for quantized models, or when the labels are not fewer than the dimensions. Returns whether folded."""
    if model.f.isQuant():
        return False
    inputs = np.asarray(model.f.getInputMatrix())
    outputs = np.asarray(model.f.getOutputMatrix()).astype(np.float64)
    if outputs.shape[0] >= inputs.shape[1]:
        return False
    folded = np.empty((inputs.shape[0], outputs.shape[0]), np.float32)
    for start in range(0, inputs.shape[0], ROWS_AT_ONCE):
        folded[start : start + ROWS_AT_ONCE] = inputs[start : start + ROWS_AT_ONCE].astype(np.float64) @ outputs.T
    del inputs
    model.set_matrices(folded, np.eye(outputs.shape[0], dtype=np.float32))
    return True


class FastTextScorer:
    """Holds one loaded model; called on a list of texts, returns their scores for ``label``."""

    def __init__(self, path: str, label: str, lowercase: bool = False, fold: bool = False) -> None:
        from fasttext.FastText import _FastText

        self.model = _FastText(model_path=path)
        labels = [w.removeprefix("__label__") for w in self.model.labels]
        if label not in labels:
            raise ValueError(f"quality.label: {label!r} is not a label of {path} (its labels: {labels})")
        self.label = f"__label__{label}"
        self.lowercase = lowercase
        self.folded = fold and fold_output_layer(self.model)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Scores in [0, 1] (fastText's probability, which it smooths by 1e-5), rounded to 6 digits."""
        if not texts:
            return np.zeros(0)
        lines = [model_line(t, self.lowercase) + "\n" for t in texts]
        all_labels, all_probs = self.model.f.multilinePredict(lines, -1, 0.0, "strict")
        out = np.zeros(len(texts))
        for i, (labels, probs) in enumerate(zip(all_labels, all_probs)):
            for label, prob in zip(labels, probs):
                if label == self.label:
                    out[i] = prob
                    break
        return np.round(out, SCORE_DIGITS)


@cache
def load_scorer(path: str, sha256: str, label: str, lowercase: bool, fold: bool = False) -> FastTextScorer:
    """The process's copy of the model at ``path`` whose content hashes to ``sha256`` (a new file at the
    same path is a new model)."""
    global LOADS
    LOADS += 1
    return FastTextScorer(path, label, lowercase, fold)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
