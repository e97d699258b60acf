"""FineWeb-2's per-language filter settings, read by the language that language ID gave a row.

FineWeb-2 (Penedo et al. 2025) runs FineWeb's filters in every language with thresholds derived
per language; its ``configs/{iso639-3}_{script}.yml`` hold them, and they ship here verbatim in
``pipeline/text/fineweb2/`` (source, commits and licence in its PROVENANCE.md). FineWeb-2 labels
languages with GlotLID (``cmn_Hani``); our language ID is fastText lid.176 (``zh``), so the
labels are mapped, one lid.176 code per config. lid.176 has no script: ``zh`` covers Simplified
and Traditional, as GlotLID's ``cmn_Hani`` does.

A profile holds only what the configs vary; the rest of FineWeb-2's settings (which rules it
turns off, its global constants) are each filter's ``fineweb2_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

# lid.176 code -> FineWeb-2 config label (ISO 639-3 + ISO 15924 script)
FINEWEB2_LABELS: dict[str, str] = {
    "zh": "cmn_Hani",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "ru": "rus_Cyrl",
    "uk": "ukr_Cyrl",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "pt": "por_Latn",
    "it": "ita_Latn",
    "nl": "nld_Latn",
    "pl": "pol_Latn",
    "cs": "ces_Latn",
    "sv": "swe_Latn",
    "tr": "tur_Latn",
    "vi": "vie_Latn",
    "id": "ind_Latn",
    "ar": "arb_Arab",
    "hi": "hin_Deva",
    "th": "tha_Thai",
}
PROFILED = tuple(FINEWEB2_LABELS)


@dataclass(frozen=True)
class LanguageProfile:
    """One language's FineWeb-2 thresholds. ``None`` where the config turns a rule off (a 0)."""

    language: str  # lid.176 code
    label: str  # FineWeb-2 config label
    dup_line_frac: float
    top_n_grams: dict[int, float]
    dup_n_grams: dict[int, float]
    line_punct_thr: float | None
    new_line_ratio: float
    min_avg_word_length: float | None
    max_avg_word_length: float
    min_alpha_words_ratio: float  # the config's ``max_non_alpha_words_ratio`` (datatrove's name; a minimum)
    stop_words: tuple[str, ...]
    glotlid_score: float  # FineWeb-2's minimum GlotLID confidence (not comparable to lid.176 scores)


def _off_at_zero(value: float) -> float | None:
    return None if value == 0 else float(value)  # datatrove tests ``if self.x and ...``: 0 turns a rule off


@cache
def profile(language: str | None) -> LanguageProfile | None:
    """The FineWeb-2 profile of a lid.176 code, or None (English and unlisted languages)."""
    label = FINEWEB2_LABELS.get(language or "")
    if label is None:
        return None
    raw = yaml.safe_load((resources.files("pipeline.text") / "fineweb2" / f"{label}.yml").read_text("utf-8"))
    return LanguageProfile(
        language=language,
        label=label,
        dup_line_frac=float(raw["dup_line_frac"]),
        top_n_grams={int(n): float(v) for n, v in raw["top_n_grams"]},
        dup_n_grams={int(n): float(v) for n, v in raw["dup_n_grams"]},
        line_punct_thr=_off_at_zero(raw["line_punct_thr"]),
        new_line_ratio=float(raw["new_line_ratio"]),
        min_avg_word_length=_off_at_zero(raw["min_avg_word_length"]),
        max_avg_word_length=float(raw["max_avg_word_length"]),
        min_alpha_words_ratio=float(raw["max_non_alpha_words_ratio"]),
        stop_words=tuple(str(w) for w in raw["stopwords"]),
        glotlid_score=float(raw["language_score"]),
    )
