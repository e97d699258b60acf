"""Words of a text in its language: the word segmentation FineWeb-2's filters count with, offline.

datatrove (FineWeb-2's pipeline) splits every language with a tokenizer of its own
(``load_word_tokenizer("cmn_Hani")`` and so on); the Gopher, FineWeb and C4 rules then count those
words, so a threshold only means what it meant there if the words are the same. Here:

- ``en`` and space-delimited languages: the spaCy-compatible English splitter
  (``spacy_words.chunk_words``) over whitespace chunks, as for English today. spaCy's other
  languages differ from English in a few exceptions (French elisions, for one): measured per
  language before their FineWeb-2 thresholds are switched on.
- ``zh``: jieba, as spaCy's Chinese tokenizer calls it for datatrove (``cut_all=False``, the
  HMM for unknown words on), whitespace pieces dropped and the rest stripped, as datatrove's
  ``strip_strings`` does. jieba's dictionary ships in its package: nothing is downloaded.
- ``ja``, ``ko``, ``th`` (datatrove: SudachiPy, Kiwi, PyThaiNLP, whose dictionaries are 77-88 MB
  packages): for now one word per character of those scripts, other runs split as English. This is
  a stated fallback, not FineWeb-2's segmentation: their length rules stay off until it is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from pipeline.text.spacy_words import chunk_words

Segmenter = Callable[[str], list[str]]
CHARACTER_FALLBACK = frozenset({"ja", "ko", "th"})
# Han, kana, Hangul and Thai letters: each a word in the fallback
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def space_delimited_words(text: str) -> list[str]:
    """The English splitter's words: what the web filters count for English today."""
    return [w for chunk in text.split() for w in chunk_words(chunk)]


@lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(60)  # its dictionary-loading lines are not the run's business
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def chinese_words(text: str) -> list[str]:
    """jieba's words as datatrove's Chinese tokenizer returns them (spaCy ``zh`` with jieba)."""
    return [w.strip() for w in _jieba().cut(text, cut_all=False, HMM=True) if w.strip()]


def character_words(text: str) -> list[str]:
    """The documented fallback for unspaced scripts without their segmenter: one word per
    character of those scripts, everything else as the English splitter splits it."""
    words: list[str] = []
    for chunk in text.split():
        at = 0
        for m in _UNSPACED.finditer(chunk):
            words += chunk_words(chunk[at : m.start()]) if m.start() > at else ()
            words.append(m.group())
            at = m.end()
        words += chunk_words(chunk[at:]) if at < len(chunk) else ()
    return words


def segmenter_for(language: str | None) -> Segmenter:
    """The word splitter for a language code as language ID gives it (lid.176: ``zh``, ``ja``...)."""
    if language == "zh":
        return chinese_words
    if language in CHARACTER_FALLBACK:
        return character_words
    return space_delimited_words
