"""datatrove's ``simplify_text`` with its default ``TextNormConfig`` (datatrove 0.10.1, utils/text.py), the
normalization its n-gram decontamination applies to evaluation items and documents alike: lowercase,
numbers to ``0``, its punctuation list to spaces, whitespace collapsed, diacritics dropped.

The punctuation list is datatrove's constant, copied verbatim (Apache-2.0). Same output, faster: the
diacritics step runs only where a character decomposes (NFD leaves pure ASCII unchanged)."""

from __future__ import annotations

import re
import unicodedata

import regex

PUNCTUATION = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»" + "".join(
    map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)))
)
_PUNCTUATION = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
# the same mapping, fast: its ASCII characters by a byte table (in UTF-8 a byte under 0x80 is always an ASCII
# character), the others by one character class
_ASCII = "".join(c for c in PUNCTUATION if c.isascii())
_ASCII_TABLE = bytes.maketrans(_ASCII.encode(), b" " * len(_ASCII))
_OTHERS = re.compile("[" + re.escape("".join(c for c in PUNCTUATION if not c.isascii())) + "]")


def _punctuation_to_spaces(text: str) -> str:
    if not text.isascii():
        text = _OTHERS.sub(" ", text)
        return text.encode("utf-8", "surrogatepass").translate(_ASCII_TABLE).decode("utf-8", "surrogatepass")
    return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii")


# datatrove's pattern is \p{Nd}+([.,،٫⎖⎗⎘]{1}\p{Nd}+)? in the regex module; re's \d is the same class (Nd)
_NUMBERS = re.compile(r"\d+(?:[.,،٫⎖⎗⎘]\d+)?")
_WHITESPACE = re.compile(r"\s+")
_MARKS = regex.compile(r"\p{Mn}+")


def simplify(text: str) -> str:
    """lower → numbers to 0 → punctuation to spaces → whitespace collapsed → NFD without nonspacing marks."""
    text = _NUMBERS.sub("0", text.lower()).translate(_PUNCTUATION)
    text = _WHITESPACE.sub(" ", text.strip())
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFD", text))
    return text.strip()


def simplify_chunks(text: str) -> list[str]:
    """``simplify(text).split(" ")`` without building the string twice (empty pieces may remain where a
    lone combining mark stood; spaCy gives them no words either)."""
    text = _punctuation_to_spaces(_NUMBERS.sub("0", text.lower()))
    if text.isascii():
        return text.split()
    return _MARKS.sub("", unicodedata.normalize("NFD", " ".join(text.split()))).split(" ")
