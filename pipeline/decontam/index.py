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
    """Hashes by gram length; each hash belongs to one entry: a field of an item (a label, the query) or
    the query-label overlap, whose n-gram count is what a document's coverage is measured against."""

    keys: dict[int, np.ndarray]  # gram length -> sorted hashes
    owners: dict[int, np.ndarray]  # gram length -> the entry of each hash
    items: list[tuple[str, str]]  # (task, item id)
    entry_item: np.ndarray  # entry -> its item (index into ``items``)
    indexed: dict[str, int] = field(default_factory=dict)  # per task, items that gave at least one n-gram
    entry_grams: np.ndarray = field(init=False)  # entry -> the hashes it owns

    def __post_init__(self) -> None:
        owned = [self.owners[k] for k in self.owners]
        all_owners = np.concatenate(owned) if owned else np.zeros(0, np.int64)
        self.entry_grams = np.bincount(all_owners, minlength=len(self.entry_item))

    def lookup(self, words: np.ndarray, min_coverage: float = 0.0) -> list[tuple[int, int, int]]:
        """Every (start word, gram length, item) of a document's word hashes found in the index, counting
        only the entries at least ``min_coverage`` of whose n-grams the document holds."""
        found = self.matches(words)
        if min_coverage > 0 and found:
            seen: dict[int, set[int]] = {}
            for _, _, entry, h in found:
                seen.setdefault(entry, set()).add(h)
            covered = {e for e, hs in seen.items() if len(hs) >= min_coverage * self.entry_grams[e]}
            found = [m for m in found if m[2] in covered]
        return sorted((start, k, int(self.entry_item[entry])) for start, k, entry, _ in found)

    def matches(self, words: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Every (start word, gram length, entry, n-gram hash) found, by gram length, then word order."""
        hits = []
        for k, keys in self.keys.items():
            grams = gram_hashes(words, k)
            if not len(grams) or not len(keys):
                continue
            at = np.minimum(np.searchsorted(keys, grams), len(keys) - 1)
            found = np.flatnonzero(keys[at] == grams)
            hits += [(int(i), k, int(self.owners[k][at[i]]), int(grams[i])) for i in found]
        return hits

    def without(self, ignored: dict[int, np.ndarray]) -> DecontamIndex:
        """The index less the given hashes (per gram length): the n-grams found too often to count. Coverage
        is then measured against what each entry has left."""
        keys, owners = dict(self.keys), dict(self.owners)
        for k, drop in ignored.items():
            if k in keys and len(drop):
                keep = ~np.isin(keys[k], drop)
                keys[k], owners[k] = keys[k][keep], owners[k][keep]
        return DecontamIndex(keys, owners, self.items, self.entry_item, self.indexed)


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
    """Hash every item's n-grams, one entry per field (and per query-label overlap); a hash two entries share
    keeps the first (in set, item and field order)."""
    hasher, by_k = WordHashes(), {}
    indexed: dict[str, int] = {}
    entry_item: list[int] = []
    for i, item in enumerate(items):
        grams = [(k, h) for k, h in _grams(cfg, item, hasher) if len(h)]
        for k, h in grams:
            by_k.setdefault(k, []).append((h, np.full(len(h), len(entry_item), np.int32)))
            entry_item.append(i)
        indexed[item.task] = indexed.get(item.task, 0) + bool(grams)
    keys, owners = {}, {}
    for k, parts in sorted(by_k.items()):
        h = np.concatenate([p[0] for p in parts])
        o = np.concatenate([p[1] for p in parts])
        order = np.lexsort((o, h))  # by hash, then entry: the first entry of a shared hash first
        h, o = h[order], o[order]
        first = np.concatenate([[True], h[1:] != h[:-1]])
        keys[k], owners[k] = h[first], o[first]
    items_of = np.array(entry_item, np.int32)
    return DecontamIndex(keys, owners, [(it.task, it.item_id) for it in items], items_of, indexed)
