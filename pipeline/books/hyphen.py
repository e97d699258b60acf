"""Words split across a line end by a hyphen ("exam-" / "ple") joined again.

A line-end hyphen is either a soft one, put there by typesetting, or the hyphen of a real
compound that happened to fall at the end of a line ("looking-" / "glass"). The book itself
tells them apart: the split is joined when the book spells the joined word elsewhere and never
spells it hyphenated; otherwise the hyphen stays (and the re-flow joins the two halves without
a space). Only a lower-case continuation is considered: "Rabbit-" / "Hole" is a compound.
Transcribed etexts rarely split words, so a word seen nowhere else keeps its hyphen unless
``join_unseen`` (OCR of typeset books, where most line-end hyphens are soft).
"""

from __future__ import annotations

import re
from collections import Counter

from pipeline.config_base import StrictModel

_HYPHEN_END = re.compile(r"([^\W\d_]+)-$")  # a letter before the hyphen: "--" dashes are not split words
_WORD_START = re.compile(r"[ \t]*(([^\W\d_]+)\S*)[ \t]*")


class HyphenConfig(StrictModel):
    join_unseen: bool = False  # join a split word the book spells nowhere else, either way


def join_hyphens(lines: list[str], cfg: HyphenConfig) -> tuple[list[str], int]:
    """The lines with split words joined (the second half moves up a line), and how many were."""
    if not any(line.rstrip().endswith("-") and _HYPHEN_END.search(line.rstrip()) for line in lines):
        return lines, 0
    seen = Counter(w.casefold() for line in lines for w in re.findall(r"[^\W\d_]+", line))
    hyphenated = {w.casefold() for line in lines for w in re.findall(r"[^\W\d_]+-[^\W\d_]+", line)}
    out, joined, i = list(lines), 0, 0
    while i < len(out) - 1:
        end = out[i].rstrip()
        head = _HYPHEN_END.search(end) if end.endswith("-") else None
        tail = _WORD_START.match(out[i + 1])
        if head and tail and tail.group(2)[0].islower():
            first, second = head.group(1), tail.group(2)
            known = seen[(first + second).casefold()] > 0 and f"{first}-{second}".casefold() not in hyphenated
            if known or cfg.join_unseen:
                out[i] = end[:-1] + tail.group(1)
                rest = out[i + 1][tail.end() :]
                out[i + 1 : i + 2] = [rest] if rest.strip() else []
                joined += 1
        i += 1
    return out, joined
