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
- ``ja``: SudachiPy in split mode A with its ``core`` dictionary (a pip package, nothing
  downloaded), as spaCy's Japanese tokenizer calls it for datatrove; text goes to it in pieces of
  at most ``_SUDACHI_BYTES`` UTF-8 bytes cut at line ends (Sudachi refuses longer input; datatrove
  cuts at 40,000 bytes too).
- ``ko``, ``th`` (datatrove: Kiwi, PyThaiNLP, whose models are 22-88 MB packages): one word per
  character of those scripts, other runs split as English. This is a stated fallback, not
  FineWeb-2's segmentation: their profiles' word-length rules are not applied
  (:data:`CHARACTER_FALLBACK`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from pipeline.text.spacy_words import chunk_words

Segmenter = Callable[[str], list[str]]
CHARACTER_FALLBACK = frozenset({"ko", "th"})
WHOLE_TEXT = frozenset({"ja"})  # segmented text by text, not chunk by chunk (see batch_words)
_SUDACHI_BYTES = 40_000
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


@lru_cache(maxsize=1)
def _sudachi() -> object:
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").tokenizer(mode=SplitMode.A, fields={"surface"})  # only the surface is read


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` cut after line ends into pieces of at most ``limit`` UTF-8 bytes (a longer line
    alone is cut by characters)."""
    pieces, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode("utf-8"))
        if size + n > limit and current:
            pieces.append("".join(current))
            current, size = [], 0
        while n > limit:
            cut = limit // 4  # characters of at most 4 bytes each
            pieces.append(line[:cut])
            line, n = line[cut:], len(line[cut:].encode("utf-8"))
        current.append(line)
        size += n
    return pieces + (["".join(current)] if current else [])


def japanese_words(text: str) -> list[str]:
    """SudachiPy's split-mode-A words, as spaCy's Japanese tokenizer gives them to datatrove."""
    tokenizer = _sudachi()
    surfaces = (m.surface() for piece in _pieces(text, _SUDACHI_BYTES) for m in tokenizer.tokenize(piece))
    return [w.strip() for w in surfaces if w.strip()]


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
    if language == "ja":
        return japanese_words
    if language in CHARACTER_FALLBACK:
        return character_words
    return space_delimited_words
