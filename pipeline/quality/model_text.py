"""The one line a fastText classifier sees for a document, the same at training and at scoring."""

from __future__ import annotations

import re

# fastText reads any whitespace-separated token that starts with its label prefix as a label, at training
# and at prediction: a document quoting one must not label itself
_LABEL_PREFIX = re.compile(r"__label__")


def model_line(text: str, lowercase: bool = False) -> str:
    """DCLM's normalization: the stripped text's lines joined by spaces (a newline is fastText's end of
    line), lowercased only if the recipe says so."""
    line = " ".join(text.strip().splitlines())
    return line.lower() if lowercase else line


def training_line(label: str, text: str, lowercase: bool = False) -> str:
    """One example of fastText's training format: ``__label__<label> <text>``; label-looking words in
    the text are defused so they stay words."""
    return f"__label__{label} {_LABEL_PREFIX.sub('__label _', model_line(text, lowercase))}"


def pieces(text: str, limit: int) -> list[str]:
    """``text`` cut at line ends into pieces of at most ``limit`` characters (a longer line alone is cut)."""
    out, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                out.append("".join(current))
                current, size = [], 0
            out.append(line[:limit])
            line = line[limit:]
        if size + len(line) > limit and current:
            out.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        out.append("".join(current))
    return [p for p in out if p.strip()]
