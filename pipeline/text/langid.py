"""Language identification with fastText's lid.176 model, as FineWeb does (Penedo et al. 2024).

The model is the compressed ``lid.176.ftz`` (176 languages, 917 KB), shipped in ``pipeline/text/models``
(provenance and licence beside it); it is loaded from the installed package, once per process, and
nothing is ever downloaded.
FineWeb used the full ``.bin``; the ``.ftz`` is its quantized version, so scores differ slightly.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.schema import IMAGE_MARKER
from pipeline.stage_spec import Scope, StageSpec

UNKNOWN = "unknown"  # the language of a text with nothing to judge (empty once markers are gone)


def calibrated_min_scores() -> dict[str, float]:
    """Per-language minimum lid.176 scores: FineWeb-2's rule (median - std of each language's
    scores, in [0.3, 0.9]) on real documents, English at FineWeb's 0.65; see
    ``pipeline/text/fineweb2/lid176_min_scores.json`` and benchmarks/langid_calibration.py."""
    raw = json.loads((resources.files("pipeline.text") / "fineweb2" / "lid176_min_scores.json").read_text("utf-8"))
    return {lang: e["min_score"] for lang, e in raw["languages"].items() if e["min_score"] is not None}


class LangIdConfig(StrictModel):
    # Keep-list of fastText codes ("en", "de", "zh", ...); None keeps every language.
    # FineWeb's setting: languages=["en"], min_score=0.65 (datatrove's LanguageFilter defaults).
    languages: list[str] | None = None
    min_score: float | None = Field(None, ge=0, le=1)  # for languages without their own; None: recorded only
    # A row whose language has a minimum here is dropped below it (``language_score``), as FineWeb-2
    # drops each language below its own; the default is calibrated for lid.176. None: no per-language minimum.
    language_min_scores: dict[str, float] | None = Field(default_factory=calibrated_min_scores)
    # the sources those minimums judge: FineWeb-2's are for web pages (a caption or a book full of
    # commands scores low without being in doubt); None: every source the stage sees
    min_score_sources: list[str] | None = Field(default_factory=lambda: ["web"])
    # fastText averages word vectors over the line, so a sample of the text decides as well as all
    # of it; the cap bounds the cost of book-length texts. The sample is ``windows`` evenly spaced
    # slices sharing ``max_chars``, so a page whose head is navigation or commands is judged by its
    # body too. On the sample's 255 web pages, 5 windows over 10,000 characters gave the language of
    # the whole text on every page; the first 10,000 characters alone missed one. None: whole text.
    max_chars: int | None = Field(10_000, gt=0)
    windows: int = Field(5, ge=1)


@cache
def _model() -> Any:
    """The bundled lid.176.ftz, loaded once per process (each Ray worker loads its own)."""
    from fasttext.FastText import _FastText  # load_model would print a deprecation notice per process

    path = resources.files("pipeline.text") / "models" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: language ID needs the lid.176.ftz shipped with the package")
    return _FastText(model_path=str(path))


def prepare(text: str, max_chars: int | None = 10_000, windows: int = 5) -> str:
    """One line for fastText: image markers out, the sampled windows, newlines as spaces (as datatrove does)."""
    if IMAGE_MARKER in text:
        text = text.replace(IMAGE_MARKER, " ")
    if max_chars is not None and len(text) > max_chars:
        if windows == 1:
            text = text[:max_chars]
        else:
            width, step = max_chars // windows, (len(text) - max_chars // windows) / (windows - 1)
            text = " ".join(text[int(i * step) : int(i * step) + width] for i in range(windows))
    return text.replace("\n", " ")


def predict(texts: list[str], max_chars: int | None = 10_000, windows: int = 5) -> list[tuple[str, float]]:
    """``(language, score)`` per text, score rounded to 4 digits so outputs are byte-stable."""
    model = _model().f  # the C++ object: its predict skips the Python wrapper's per-call checks
    out = []
    for text in texts:
        line = prepare(text, max_chars, windows)
        if not line.strip():
            out.append((UNKNOWN, 0.0))
            continue
        ((score, label),) = model.predict(line + "\n", 1, 0.0, "replace")
        out.append((label.removeprefix("__label__"), round(min(float(score), 1.0), 4)))
    return out


def _with_language(meta: str | None, lang: str, score: float) -> str:
    fields = json.loads(meta) if meta else {}
    declared = fields.get("language")
    if declared is not None and declared != lang and "declared_language" not in fields:
        fields["declared_language"] = declared  # what the source said (a book's catalogue entry) stays visible
    fields.update(language=lang, language_score=score)
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def langid(table: pa.Table, cfg: LangIdConfig) -> pa.Table:
    """Filter stage: fills ``language`` and meta's language keys; ``drop_reason`` per the keep-list and score.

    A text with nothing to judge is ``unknown`` with score 0, so a keep-list or ``min_score`` drops it.
    """
    found = predict(table["text"].to_pylist(), cfg.max_chars, cfg.windows)
    keep = set(cfg.languages) if cfg.languages is not None else None
    own = cfg.language_min_scores or {}
    judged = cfg.min_score_sources
    sources = table["source"].to_pylist() if "source" in table.schema.names else [None] * table.num_rows
    reasons = []
    for (lang, score), source in zip(found, sources):  # a row of no known source is judged
        own_min = judged is None or source is None or source in judged
        least = own.get(lang, cfg.min_score) if own_min else cfg.min_score
        reasons.append(
            "language_not_kept"
            if keep is not None and lang not in keep
            else "language_score"
            if least is not None and score < least
            else None
        )
    meta = [_with_language(m, lang, s) for m, (lang, s) in zip(table["meta"].to_pylist(), found)]
    language = pa.array([lang for lang, _ in found], pa.string())
    table = table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(meta, pa.string()))
    if "language" in table.schema.names:
        table = table.set_column(table.schema.get_field_index("language"), "language", language)
    else:
        table = table.append_column("language", language)
    return table.append_column("drop_reason", pa.array(reasons, pa.string()))


# code's language comes from its file name
SPEC = StageSpec(
    "langid",
    "filter",
    langid,
    LangIdConfig,
    Scope(sources=["web", "book", "multimodal"]),
    ("language_not_kept", "language_score"),
)
