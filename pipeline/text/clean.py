"""Text cleaning for prose (web, books, captions; code is kept byte for byte by the stage's default scope):
Unicode NFC, control characters removed, full-width ASCII letters and digits made ASCII, whitespace tidied.

NFC makes canonically equal strings byte-equal (so exact dedup and the tokenizer see one
form); C0/C1 controls other than tab and newline carry no text and confuse tokenizers.
Full-width Latin letters and digits (ＡＢＣ１２３, common in Chinese and Japanese text) become
ASCII and half-width katakana full-width, as NFKC would map them; CJK punctuation (，。！（）)
and every other compatibility character stay as written, which NFKC would not leave alone.
Trailing whitespace of a line goes whatever its kind, so a line of ideographic spaces (U+3000,
a Chinese paragraph indent left alone on its line) is an empty line, as a line of spaces is.
"""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_TRAILING = re.compile(r"[^\S\n]+\n")  # any whitespace but the newline, before it
# full-width digits, capitals and small letters -> ASCII (U+FF10.., U+FF21.., U+FF41..)
_FULLWIDTH = {c: c - 0xFEE0 for a, b in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in range(a, b + 1)}
_HALFWIDTH_KANA = re.compile("[\uff65-\uff9f]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class CleanConfig(StrictModel):
    normalize: str | None = "NFC"  # Unicode normal form; None keeps the text as read
    fullwidth_to_ascii: bool = True  # ＡＢＣ１２３ -> ABC123 and ｶﾀｶﾅ -> カタカナ; CJK punctuation kept
    strip_control: bool = True
    crlf_to_lf: bool = True
    max_blank_lines: int = 2  # longer runs of empty lines collapse to this many


def clean_text(text: str, cfg: CleanConfig) -> str:
    if cfg.normalize:
        text = unicodedata.normalize(cfg.normalize, text)
    if cfg.crlf_to_lf:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if cfg.strip_control:
        text = _CONTROL.sub("", text)
    if cfg.fullwidth_to_ascii:
        text = text.translate(_FULLWIDTH)
        if _HALFWIDTH_KANA.search(text):
            text = _HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_RUNS.sub("\n" * (cfg.max_blank_lines + 1), text) if cfg.max_blank_lines >= 0 else text
    return text.strip()


def clean(table: pa.Table, cfg: CleanConfig) -> pa.Table:
    """Rewrite stage: the same rows with cleaned ``text``."""
    cleaned = pa.array([clean_text(t, cfg) for t in table["text"].to_pylist()], type=pa.large_string())
    return table.set_column(table.schema.get_field_index("text"), "text", cleaned)


class LengthConfig(StrictModel):
    min_chars: int = 1  # an empty document carries nothing to train on


def min_length(table: pa.Table, cfg: LengthConfig) -> pa.Table:
    """Filter stage: ``drop_reason`` is ``too_short`` below ``min_chars`` characters."""
    short = pc.less(pc.utf8_length(table["text"]), cfg.min_chars)
    reason = pc.if_else(short, pa.scalar("too_short"), pa.scalar(None, pa.string()))
    return table.append_column("drop_reason", reason)


# code is kept byte for byte (as The Stack keeps it): NFC would rewrite string literals (Tamil in pygments'
# ezhil lexer), whitespace tidying would change what a diff or a Makefile means
CLEAN_SPEC = StageSpec(
    "clean", "rewrite", clean, CleanConfig, Scope(sources=["web", "book", "multimodal"]), optional=False
)
MIN_LENGTH_SPEC = StageSpec("min_length", "filter", min_length, LengthConfig, reasons=("too_short",), optional=False)
