"""Documents against the index: the first hit of each (what a drop reports), or every hit's characters
(what a redaction cuts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.decontam.config import DecontamConfig
from pipeline.decontam.grams import WordHashes
from pipeline.decontam.index import DecontamIndex
from pipeline.decontam.normalize import simplify
from pipeline.decontam.words import batch_words
from pipeline.text.scripts import UNSPACED_RANGES


@dataclass(frozen=True)
class Hit:
    task: str
    item_id: str
    gram: str  # the matched words as the rule sees them (normalized for datatrove's)

    def detail(self) -> str:
        return f"task={self.task} item={self.item_id} ngram={self.gram!r}"


Hits = list[tuple[int, int, int]]  # (start word, gram length, item), in word order


def scan_words(texts: list[str], index: DecontamIndex, cfg: DecontamConfig) -> list[tuple[list[str], Hits]]:
    """Each text's words and every hit among them."""
    hasher = WordHashes()
    texts_words = batch_words(texts, cfg.rule, cfg.cjk_characters)
    return [(words, index.lookup(hasher(words), cfg.min_coverage)) for words in texts_words]


def scan(texts: list[str], index: DecontamIndex, cfg: DecontamConfig) -> list[Hits]:
    """Every hit in each text."""
    return [hits for _, hits in scan_words(texts, index, cfg)]


def first_hit(words: list[str], hits: Hits, index: DecontamIndex) -> Hit | None:
    """The first hit in word order, with the words it matched (None: clean)."""
    if not hits:
        return None
    start, k, owner = hits[0]
    task, item_id = index.items[owner]
    return Hit(task, item_id, " ".join(words[start : start + k]))


def first_hits(texts: list[str], index: DecontamIndex, cfg: DecontamConfig) -> list[Hit | None]:
    """Each text's first hit (None: clean)."""
    return [first_hit(words, hits, index) for words, hits in scan_words(texts, index, cfg)]


def word_spans(text: str, cfg: DecontamConfig) -> list[tuple[int, int]] | None:
    """The characters of the text each of its words came from, in word order, or None when they cannot be
    told apart (the words of the pieces do not add up to the text's words). datatrove's words map to the
    whitespace-delimited piece they came from (its normalization can merge or split within a piece)."""
    cjk = f"[{UNSPACED_RANGES}]" if cfg.cjk_characters else None
    spans: list[tuple[int, int]] = []
    pieces = list(re.finditer(r"\S+", text))
    if cfg.rule == "deepseek_coder":
        for m in pieces:
            if cjk and re.search(cjk, m.group()):
                spans += [
                    (m.start() + s.start(), m.start() + s.end())
                    for s in re.finditer(f"{cjk}|(?:(?!{cjk})\\S)+", m.group())
                ]
            else:
                spans.append(m.span())
    else:
        per_piece = batch_words([m.group() for m in pieces], cfg.rule, cfg.cjk_characters)
        spans = [m.span() for m, words in zip(pieces, per_piece) for _ in words]
        whole = batch_words([text], cfg.rule, cfg.cjk_characters)[0]
        if len(whole) != len(spans) or simplify(text) != " ".join(
            simplify(m.group()) for m in pieces if simplify(m.group())
        ):
            return None
    return spans


def redact(text: str, hits: Hits, cfg: DecontamConfig) -> tuple[str, int] | None:
    """The text without the characters of every hit (runs of them cut whole), and the number of cuts; None
    when the words cannot be mapped back to characters."""
    spans = word_spans(text, cfg)
    if spans is None:
        return None
    cuts: list[list[int]] = []
    for start, k, _ in hits:
        a, b = spans[start][0], spans[start + k - 1][1]
        if cuts and a <= cuts[-1][1]:
            cuts[-1][1] = max(cuts[-1][1], b)
        else:
            cuts.append([a, b])
    out, at = [], 0
    for a, b in cuts:
        out.append(text[at:a])
        at = b
    out.append(text[at:])
    return "".join(out), len(cuts)
