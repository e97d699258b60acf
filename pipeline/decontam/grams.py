"""n-gram hashes of word lists, vectorized: each word's 64-bit hash, then a polynomial over each window.

An n-gram's hash is sum(h(w_j) * P^(n-1-j)) mod 2^64 for its words w_0..w_{n-1}; two different
n-grams share one with probability ~2^-64, so a corpus of 10^12 n-grams against 10^8 indexed ones
expects 0.005 false hits. Words are hashed once per batch (xxh3-64 of their UTF-8)."""

from __future__ import annotations

import numpy as np
import xxhash

_P = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection mod 2^64


class WordHashes:
    """Each distinct word's hash, kept across the documents of a batch."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, words: list[str]) -> np.ndarray:
        seen = self.seen
        for w in set(words).difference(seen):
            seen[w] = xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass"))
        return np.fromiter(map(seen.__getitem__, words), np.uint64, len(words))


def gram_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """The hash of every window of ``n`` consecutive word hashes (none when there are fewer words)."""
    m = len(words) - n + 1
    if m <= 0:
        return np.empty(0, np.uint64)
    h = words[:m].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            h = h * _P + words[j : j + m]
    return h
