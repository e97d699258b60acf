"""The words a rule counts n-grams in.

- ``datatrove``: its normalization (normalize.simplify), then spaCy's blank English tokenizer, which is
  what ``load_word_tokenizer("eng")`` gives its decontamination (``gonna`` is ``gon na``, ``0km`` is
  ``0 km``). Chunks over 1,000 characters without a space go by the English rules instead (spaCy's affix
  search is quadratic in a chunk's length; pipeline/text/segmenters.py).
- ``deepseek_coder``: the text's whitespace-delimited strings as written: the paper matches "a 10-gram
  string identical to any in the test data" and names no normalization.
Either way, with ``cjk_characters`` a run of Han, kana, Hangul or Thai counts one word per character,
as those scripts have no spaces to delimit words.
"""

from __future__ import annotations

import re
from typing import Literal

from pipeline.decontam.normalize import simplify_chunks
from pipeline.text.scripts import UNSPACED, UNSPACED_RANGES
from pipeline.text.segmenters import spacy_chunk_words

Rule = Literal["deepseek_coder", "datatrove"]

_CJK_SPLIT = re.compile(f"([{UNSPACED_RANGES}])")


def _split_cjk(words: list[str]) -> list[str]:
    """Each Han, kana, Hangul or Thai character a word of its own; the rest of a word stays whole."""
    return [p for w in words for p in (_CJK_SPLIT.split(w) if UNSPACED.search(w) else (w,)) if p]


def batch_words(texts: list[str], rule: Rule, cjk_characters: bool = True) -> list[list[str]]:
    """Each text's words under ``rule``; spaCy runs once per batch on its distinct chunks."""
    if rule == "deepseek_coder":
        words = [t.split() for t in texts]
    else:
        chunked = [simplify_chunks(t) for t in texts]
        distinct = list({c for chunks in chunked for c in chunks if c})
        found = dict(zip(distinct, spacy_chunk_words("en", distinct)))
        words = [[w for c in chunks if c for w in found[c]] for chunks in chunked]
    if cjk_characters:
        words = [_split_cjk(ws) if any(UNSPACED.search(w) for w in ws) else ws for ws in words]
    return words
