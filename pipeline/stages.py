"""The per-row curation stages, in order, the rows each one sees, and how their outcomes are recorded.

A rewrite stage returns the same rows with new text (and, optionally, ``rewrite_tags``: one
entry per event, such as an e-mail redacted); the rows whose text or images changed get the stage's
name in ``rewrites``, then ``stage:tag`` per event. A filter stage returns the rows with a
``drop_reason`` column; rows with a reason leave with status ``dropped``, or ``quarantined``
where an optional ``quarantine`` column is true (bad input rather than a judgement), with an
optional ``drop_detail``. A stage of both kinds may rewrite the rows it keeps (text or images)
and drop others. A stage sees only the rows still ``kept`` that fall in its scope: its
sources, whether they carry images and, for the English-tuned quality rules, the languages
language identification found.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from pipeline.book_boilerplate import GutenbergConfig, gutenberg_boilerplate
from pipeline.book_layout import BookLayoutConfig, book_layout
from pipeline.c4_filters import C4Config, c4_document, c4_lines
from pipeline.caption_filters import CaptionFilterConfig, caption_filter
from pipeline.clean import CleanConfig, LengthConfig, clean, min_length
from pipeline.code_filters import CodeFilterConfig, code_filter
from pipeline.code_license_filter import LicenseFilterConfig, license_filter
from pipeline.config_base import StrictModel
from pipeline.exact_dedup import ExactDedupConfig
from pipeline.fineweb_filters import FineWebQualityConfig, fineweb_quality
from pipeline.gopher_quality import GopherQualityConfig, gopher_quality
from pipeline.gopher_repetition import GopherRepetitionConfig, gopher_repetition
from pipeline.image_checks import ImageCheckConfig, image_checks
from pipeline.image_dedup import ImageDedupConfig
from pipeline.langid import LangIdConfig, langid
from pipeline.near_dedup import NearDedupConfig
from pipeline.pii import PiiConfig, pii_redact
from pipeline.repo_documents import RepoDocConfig
from pipeline.schema import DROPPED, KEPT, QUARANTINED, image_field_lists
from pipeline.survivors import SurvivorConfig
from pipeline.url_filter import UrlFilterConfig, url_filter

StageFn = Callable[[pa.Table], pa.Table]
Kind = Literal["rewrite", "filter", "rewrite_filter"]


class Scope(StrictModel):
    """Which kept rows a stage judges; the others pass it untouched."""

    sources: list[str] | None = None  # None: every source
    languages: list[str] | None = None  # None: every language (needs langid when set)
    has_images: bool | None = None  # True: only rows with at least one image; None: any row


# FineWeb's rules were tuned on English web text (Penedo et al. 2024); other languages and
# sources pass them untouched unless a config widens the scope.
_ENGLISH_WEB = Scope(sources=["web"], languages=["en"])
DEFAULT_SCOPES: dict[str, Scope] = {
    "url_filter": Scope(sources=["web"]),
    # code is kept byte for byte (as The Stack keeps it): NFC would rewrite string literals (Tamil in pygments'
    # ezhil lexer), whitespace tidying would change what a diff or a Makefile means
    "clean": Scope(sources=["web", "book", "multimodal"]),
    "book_boilerplate": Scope(sources=["book"]),
    "book_layout": Scope(sources=["book"]),
    "langid": Scope(sources=["web", "book", "multimodal"]),  # code's language comes from its file name
    "image_checks": Scope(has_images=True),  # any source's images
    "caption_filter": Scope(sources=["multimodal"]),  # image-text pairs: their text is a caption
    "gopher_repetition": Scope(sources=["web", "book"], languages=["en"]),  # Gopher's rules cover books too
    "gopher_quality": _ENGLISH_WEB,
    "c4_lines": _ENGLISH_WEB,
    "c4": _ENGLISH_WEB,
    "fineweb_quality": _ENGLISH_WEB,
    "pii_redact": Scope(sources=["web"]),
    "code_license": Scope(sources=["code"]),
    "code_filter": Scope(sources=["code"]),
    "code_pii_redact": Scope(sources=["code"]),
}


# The per-row stages in the order they run (row_stages); a config key names its stage, except ``c4``, which
# configures both of C4's stages (``c4_lines`` removes lines, ``c4`` drops documents), as datatrove's
# C4QualityFilter takes one set of options.
ROW_STAGE_NAMES = (
    "url_filter",
    "clean",
    "book_boilerplate",
    "book_layout",
    "langid",
    "image_checks",
    "caption_filter",
    "gopher_repetition",
    "gopher_quality",
    "c4_lines",
    "c4",
    "fineweb_quality",
    "pii_redact",
    "code_license",
    "code_filter",
    "code_pii_redact",
    "min_length",
)
RENAMED = {"pii": "pii_redact", "code_pii": "code_pii_redact", "length": "min_length"}


def _code_pii() -> PiiConfig:
    return PiiConfig(phones=False)  # BigCode's PII set for code: numbers in code are rarely phone numbers


class CurateConfig(StrictModel):
    """Each stage's settings; ``null`` in the config turns a stage off."""

    clean: CleanConfig = Field(default_factory=CleanConfig)
    url_filter: UrlFilterConfig | None = Field(default_factory=UrlFilterConfig)
    book_boilerplate: GutenbergConfig | None = Field(default_factory=GutenbergConfig)
    book_layout: BookLayoutConfig | None = Field(default_factory=BookLayoutConfig)
    langid: LangIdConfig | None = Field(default_factory=LangIdConfig)
    image_checks: ImageCheckConfig | None = Field(default_factory=ImageCheckConfig)
    caption_filter: CaptionFilterConfig | None = Field(default_factory=CaptionFilterConfig)
    gopher_repetition: GopherRepetitionConfig | None = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig | None = Field(default_factory=GopherQualityConfig)
    c4: C4Config | None = Field(default_factory=C4Config)
    fineweb_quality: FineWebQualityConfig | None = Field(default_factory=FineWebQualityConfig)
    pii_redact: PiiConfig | None = Field(default_factory=PiiConfig)
    code_license: LicenseFilterConfig | None = Field(default_factory=LicenseFilterConfig)
    code_filter: CodeFilterConfig | None = Field(default_factory=CodeFilterConfig)
    code_pii_redact: PiiConfig | None = Field(default_factory=_code_pii)
    min_length: LengthConfig = Field(default_factory=LengthConfig)
    repo_documents: RepoDocConfig = Field(default_factory=RepoDocConfig)  # a shuffle by repository, after these
    exact_dedup: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    # which copy of a duplicate cluster survives, in exact and near dedup alike: originals first
    survivor: SurvivorConfig = Field(default_factory=SurvivorConfig)
    near_dedup: NearDedupConfig | None = Field(default_factory=NearDedupConfig)  # MinHash LSH, after exact dedup
    image_dedup: ImageDedupConfig | None = Field(default_factory=ImageDedupConfig)  # images, after near dedup
    scopes: dict[str, Scope] = Field(default_factory=dict)  # per stage name; replaces that stage's default

    def scope(self, stage: str) -> Scope:
        return self.scopes.get(stage, DEFAULT_SCOPES.get(stage, Scope()))

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: object) -> object:
        """Keys that were renamed to their stage's name: the error says the new one."""
        if isinstance(data, dict):
            old = sorted(k for k in RENAMED if k in data)
            if old:
                raise ValueError("; ".join(f"{k} is now {RENAMED[k]} (config keys are stage names)" for k in old))
        return data

    @model_validator(mode="after")
    def _scopes_name_stages(self) -> CurateConfig:
        unknown = sorted(set(self.scopes) - set(ROW_STAGE_NAMES))
        for name in unknown:
            hint = difflib.get_close_matches(name, ROW_STAGE_NAMES, n=1)
            raise ValueError(
                f"scopes.{name}: not a per-row stage"
                + (f"; did you mean {hint[0]}?" if hint else f" (stages: {', '.join(ROW_STAGE_NAMES)})")
            )
        return self

    @model_validator(mode="after")
    def _languages_need_langid(self) -> CurateConfig:
        if self.langid is None:
            scoped = [s.name for s in row_stages(self) if self.scope(s.name).languages is not None]
            if scoped:
                raise ValueError(
                    f"stages {scoped} are scoped by language but langid is off; "
                    "turn langid on or set their scopes' languages to null"
                )
        return self


