"""Words of a text in its language: the word segmentation FineWeb-2's filters count with, offline.

datatrove (FineWeb-2's pipeline) splits every language with a tokenizer of its own
(``load_word_tokenizer("cmn_Hani")`` and so on); the Gopher, FineWeb and C4 rules then count those
words, so a threshold only means what it meant there if the words are the same. Here:

- ``en`` (and languages without a rule here): the spaCy-compatible English splitter
  (``spacy_words.chunk_words``) over whitespace chunks, as for English today.
- The space-delimited languages datatrove gives spaCy (:data:`SPACY_LANGUAGES`: German, French,
  Russian...): spaCy's own rule-based tokenizer for that language (``spacy.blank(code)``, no
  model), whose rules differ from English where it matters (German keeps ``E-Mail`` whole, French
  splits ``l’image``, Russian keeps ``т.д.``). It is called once per batch on the distinct chunks
  it has not seen, joined by spaces (spaCy splits each whitespace-delimited span apart, so the
  words are those of the whole text); a chunk of letters only that is not one of the language's
  special cases is one word without asking it; a chunk over :data:`LONGEST_SPACY_CHUNK`
  characters gets the English rules (spaCy is quadratic there).
- ``zh``: jieba's words, as spaCy's Chinese tokenizer calls it for datatrove (``cut_all=False``,
  the HMM for unknown words on), whitespace pieces dropped and the rest stripped, as datatrove's
  ``strip_strings`` does (:mod:`pipeline.text.chinese_words`, faster, same words). jieba's
  dictionary ships in its package: nothing is downloaded.
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
from bisect import bisect_right
from collections.abc import Callable
from functools import cache, lru_cache

from pipeline.text.chinese_words import chinese_words
from pipeline.text.scripts import UNSPACED
from pipeline.text.spacy_words import chunk_words

Segmenter = Callable[[str], list[str]]
CHARACTER_FALLBACK = frozenset({"ko", "th"})
WHOLE_TEXT = frozenset({"ja"})  # segmented text by text, not chunk by chunk (see batch_words)
# datatrove's tokenizer for these is spacy.blank(code) (its tokenizer_assignment.csv)
SPACY_LANGUAGES = frozenset({"ar", "cs", "de", "es", "fr", "id", "it", "nl", "pl", "pt", "ru", "sv", "tr", "uk"})
_LETTERS = re.compile(r"[^\W\d_]+")
# A whitespace-free run longer than this (a box-drawing rule, base64) goes to the English rules,
# which split symbol runs as every spaCy language does, in linear time: spaCy took 8 s on one
# 9,744-character rule of a Russian man page.
LONGEST_SPACY_CHUNK = 1000
_SUDACHI_BYTES = 40_000


def space_delimited_words(text: str) -> list[str]:
    """The English splitter's words: what the web filters count for English today."""
    return [w for chunk in text.split() for w in chunk_words(chunk)]


@lru_cache(maxsize=1)
def _sudachi() -> object:
    from sudachipy import Dictionary, SplitMode

    # all fields: the numeric-joining plugin needs them ("2008", not "2", "0", "0", "8")
    return Dictionary(dict="core").tokenizer(mode=SplitMode.A)


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
        for m in UNSPACED.finditer(chunk):
            words += chunk_words(chunk[at : m.start()]) if m.start() > at else ()
            words.append(m.group())
            at = m.end()
        words += chunk_words(chunk[at:]) if at < len(chunk) else ()
    return words


@cache
def _spacy(language: str) -> object:
    import spacy

    nlp = spacy.blank(language)
    # a new word's lexical attributes (shape, like_url...) are computed in Python and never read
    # here: without them spaCy splits the same words ~40% faster
    nlp.vocab.lex_attr_getters = {}
    return nlp


def spacy_chunk_words(language: str, chunks: list[str]) -> list[tuple[str, ...]]:
    """spaCy's words of each whitespace-free chunk, in one tokenizer call for those that need it."""
    nlp = _spacy(language)
    special = nlp.tokenizer.rules
    out: list[tuple[str, ...]] = [(c,) if _LETTERS.fullmatch(c) and c not in special else () for c in chunks]
    for i, c in enumerate(chunks):
        if len(c) > LONGEST_SPACY_CHUNK:  # spaCy's affix search is quadratic in a chunk's length
            out[i] = chunk_words(c)
    hard = [i for i, words in enumerate(out) if not words]
    if hard:
        starts, at = [], 0
        for i in hard:
            starts.append(at)
            at += len(chunks[i]) + 1
        found: list[list[str]] = [[] for _ in hard]
        with nlp.memory_zone():  # the strings of this call are freed after it: a long run must not grow
            for token in nlp.tokenizer(" ".join(chunks[i] for i in hard)):
                if token.text.strip():
                    found[bisect_right(starts, token.idx) - 1].append(token.text.strip())
        for i, words in zip(hard, found):
            out[i] = tuple(words)
    return out


def chunk_splitter(language: str | None) -> Callable[[list[str]], list[tuple[str, ...]]]:
    """Words of many whitespace-free chunks at once, for languages split chunk by chunk."""
    if language in SPACY_LANGUAGES:
        return lambda chunks: spacy_chunk_words(language, chunks)
    split = segmenter_for(language)
    if split is space_delimited_words:
        return lambda chunks: [chunk_words(c) for c in chunks]
    return lambda chunks: [tuple(split(c)) for c in chunks]


def segmenter_for(language: str | None) -> Segmenter:
    """The word splitter for a language code as language ID gives it (lid.176: ``zh``, ``ja``...)."""
    if language == "zh":
        return chinese_words
    if language == "ja":
        return japanese_words
    if language in CHARACTER_FALLBACK:
        return character_words
    if language in SPACY_LANGUAGES:
        return _spacy_segmenter(language)
    return space_delimited_words


@cache
def _spacy_segmenter(language: str) -> Segmenter:
    """One splitter per spaCy language (the same object each time: batch_words keys caches by it)."""
    return lambda text: [w for words in spacy_chunk_words(language, text.split()) for w in words]
