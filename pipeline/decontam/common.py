"""GPT-3's rule for common text (Brown et al. 2020, Appendix C: 13-grams found in more than 10 training
documents were ignored, "common cultural phrases, legal boilerplate"): an evaluation n-gram that many
documents of the corpus share is a phrase the benchmark shares with the world (a loop every numeric library
writes, a table of number words), not a copy of the benchmark. A first scan counts, per indexed n-gram, the
documents it is found in; the documents are then judged against the index without the common ones.

The rule's blind spot, as in GPT-3: a benchmark copied into more documents than the limit (after exact and
near dedup) is no longer found. The summary lists what was ignored, with its document counts."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pipeline.decontam.apply import BATCH
from pipeline.decontam.config import DecontamConfig
from pipeline.decontam.grams import WordHashes
from pipeline.decontam.index import DecontamIndex
from pipeline.decontam.words import batch_words

GramCounts = dict[tuple[int, int], list[Any]]  # (gram length, hash) -> [documents, item, the words]


def count_grams(texts: list[str], index: DecontamIndex, cfg: DecontamConfig, into: GramCounts) -> GramCounts:
    """Add, per indexed n-gram found, the number of these texts it is found in (once per text)."""
    hasher = WordHashes()
    for words in batch_words(texts, cfg.rule, cfg.cjk_characters):
        seen: dict[tuple[int, int], tuple[int, int]] = {}
        for start, k, entry, h in index.matches(hasher(words)):
            seen.setdefault((k, h), (start, int(index.entry_item[entry])))
        for (k, h), (start, owner) in seen.items():
            gram = " ".join(words[start : start + k])
            entry = into.setdefault((k, h), [0, owner, gram])
            entry[0] += 1
            entry[2] = min(entry[2], gram)  # the same words wherever found, save for hash collisions
    return into


def count_file(root: str, curated_rel: str, index: DecontamIndex, cfg: DecontamConfig) -> list[list[Any]]:
    """The n-grams found in one curated file: [gram length, hash, documents, item, words] rows."""
    counts: GramCounts = {}
    for batch in pq.ParquetFile(os.path.join(root, curated_rel)).iter_batches(batch_size=BATCH, columns=["text"]):
        count_grams(batch.column(0).to_pylist(), index, cfg, counts)
    return [[k, h, *v] for (k, h), v in sorted(counts.items())]


def merge_counts(parts: list[list[list[Any]]]) -> GramCounts:
    """Per n-gram, the documents of every file (the order of the parts does not matter)."""
    total: GramCounts = {}
    for rows in parts:
        for k, h, docs, owner, gram in rows:
            entry = total.setdefault((k, h), [0, owner, gram])
            entry[0] += docs
            entry[2] = min(entry[2], gram)  # the item is the index's, the same in every part
    return total


def common_grams(total: GramCounts, limit: int) -> dict[int, np.ndarray]:
    """Per gram length, the hashes found in more than ``limit`` documents."""
    out: dict[int, list[int]] = {}
    for (k, h), (docs, _, _) in total.items():
        if docs > limit:
            out.setdefault(k, []).append(h)
    return {k: np.array(sorted(v), np.uint64) for k, v in sorted(out.items())}
