"""Train the quality classifier on a seeded, balanced sample of positives and negatives.

Every example has a key, a 64-bit hash of (seed, class, document id, piece): the sample is the
smallest keys of each class, and the training file lists examples in key order. Neither depends on
how many workers read the data or in what order, and fastText trains on one thread with the run's
seed, so the same data and settings give a byte-identical model.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import xxhash

from pipeline.quality.config import QualityTrainConfig
from pipeline.quality.metrics import accuracy, roc_auc
from pipeline.quality.model_text import pieces, training_line
from pipeline.quality.scorer import FastTextScorer, file_sha256

log = logging.getLogger("corpusmill")

Example = tuple[int, str]  # (key, text)


def example_key(seed: int, positive: bool, doc_id: str, piece: int) -> int:
    return xxhash.xxh3_64_intdigest(f"{seed}\x00{int(positive)}\x00{doc_id}\x00{piece}".encode())


def document_examples(seed: int, positive: bool, doc_id: str, text: str, limit: int) -> list[Example]:
    """The keyed examples of one document: its pieces of at most ``limit`` characters."""
    return [(example_key(seed, positive, doc_id, i), p) for i, p in enumerate(pieces(text, limit))]


def held_out(n: int, share: float) -> np.ndarray:
    """Which of ``n`` examples (in key order) are held out: evenly spaced, ``share`` of them."""
    i = np.arange(n)
    return np.floor((i + 1) * share) > np.floor(i * share)


def _write_training_file(
    path: str, pos: list[Example], neg: list[Example], labels: tuple[str, str], lowercase: bool
) -> int:
    lines = sorted([(k, True, t) for k, t in pos] + [(k, False, t) for k, t in neg])
    with open(path, "w", encoding="utf-8") as f:
        for _, positive, text in lines:
            f.write(training_line(labels[0] if positive else labels[1], text, lowercase) + "\n")
    return len(lines)


def train_classifier(
    pos: list[Example],
    neg: list[Example],
    cfg: QualityTrainConfig,
    labels: tuple[str, str],
    lowercase: bool,
    seed: int,
    out_dir: str,
) -> dict[str, Any]:
    """Train on the ``k`` smallest-key examples of each class (k: the smaller class, capped), hold out a
    share of each, write ``model.bin`` under ``out_dir``; return its hash, the counts and held-out metrics."""
    k = min(len(pos), len(neg), cfg.max_examples_per_class)
    if k < 10:
        raise ValueError(
            f"quality.train: {len(pos)} positive and {len(neg)} negative examples found; at least 10 of each "
            "are needed (check positives/negatives name sources with documents or files with text)"
        )
    pos, neg = sorted(pos)[:k], sorted(neg)[:k]
    hold = held_out(k, cfg.holdout)
    train_pos = [e for e, h in zip(pos, hold) if not h]
    train_neg = [e for e, h in zip(neg, hold) if not h]
    os.makedirs(out_dir, exist_ok=True)
    train_path, model_path = os.path.join(out_dir, "train.txt"), os.path.join(out_dir, "model.bin")
    lines = _write_training_file(train_path, train_pos, train_neg, labels, lowercase)
    started = time.time()
    model, lr = _train_with_backoff(train_path, cfg, seed, lines)
    seconds = time.time() - started
    model.save_model(model_path)
    training_sha = file_sha256(train_path)
    os.remove(train_path)  # as large as the sample; its hash stays
    return {
        "model": "model.bin",
        "model_sha256": file_sha256(model_path),
        "training_file_sha256": training_sha,
        "examples_per_class": k,
        "train_examples": lines,
        "holdout_examples": int(2 * hold.sum()),
        "train_seconds": round(seconds, 2),
        "lr_used": lr,
        **holdout_metrics(model_path, labels[0], lowercase, pos, neg, hold),
    }


LR_ATTEMPTS = 4  # a diverging run (fastText's "Encountered NaN") is retried at half the learning rate
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None


@contextlib.contextmanager
def _zeroed_allocations() -> Iterator[None]:
    """fastText 0.9.2 initializes only the first tenth of its input matrix when training on one thread
    (``DenseMatrix::uniformThread`` fills block 0 of 10) and leaves the rest as allocated: whatever an
    earlier allocation left on the heap, so a second model trained in the same process differs, or
    diverges. Allocations of 4 KiB and more are taken from fresh (zeroed) pages while it trains, which
    makes every training equal to the first in a new process (tested); glibc only."""
    if _LIBC is None:
        log.warning("quality: not on glibc: fastText's training may differ from run to run")
        yield
        return
    _LIBC.mallopt(_M_MMAP_THRESHOLD, 4096)
    try:
        yield
    finally:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)  # glibc's default (its dynamic raising stays off)


def _train_with_backoff(path: str, cfg: QualityTrainConfig, seed: int, lines: int) -> tuple[Any, float]:
    """fastText's supervised training, on one thread (so the model's bytes depend on nothing but data,
    settings and seed); a diverging run is retried at half the learning rate, which model.json records."""
    import fasttext

    lr = cfg.lr
    for attempt in range(LR_ATTEMPTS):
        try:
            with _zeroed_allocations():
                model = fasttext.train_supervised(
                    input=path,
                    lr=lr,
                    dim=cfg.dim,
                    ws=cfg.ws,
                    epoch=cfg.epoch,
                    minCount=cfg.min_count,
                    wordNgrams=cfg.word_ngrams,
                    bucket=cfg.bucket,
                    thread=1,
                    seed=seed,
                    verbose=0,
                )
            return model, lr
        except RuntimeError as e:  # fastText's only signal of a diverging loss
            if attempt == LR_ATTEMPTS - 1:
                raise ValueError(f"quality.train: fastText diverged on {lines} examples down to lr {lr} ({e})") from e
            log.warning("quality: fastText diverged at lr %g; retrying at %g", lr, lr / 2)
            lr /= 2
    raise AssertionError("unreachable")


def holdout_metrics(
    model_path: str, label: str, lowercase: bool, pos: list[Example], neg: list[Example], hold: np.ndarray
) -> dict[str, float]:
    """Accuracy (score >= 0.5 means positive) and ROC AUC on the held-out examples."""
    scorer = FastTextScorer(model_path, label, lowercase)
    texts = [t for (_, t), h in zip(pos, hold) if h] + [t for (_, t), h in zip(neg, hold) if h]
    truth = np.array([True] * int(hold.sum()) + [False] * int(hold.sum()))
    scores = scorer(texts)
    return {"holdout_accuracy": round(accuracy(scores, truth), 4), "holdout_roc_auc": round(roc_auc(scores, truth), 4)}
