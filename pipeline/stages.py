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

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, create_model, model_validator

from pipeline.books import boilerplate as book_boilerplate
from pipeline.books import layout as book_layout
from pipeline.code import filters as code_filters
from pipeline.code import license_filter as code_license_filter
from pipeline.code.repo_documents import RepoDocConfig
from pipeline.config_base import StrictModel
from pipeline.decontam.config import DecontamConfig
from pipeline.dedup.exact import ExactDedupConfig
from pipeline.dedup.near import NearDedupConfig
from pipeline.dedup.survivors import SurvivorConfig
from pipeline.images import caption_filters
from pipeline.images import checks as image_checks
from pipeline.images.dedup import ImageDedupConfig
from pipeline.quality.config import QualityConfig
from pipeline.schema import DROPPED, KEPT, QUARANTINED, image_field_lists
from pipeline.stage_spec import Kind, Scope, StageSpec
from pipeline.text import c4_filters, clean, fineweb_filters, gopher_quality, gopher_repetition, langid, pii
from pipeline.text.batch_words import shared_words
from pipeline.web import url_filter

StageFn = Callable[[pa.Table], pa.Table]

# The per-row stages in the order they run (FineWeb's order for the web rules). Adding a stage: its module
# declares a StageSpec; one line here; a test.
STAGES: tuple[StageSpec, ...] = (
    url_filter.SPEC,
    clean.CLEAN_SPEC,
    book_boilerplate.SPEC,  # before langid: an English licence must not sway it
    book_layout.SPEC,
    langid.SPEC,
    image_checks.SPEC,  # images first: a caption is judged with the images its document kept
    caption_filters.SPEC,
    gopher_repetition.SPEC,
    gopher_quality.SPEC,
    c4_filters.C4_LINES_SPEC,
    c4_filters.C4_SPEC,
    fineweb_filters.SPEC,
    pii.PII_SPEC,
    code_license_filter.SPEC,
    code_filters.SPEC,
    pii.CODE_PII_SPEC,
    clean.MIN_LENGTH_SPEC,
)
ROW_STAGE_NAMES = tuple(s.name for s in STAGES)
DEFAULT_SCOPES: dict[str, Scope] = {s.name: s.scope for s in STAGES}
RENAMED = {"pii": "pii_redact", "code_pii": "code_pii_redact", "length": "min_length"}


class _CurateBase(StrictModel):
    """Each stage's settings, under the stage's name (STAGES); ``null`` in the config turns a stage off."""

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
    def _scopes_name_stages(self) -> _CurateBase:
        unknown = sorted(set(self.scopes) - set(ROW_STAGE_NAMES))
        for name in unknown:
            hint = difflib.get_close_matches(name, ROW_STAGE_NAMES, n=1)
            raise ValueError(
                f"scopes.{name}: not a per-row stage"
                + (f"; did you mean {hint[0]}?" if hint else f" (stages: {', '.join(ROW_STAGE_NAMES)})")
            )
        return self

    @model_validator(mode="after")
    def _languages_need_langid(self) -> _CurateBase:
        if getattr(self, "langid", None) is None:
            scoped = [s.name for s in row_stages(self) if self.scope(s.name).languages is not None]
            if scoped:
                raise ValueError(
                    f"stages {scoped} are scoped by language but langid is off; "
                    "turn langid on or set their scopes' languages to null"
                )
        return self


def _stage_field(spec: StageSpec) -> tuple[object, object]:
    kind = spec.config | None if spec.optional else spec.config
    return kind, Field(default_factory=spec.default or spec.config)


# the per-row stages' settings in stage order (one key for stages that share them), then the dedup passes'
CurateConfig = create_model(
    "CurateConfig",
    __base__=_CurateBase,
    __module__=__name__,
    **{s.key: _stage_field(s) for s in STAGES},
    repo_documents=(RepoDocConfig, Field(default_factory=RepoDocConfig)),  # a shuffle by repository, after these
    exact_dedup=(ExactDedupConfig, Field(default_factory=ExactDedupConfig)),
    # which copy of a duplicate cluster survives, in exact and near dedup alike: originals first
    survivor=(SurvivorConfig, Field(default_factory=SurvivorConfig)),
    near_dedup=(NearDedupConfig | None, Field(default_factory=NearDedupConfig)),  # MinHash LSH, after exact dedup
    image_dedup=(ImageDedupConfig | None, Field(default_factory=ImageDedupConfig)),  # images, after near dedup
    decontam=(DecontamConfig | None, Field(default=None)),  # evaluation n-grams, after every dedup step
    quality=(QualityConfig | None, Field(default=None)),  # a fastText classifier's selection, after every dedup
    scopes=(dict[str, Scope], Field(default_factory=dict)),  # per stage name; replaces that stage's default
)


@dataclass(frozen=True)
class Stage:
    name: str
    kind: Kind
    fn: StageFn


def row_stages(cfg: _CurateBase) -> list[Stage]:
    """Every per-row stage that is on, in the order they run."""
    return [
        Stage(spec.name, spec.kind, (lambda t, f=spec.fn, c=sub: f(t, c)))
        for spec in STAGES
        if (sub := getattr(cfg, spec.key)) is not None
    ]


def stage_order(cfg: _CurateBase) -> list[str]:
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
        + (["decontam"] if cfg.decontam is not None else [])
        + (["quality"] if cfg.quality is not None else [])
    )


def stages_acting_on(cfg: _CurateBase, source: str, carries_images: bool) -> list[str]:
    """The stages of stage_order() that can act on ``source`` (a source name; ``carries_images`` when
    any of its inputs yields images): a source's funnel in stats.json and the report lists only these."""
    return [name for name in stage_order(cfg) if _can_act(cfg, name, source, carries_images)]


def _can_act(cfg: _CurateBase, name: str, source: str, carries_images: bool) -> bool:
    if name in ROW_STAGE_NAMES:
        scope = cfg.scope(name)
        return (scope.sources is None or source in scope.sources) and (carries_images or not scope.has_images)
    if name == "near_dedup":
        return cfg.near_dedup is not None and source not in cfg.near_dedup.skip_sources
    if name in ("repo_document", "repo_near_dedup"):
        return source == "code"  # repository documents are built from the code source's files
    if name == "image_dedup":
        return carries_images and cfg.image_dedup is not None and source in cfg.image_dedup.sources
    if name == "decontam":
        return cfg.decontam is not None and (cfg.decontam.sources is None or source in cfg.decontam.sources)
    if name == "quality":
        return cfg.quality is not None and (cfg.quality.sources is None or source in cfg.quality.sources)
    return True  # read, exact_dedup: every source


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


def run_row_stages(table: pa.Table, cfg: _CurateBase) -> pa.Table:
    """Run every per-row stage on the rows in its scope; the others pass through untouched."""
    with shared_words():  # the word-counting filters split each text once
        return _run_stages(table, cfg)


def _run_stages(table: pa.Table, cfg: _CurateBase) -> pa.Table:
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
