"""Judge a batch language by language: each row by the rules (and words) of the language ID's answer.

FineWeb-2 runs its filters once per language with that language's thresholds and word
segmentation; a batch here mixes languages, so a filter splits it by the ``language`` column
(lid.176 codes, filled by ``langid``), judges each part, and puts the reasons back in row order.
A table without the column (language ID off) is judged as English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.text.first_failing import no_reasons
from pipeline.text.language_profiles import LanguageProfile, profile

Judge = Callable[[pa.ChunkedArray, "str | None"], np.ndarray]  # (texts of one language, its code) -> reasons


def reasons_by_language(table: pa.Table, judge: Judge) -> np.ndarray:
    """Per row, the reason ``judge`` gives it among the rows of its language (None: kept).

    Languages are judged in sorted order, rows without one (None) as English, so the words a
    judge splits and caches do not depend on the order of rows."""
    if "language" not in table.schema.names:
        return judge(table["text"], None)
    languages = table["language"].to_pylist()
    present = sorted(set(languages), key=lambda lang: (lang is not None, lang or ""))
    if len(present) == 1:
        return judge(table["text"], present[0])
    reason = no_reasons(table.num_rows)
    index = {lang: k for k, lang in enumerate(present)}
    codes = np.fromiter((index[lang] for lang in languages), np.int64, len(languages))
    for k, lang in enumerate(present):
        rows = np.flatnonzero(codes == k)
        reason[rows] = judge(table["text"].take(pa.array(rows)), lang)
    return reason


def filter_by_language(
    table: pa.Table,
    cfg: Any,
    fineweb2_settings: Callable[[LanguageProfile], Any],
    reasons: Callable[[pa.ChunkedArray, Any, str | None], np.ndarray],
) -> pa.Table:
    """A quality filter's output: ``drop_reason`` per row from ``reasons(texts, settings, language)``,
    where the settings are the language's FineWeb-2 ones when it has a profile (and
    ``cfg.fineweb2_languages`` is on), else ``cfg``."""

    def judge(texts: pa.ChunkedArray, language: str | None) -> np.ndarray:
        found = profile(language) if cfg.fineweb2_languages else None
        return reasons(texts, cfg if found is None else fineweb2_settings(found), language)

    return table.append_column("drop_reason", pa.array(reasons_by_language(table, judge), pa.string()))
