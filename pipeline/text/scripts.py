"""The scripts written without spaces between words: Thai, kana, Han (with its extensions and
compatibility block) and Hangul. The word splitters, near dedup's shingle choice and decontamination's
words all count these one character at a time."""

from __future__ import annotations

import re

UNSPACED_RANGES = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
UNSPACED = re.compile(f"[{UNSPACED_RANGES}]")
