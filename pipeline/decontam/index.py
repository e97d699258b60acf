"""The index of evaluation n-grams: per gram length, a sorted array of 64-bit hashes and the item each
came from. It is small (HumanEval: a few tens of thousands of hashes) and read-only, so a job puts it in
the object store once and every worker maps it.

No Bloom filter: a scan looks up every n-gram of the corpus, so a per-lookup false-positive rate that
keeps a clean 10,000-word document clean with probability 0.9999 must be ~1e-8, which costs a Bloom
filter 38 bits per indexed n-gram against the sorted array's 64 (plus 32 for the owner): not worth
false drops. 100 million indexed n-grams take 1.2 GB here; a set that large should be split by task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.decontam.config import DecontamConfig
from pipeline.decontam.eval_sets import EvalItem
from pipeline.decontam.grams import WordHashes, gram_hashes
from pipeline.decontam.words import batch_words


@dataclass
class DecontamIndex:
    keys: dict[int, np.ndarray]  # gram length -> sorted hashes
    owners: dict[int, np.ndarray]  # gram length -> the item (index into ``items``) of each hash
    items: list[tuple[str, str]]  # (task, item id)
    indexed: dict[str, int] = field(default_factory=dict)  # per task, items that gave at least one n-gram

    def lookup(self, words: np.ndarray) -> list[tuple[int, int, int]]:
        """Every (start word, gram length, item) of a document's word hashes found in the index."""
        hits = []
        for k, keys in self.keys.items():
            grams = gram_hashes(words, k)
            if not len(grams):
                continue
            at = np.minimum(np.searchsorted(keys, grams), len(keys) - 1)
            found = np.flatnonzero(keys[at] == grams)
            hits += [(int(i), k, int(self.owners[k][at[i]])) for i in found]
        return sorted(hits)


def _informative(words: list[str], k: int, least: int) -> np.ndarray:
    """Which windows of ``k`` words hold at least ``least`` words with a letter."""
    alpha = np.array([any(c.isalpha() for c in w) for w in words], np.int32)
    windows = np.convolve(alpha, np.ones(k, np.int32), mode="valid") if len(words) >= k else np.zeros(0, np.int32)
    return windows >= least


def _hashes(hasher: WordHashes, words: list[str], k: int, least: int) -> np.ndarray:
    h = gram_hashes(hasher(words), k)
    return h[_informative(words, k, least)] if least and len(h) else h


def _grams(cfg: DecontamConfig, item: EvalItem, hasher: WordHashes) -> list[tuple[int, np.ndarray]]:
    """(gram length, hashes) of one item under the configured rule."""
    n, out, least = cfg.gram, [], cfg.min_alpha_words
    words = lambda texts: batch_words(list(texts), cfg.rule, cfg.cjk_characters)  # noqa: E731
    if cfg.rule == "deepseek_coder":
        for w in words(item.queries + item.labels):
            if len(w) >= n:
                out.append((n, _hashes(hasher, w, n, least)))
            elif len(w) >= cfg.min_words:  # a short string: matched whole
                out.append((len(w), _hashes(hasher, w, len(w), least)))
        return out
    query = words(["\n".join(item.queries)])[0] if item.queries else []
    if cfg.query_ngrams and len(query) >= n:
        out.append((n, _hashes(hasher, query, n, least)))
    for label in words(item.labels):
        out.append((n, _hashes(hasher, label, n, least)))
        overlap = [
            query[-n + 1 + i :] + label[: i + 1] for i in range(n - 1) if len(query) >= n - 1 - i and len(label) > i
        ]
        if overlap:  # datatrove's query-label overlap: the query's tail, then the label's head
            out.append((n, np.concatenate([_hashes(hasher, g, n, least) for g in overlap])))
    return out


def build_index(items: list[EvalItem], cfg: DecontamConfig) -> DecontamIndex:
    """Hash every item's n-grams; a hash two items share keeps the first item (in set and item order)."""
    hasher, by_k = WordHashes(), {}
    indexed: dict[str, int] = {}
    for i, item in enumerate(items):
        grams = [(k, h) for k, h in _grams(cfg, item, hasher) if len(h)]
        for k, h in grams:
            by_k.setdefault(k, []).append((h, np.full(len(h), i, np.int32)))
        indexed[item.task] = indexed.get(item.task, 0) + bool(grams)
    keys, owners = {}, {}
    for k, parts in sorted(by_k.items()):
        h = np.concatenate([p[0] for p in parts])
        o = np.concatenate([p[1] for p in parts])
        order = np.lexsort((o, h))  # by hash, then item: the first item of a shared hash first
        h, o = h[order], o[order]
        first = np.concatenate([[True], h[1:] != h[:-1]])
        keys[k], owners[k] = h[first], o[first]
    return DecontamIndex(keys, owners, [(it.task, it.item_id) for it in items], indexed)
