"""Train the quality classifier on a seeded, balanced sample of positives and negatives.

Every example has a key, a 64-bit hash of (seed, class, document id, piece): the sample is the
smallest keys of each class, and the training file lists examples in key order. Neither depends on
how many workers read the data or in what order, and fastText trains on one thread with the run's
seed, so the same data and settings give a byte-identical model.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import xxhash

from pipeline.quality import fasttext_train
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
    lr = _train(train_path, model_path, cfg, seed, lines)
    seconds = time.time() - started
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


def _train(path: str, model_path: str, cfg: QualityTrainConfig, seed: int, lines: int) -> float:
    """Train in a new process (pipeline/quality/fasttext_train.py says why); return the learning rate used
    (halved after a diverging run, which model.json records)."""
    args = {**cfg.model_dump(include=_FASTTEXT_ARGS), "input": path, "output": model_path, "seed": seed}
    env = {**os.environ, **fasttext_train.ENV, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.quality.fasttext_train", json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else {}
    if "lr_used" not in result:
        reason = result.get("error") or done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise ValueError(f"quality.train: training on {lines} examples failed: {reason}")
    if result["attempts"] > 1:
        log.warning("quality: fastText diverged; trained at lr %g instead of %g", result["lr_used"], cfg.lr)
    return result["lr_used"]


_FASTTEXT_ARGS = {"lr", "dim", "ws", "epoch", "min_count", "word_ngrams", "bucket"}


def holdout_metrics(
    model_path: str, label: str, lowercase: bool, pos: list[Example], neg: list[Example], hold: np.ndarray
) -> dict[str, float]:
    """Accuracy (score >= 0.5 means positive) and ROC AUC on the held-out examples."""
    scorer = FastTextScorer(model_path, label, lowercase)
    texts = [t for (_, t), h in zip(pos, hold) if h] + [t for (_, t), h in zip(neg, hold) if h]
    truth = np.array([True] * int(hold.sum()) + [False] * int(hold.sum()))
    scores = scorer(texts)
    return {"holdout_accuracy": round(accuracy(scores, truth), 4), "holdout_roc_auc": round(roc_auc(scores, truth), 4)}
