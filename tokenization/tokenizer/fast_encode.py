"""A faster encoder that gives the trained tokenizer's exact tokens: tiktoken's BPE with our merges as its
ranks and our pre-tokenizer pattern as its pattern (the stage runs 3.8-6.4x bare ``encode_batch`` on the
same cores: benchmarks/tokenize_speed.py).

Why the tokens are the same, and what is checked (``unsupported`` says why an encoder is refused; the
tokenize stage then uses ``tokenizers``):

- *Pre-tokens.* tiktoken matches the pattern with fancy-regex, ``tokenizers`` with Oniguruma. Our patterns
  (``pretokenize_pattern``) are built from ``\\p{L}``, ``\\p{N}``, ``\\s``, the literals ``\\r \\n '`` and
  space, and a case-insensitive group of English contractions; both engines take the first alternative that
  matches and backtrack the same way, so they split alike wherever the classes agree.
  ``class_differences`` compares every class on every code point (and the contractions on every character
  that case-folds into one); a tokenizer whose pattern is not one of ours is refused.
- *Merges.* ``tokenizers`` joins the adjacent pair with the lowest merge rank, tiktoken the adjacent pair
  whose join has the lowest id; tiktoken also takes a whole pre-token that is a token as it is. They agree
  when (1) each merge's token has a larger id than every earlier merge's, and (2) every token's bytes,
  merged by tiktoken with only the ids below the token's own, end as exactly the two parts of its merge.
  Then, at the first step where tiktoken would join two parts that are not a merge, the span of their
  join held, once the merges below its id were done, the two parts of its merge, which tiktoken would have
  joined first (the lowest id at that point); so no such step exists, and a whole pre-token that is a
  token is what the merges make of it. Both conditions are checked over the whole vocabulary
  (``merge_differences``).
- *Every document*: its tokens' bytes must add up to its own (tiktoken skips text no alternative matches).
  *A sample*: the first document of each batch (its head up to a line break before a letter or digit,
  ``SAMPLE_CHARS`` at most) is also encoded by ``tokenizers``; a difference stops the job (it would
  disprove the above).
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from tokenization.tokenizer.train import pretokenize_pattern

CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


@lru_cache(maxsize=1)
def _byte_of_char() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the character ``tokenizers`` writes for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def _token_bytes(token: str) -> bytes:
    table = _byte_of_char()
    return bytes(table[c] for c in token)


def _model_parts(spec: dict) -> tuple[str, dict[bytes, int], list[tuple[bytes, bytes]]] | str:
    """(pattern, ranks, merges) of a ``tokenizer.json``, or why tiktoken cannot stand in for it."""
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    if spec.get("normalizer") is not None:
        return "the tokenizer has a normalizer"
    if model.get("type") != "BPE" or model.get("dropout") or model.get("byte_fallback") or model.get("ignore_merges"):
        return "not a plain byte-level BPE (dropout, byte fallback or ignore_merges set)"
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "the BPE has subword affixes"
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not steps or len(steps) != 2 or steps[0].get("type") != "Split" or steps[1].get("type") != "ByteLevel":
        return "the pre-tokenizer is not a Split then ByteLevel"
    split, level = steps
    pattern = (split.get("pattern") or {}).get("Regex")
    if pattern not in (pretokenize_pattern(1), pretokenize_pattern(3)):
        return "the Split pattern is not one of pretokenize_pattern's"
    if (
        split.get("behavior") != "Isolated"
        or split.get("invert")
        or level.get("add_prefix_space")
        or level.get("use_regex")
    ):
        return "the Split or ByteLevel settings differ from the trained tokenizer's"
    ranks = {_token_bytes(token): i for token, i in model["vocab"].items()}
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return pattern, ranks, [(_token_bytes(a), _token_bytes(b)) for a, b in merges]


def _merge_by_rank(piece: bytes, ranks: dict[bytes, int], below: int) -> list[bytes]:
    """tiktoken's merging of one piece, using only the tokens with an id below ``below``."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best, at = below, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1], below)
            if rank < best:
                best, at = rank, i
        if at < 0:
            break
        parts[at : at + 2] = [parts[at] + parts[at + 1]]
    return parts


def merge_differences(ranks: dict[bytes, int], merges: list[tuple[bytes, bytes]]) -> list[str]:
    """Where tiktoken's merging by id could leave ``tokenizers``' merging by rank (empty: it cannot)."""
    out, last = [], -1
    for a, b in merges:
        token = a + b
        if ranks.get(token, -1) <= last:
            out.append(f"merge {a!r} + {b!r}: its token's id is not above the previous merge's")
        last = max(last, ranks.get(token, -1))
        if _merge_by_rank(token, ranks, ranks.get(token, 0)) != [a, b]:
            out.append(f"merge {a!r} + {b!r}: tiktoken's ranks do not rebuild it")
        if len(out) >= 10:
            break
    if set(ranks) >= {bytes([i]) for i in range(256)}:
        return out
    return [*out, "a byte has no token"]