@dataclass(frozen=True)
class Stage:
    name: str
    kind: Kind
    fn: StageFn


def row_stages(cfg: CurateConfig) -> list[Stage]:
    """Every per-row stage that is on, in the order they run (FineWeb's order for the web rules)."""
    candidates: list[tuple[str, Kind, object, Callable]] = [
        ("url_filter", "filter", cfg.url_filter, url_filter),
        ("clean", "rewrite", cfg.clean, clean),
        ("book_boilerplate", "rewrite", cfg.book_boilerplate, gutenberg_boilerplate),  # before langid: an
        ("book_layout", "rewrite", cfg.book_layout, book_layout),  # English licence must not sway it
        ("langid", "filter", cfg.langid, langid),
        ("image_checks", "rewrite_filter", cfg.image_checks, image_checks),  # images first: a caption is judged
        ("caption_filter", "filter", cfg.caption_filter, caption_filter),  # with the images its document kept
        ("gopher_repetition", "filter", cfg.gopher_repetition, gopher_repetition),
        ("gopher_quality", "filter", cfg.gopher_quality, gopher_quality),
        ("c4_lines", "rewrite", cfg.c4, c4_lines),
        ("c4", "filter", cfg.c4, c4_document),
        ("fineweb_quality", "filter", cfg.fineweb_quality, fineweb_quality),
        ("pii_redact", "rewrite", cfg.pii_redact, pii_redact),
        ("code_license", "filter", cfg.code_license, license_filter),
        ("code_filter", "filter", cfg.code_filter, code_filter),
        ("code_pii_redact", "rewrite", cfg.code_pii_redact, pii_redact),
        ("min_length", "filter", cfg.min_length, min_length),
    ]
    return [
        Stage(name, kind, (lambda t, f=fn, c=sub: f(t, c))) for name, kind, sub, fn in candidates if sub is not None
    ]


