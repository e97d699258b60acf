"""Settings of the quality classifier: how it is trained, which documents it scores and how it selects.

Defaults cite their source. DCLM (Li et al. 2024, §4.4 and ``baselines/train_fasttext_classifier.py``):
a fastText classifier with bigram features, lr 0.1, dim 100, window 5, 5 epochs, min count 1, its
positives high-quality reference text (``__label__hq``) and its negatives random web pages
(``__label__cc``), text given as one line without lowercasing, the top 10 % kept. GPT-3 (Brown et al.
2020, appendix A): Pareto sampling, keep a document when ``np.random.pareto(9) > 1 - score``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config_base import StrictModel


class QualityTrainConfig(StrictModel):
    """Train a classifier from the run's own data: positives against negatives, balanced and seeded."""

    # a configured source's name (positives: its curated documents; negatives: every document it read
    # but the quarantined, i.e. the web before any filter) or a JSONL/Parquet file of reference text
    # (relative to the config's folder), e.g. held-out books or an instruction set
    positives: list[str] = Field(min_length=1)
    negatives: list[str] = Field(min_length=1)
    text_field: str = "text"  # the field holding the text in the files above
    # examples per class (both classes get the same number: the smaller pool's size up to this);
    # DCLM trained on ~200k of each, a cap keeps training minutes on one core
    max_examples_per_class: int = Field(100_000, gt=0)
    # a long document (a book) gives several examples, cut at line ends into pieces of at most this many
    # characters, so that one book is many samples of its style rather than one very long line
    example_chars: int = Field(10_000, gt=100)
    holdout: float = Field(0.1, ge=0.01, le=0.5)  # the share held out for accuracy and ROC AUC
    lr: float = Field(0.1, gt=0)  # DCLM train_fasttext_classifier.py
    dim: int = Field(100, gt=0)  # DCLM
    ws: int = Field(5, gt=0)  # DCLM
    epoch: int = Field(5, gt=0)  # DCLM
    min_count: int = Field(1, ge=1)  # DCLM
    word_ngrams: int = Field(2, ge=1)  # DCLM §4.4: bigram features
    # rows for hashed bigrams: fastText's default, which DCLM kept. The model holds (words + bucket) x dim
    # floats: 2M x 100 is ~800 MB on disk and in each scoring process; a small corpus needs far fewer
    bucket: int = Field(2_000_000, gt=0)


class QualityConfig(StrictModel):
    """Score documents with a fastText classifier and keep the best, after every dedup step."""

    train: QualityTrainConfig | None = None  # train on this run's data (the model lands in output_dir/quality/)
    model: str | None = None  # or a fastText model file of your own (relative to the config's folder)
    label: str = "hq"  # the label whose probability is the score (DCLM's __label__hq)
    negative_label: str = "cc"  # the other label when training (DCLM's __label__cc)
    lowercase: bool = False  # DCLM gives the text as written
    sources: list[str] | None = Field(default_factory=lambda: ["web"])  # scored sources (None: all)
    languages: list[str] | None = None  # scored languages as language ID gave them (None: all)
    select: Literal["top_fraction", "threshold", "pareto"] = "top_fraction"
    fraction: float = Field(0.1, gt=0, le=1)  # top_fraction: DCLM keeps the top 10 %
    per_language: bool = True  # top_fraction per (source, language): one language cannot crowd out another
    threshold: float = Field(0.5, ge=0, le=1)  # threshold: keep a score at or above it
    pareto_alpha: float = Field(9.0, gt=0)  # pareto: GPT-3's shape parameter
    # score with the output layer folded into the input rows (pipeline/quality/scorer.py): ~1.9x faster and a
    # fiftieth of the memory, but float32 sums in another order: on a confident model 737 of 6,366 real
    # pages moved by more than 1e-6 (at most 1.5e-5) from fastText's own scores, which DCLM's and
    # datatrove's thresholds were set on. Off: fastText's exact arithmetic
    fold_output_layer: bool = False

    @model_validator(mode="after")
    def _one_model(self) -> QualityConfig:
        if (self.train is None) == (self.model is None):
            raise ValueError("quality needs exactly one of train (a classifier trained on this run) or model (a file)")
        return self