def _matched_by_fancy_regex(pattern: str, text: str) -> str:
    """The text tiktoken's engine matches with ``pattern`` (tiktoken keeps only matches; single-byte ranks
    give the matched bytes back)."""
    import tiktoken

    probe = tiktoken.Encoding(
        "probe", pat_str=pattern, mergeable_ranks={bytes([b]): b for b in range(256)}, special_tokens={}
    )
    return bytes(probe.encode_ordinary(text)).decode("utf-8", "surrogatepass")


def _matched_by_oniguruma(pattern: str, text: str) -> str:
    """The text ``tokenizers``' engine matches with ``pattern`` (the Split with the matches removed leaves the
    rest, in order)."""
    from tokenizers import Regex, pre_tokenizers

    rest = pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(text)
    out, at = [], 0
    for _, (start, end) in rest:
        out.append(text[at:start])
        at = end
    out.append(text[at:])
    return "".join(out)


@lru_cache(maxsize=1)
def class_differences() -> tuple[str, ...]:
    """The classes our patterns use, compared between the two engines on every code point, and the
    contractions on every character that case-folds into one of their letters (empty: they agree). Once per
    process: it depends only on the installed engines."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    out = []
    for cls in (r"\p{L}", r"\p{N}", r"\s", r"[\r\n]"):
        fancy, onig = set(_matched_by_fancy_regex(cls, every)), set(_matched_by_oniguruma(cls, every))
        if fancy != onig:
            out.append(f"{cls}: {len(fancy ^ onig)} code points differ, e.g. {sorted(fancy ^ onig)[:5]}")
    letters = set("".join(CONTRACTIONS))
    folding = [c for c in every if letters & set(c.casefold() + c.lower() + c.upper())]
    probes = [f"'{a}" for a in folding] + [f"'{a}{b}" for a in folding for b in folding]
    text = "\x00".join(probes)
    group = "(?i:" + "|".join(f"'{c}" for c in CONTRACTIONS) + ")"
    if _matched_by_fancy_regex(group, text) != _matched_by_oniguruma(group, text):
        out.append("the case-insensitive contractions match differently")
    return tuple(out)


def model_differences(tokenizer_path: str) -> list[str]:
    """What in this tokenizer's settings or vocabulary tiktoken could encode otherwise (empty: nothing)."""
    with open(tokenizer_path, encoding="utf-8") as f:
        parts = _model_parts(json.load(f))
    if isinstance(parts, str):
        return [parts]
    _, ranks, merges = parts
    return merge_differences(ranks, merges)


def unsupported(tokenizer_path: str) -> str | None:
    """Why tiktoken cannot stand in for this tokenizer (None: it gives the same tokens). Checks the whole
    vocabulary and both regex engines' classes: seconds, so the driver runs it once per pass."""
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return "tiktoken is not installed"
    return "; ".join(model_differences(tokenizer_path) or class_differences()) or None


class FastEncoder:
    """tiktoken over a trained ``tokenizer.json`` (one that ``unsupported`` passed), with the per-document
    byte check and the sampled comparison against ``tokenizers``."""

    def __init__(self, tokenizer_path: str, reference) -> None:  # reference: the tokenizers.Tokenizer
        import tiktoken

        with open(tokenizer_path, encoding="utf-8") as f:
            pattern, ranks, _ = _model_parts(json.load(f))
        self.encoding = tiktoken.Encoding("corpusmill", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        self.token_bytes = np.zeros(max(ranks.values()) + 1, np.int64)
        for token, i in ranks.items():
            self.token_bytes[i] = len(token)
        self.reference = reference
        self.compared = 0

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Each text's ids; raises when a text's tokens do not spell it or the sampled text differs."""
        ids = [self.encoding.encode_ordinary(text) for text in texts]
        for text, tokens in zip(texts, ids):
            if int(self.token_bytes[tokens].sum()) != len(text.encode("utf-8", "surrogatepass")):
                raise RuntimeError(f"tokenize: tiktoken's tokens do not spell the text {text[:60]!r}")
        if texts:
            self._compare(texts[0], ids[0])
        return ids

    def _compare(self, text: str, ids: list[int]) -> None:
        """``tokenizers`` on the text, or on its first ~``SAMPLE_CHARS`` up to a line break before a letter or
        digit (a pre-token boundary under our patterns, so those tokens are a prefix of the text's)."""
        head = sample_head(text)
        if not head:
            return
        expected = self.reference.encode_batch_fast([head], add_special_tokens=False)[0].ids
        self.compared += 1
        if expected != ids[: len(expected)] or (head == text and len(expected) != len(ids)):
            raise RuntimeError(
                f"tokenize: tiktoken and tokenizers differ on {text[:60]!r}; set tokenize.encoder: tokenizers"
            )


SAMPLE_CHARS = 16384  # a batch's comparison stays a small share of its time, whatever its first document's size


def sample_head(text: str) -> str:
    """The text, or its head that ends at a line break followed by a letter or digit (the empty head when none
    is found in the first ``SAMPLE_CHARS``)."""
    if len(text) <= SAMPLE_CHARS:
        return text
    end = SAMPLE_CHARS
    while (end := text.rfind("\n", 0, end)) > 0:
        if text[end + 1].isalnum():
            return text[: end + 1]
    return ""