def stage_order(cfg: CurateConfig) -> list[str]:
    """Every stage a record can leave at, in order: what stats.json reconciles along."""
    near = cfg.near_dedup is not None and cfg.near_dedup.enabled
    return (
        ["read"]
        + [s.name for s in row_stages(cfg)]
        + (["exact_dedup"] if cfg.exact_dedup.enabled else [])
        + (["near_dedup"] if near else [])
        + (["repo_document"] if cfg.repo_documents.enabled else [])
        + (["repo_near_dedup"] if near and cfg.repo_documents.enabled else [])
        + (["image_dedup"] if cfg.image_dedup is not None and cfg.image_dedup.enabled else [])
    )


def _record_rewrites(before: pa.Table, out: pa.Table, name: str) -> pa.Table:
    changed = pc.not_equal(out["text"], before["text"]).to_pylist()
    if pc.sum(pc.list_value_length(before["images"])).as_py() or pc.sum(pc.list_value_length(out["images"])).as_py():
        # a new or removed image counts as a rewrite too (image hashes only: no bytes compared)
        changed = [
            c or a != b
            for c, a, b in zip(
                changed, image_field_lists(before["images"], "sha256"), image_field_lists(out["images"], "sha256")
            )
        ]
    tags = out["rewrite_tags"].to_pylist() if "rewrite_tags" in out.schema.names else [None] * out.num_rows
    rewrites = [
        r + ([name] if c else []) + [f"{name}:{t}" for t in tg or []]
        for r, c, tg in zip(out["rewrites"].to_pylist(), changed, tags)
    ]
    if "rewrite_tags" in out.schema.names:
        out = out.drop_columns(["rewrite_tags"])
    return out.set_column(out.schema.get_field_index("rewrites"), "rewrites", pa.array(rewrites, pa.list_(pa.string())))


def _record_drops(out: pa.Table, name: str) -> pa.Table:
    reason = out["drop_reason"]
    dropped = pc.is_valid(reason)
    status = pa.scalar(DROPPED)
    if "quarantine" in out.schema.names:
        status = pc.if_else(pc.fill_null(out["quarantine"], False), pa.scalar(QUARANTINED), status)
    detail = out["drop_detail"] if "drop_detail" in out.schema.names else out["detail"]
    out = out.drop_columns([c for c in ("drop_reason", "quarantine", "drop_detail") if c in out.schema.names])
    for col, value in (("status", status), ("stage", pa.scalar(name)), ("reason", reason), ("detail", detail)):
        merged = pc.if_else(dropped, value, out[col])
        out = out.set_column(out.schema.get_field_index(col), col, merged.cast(pa.string()))
    return out


def _in_scope(table: pa.Table, scope: Scope) -> pa.ChunkedArray:
    mask = pc.equal(table["status"], KEPT)
    if scope.sources is not None:
        mask = pc.and_(mask, pc.is_in(table["source"], pa.array(scope.sources, pa.string())))
    if scope.has_images is not None:
        with_images = pc.greater(pc.fill_null(pc.list_value_length(table["images"]), 0), 0)
        mask = pc.and_(mask, with_images if scope.has_images else pc.invert(with_images))
    if scope.languages is not None:
        mask = pc.and_kleene(mask, pc.fill_null(pc.is_in(table["language"], pa.array(scope.languages)), False))
    return mask


def run_row_stages(table: pa.Table, cfg: CurateConfig) -> pa.Table:
    """Run every per-row stage on the rows in its scope; the others pass through untouched."""
    for stage in row_stages(cfg):
        live = _in_scope(table, cfg.scope(stage.name))
        todo, rest = table.filter(live), table.filter(pc.invert(live))
        if todo.num_rows:
            out = stage.fn(todo)
            if stage.kind != "filter":
                out = _record_rewrites(todo, out, stage.name)
            todo = _record_drops(out, stage.name) if stage.kind != "rewrite" else out
            todo = todo.select(table.schema.names).cast(table.schema)
        table = pa.concat_tables([todo, rest]) if rest.num_rows else todo
    return table
