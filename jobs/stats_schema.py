"""The schema of a run's ``stats.json``, versioned: what each key holds, in one place.

Every run validates what it writes against ``RunStats`` (an off-schema stats.json is a bug: the run
logs it as an error and the sample-run tests fail on it), and ``docs/stats.md`` is generated from
these models (``schema_markdown()``; a test keeps the two equal). Bump ``SCHEMA_VERSION`` when a key
is renamed, removed or changes meaning; a new optional key keeps the version.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
Count = int
Status = Literal["dropped", "quarantined"]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CurateTotals(_Schema):
    """Records over every source: ``in - merged + created == kept + dropped + quarantined``."""

    in_: Count = Field(alias="in", description="records read")
    kept: Count = Field(description="documents kept (in curated/)")
    dropped: Count = Field(description="records dropped, each with its stage and reason (in rejects/)")
    quarantined: Count = Field(description="records that could not be read or judged (in rejects/, with the reason)")
    merged: Count = Field(description="records merged into a built document (code files into their repository's)")
    created: Count = Field(description="documents built from merged records")


class SourceTotals(_Schema):
    """One source's records; ``reconciled`` is false when one went missing."""

    in_: Count = Field(alias="in", description="records read")
    kept: Count
    dropped: Count
    quarantined: Count
    kept_chars: Count = Field(description="characters of the kept documents (the tokenizer samples by these)")
    reconciled: bool = Field(description="in - merged + created == kept + dropped + quarantined")
    merged: Count | None = Field(None, description="only when records were merged")
    created: Count | None = Field(None, description="only when documents were built")


class FunnelStep(_Schema):
    """One stage's effect on one source's documents, in pipeline order. A source lists only the stages
    that can act on it (by scope and source) and any other that did."""

    source: str
    stage: str
    in_: Count = Field(alias="in", description="documents entering the stage")
    out: Count = Field(description="documents leaving it: in - dropped - quarantined - merged + created")
    dropped: Count
    quarantined: Count
    rewritten: Count = Field(description="documents whose text or images the stage changed")
    chars_removed: Count = Field(description="characters of the documents it dropped or quarantined")
    merged: Count | None = Field(None, description="only for a stage that merges records")
    created: Count | None = Field(None, description="only for a stage that builds documents")


class ReasonCount(_Schema):
    """Documents dropped or quarantined for one reason (the names each stage declares: docs/stages.md)."""

    source: str
    status: Status
    stage: str
    reason: str
    docs: Count
    chars: Count


class LanguageReason(_Schema):
    status: Status
    stage: str
    reason: str
    docs: Count


class LanguageCount(_Schema):
    """One source's documents in one language (lid.176 code; null: dropped before language ID)."""

    source: str
    language: str | None
    kept: Count
    dropped: Count
    quarantined: Count
    kept_chars: Count
    reasons: list[LanguageReason] = Field(description="drop and quarantine reasons in this language, most first")


class RewriteEvent(_Schema):
    """Edits inside kept documents, e.g. ``pii_redact`` ``email``: one per address replaced."""

    source: str
    stage: str
    type: str
    count: Count


class NearDedupSummary(_Schema):
    """MinHash near-duplicate detection (``near_dedup``, and ``repo_near_dedup`` over repositories)."""

    documents: Count = Field(description="documents signed")
    partitions: Count = Field(description="shuffle partitions of the band buckets")
    checked: Count = Field(description="candidate pairs checked against their true Jaccard")
    confirmed: Count = Field(description="candidate pairs confirmed as near duplicates")
    rounds: Count = Field(description="rounds of the connected-components pass")
    dropped: Count = Field(description="documents dropped as near duplicates")
    chain_dropped: Count = Field(description="of those, dropped through a chain of pairs rather than one")


class ImageDedupSummary(_Schema):
    """Exact and near-duplicate images, and the documents dropped for them."""

    images: Count = Field(description="image slots judged")
    distinct: Count = Field(description="distinct images after exact and near matching")
    exact_duplicates: Count
    near_duplicates: Count = Field(description="images confirmed as near copies by the pixel check")
    frequent_images: Count = Field(description="images in more documents than the frequency cap allows")
    images_removed: Count = Field(description="image slots removed from kept documents")
    unhashed: Count = Field(description="images that could not be decoded to hash")
    edges_refused: Count = Field(description="hash matches the pixel check refused")
    rounds: Count
    dropped_frequent_image: Count
    dropped_near_duplicate_image: Count


class DecontamTask(_Schema):
    """One evaluation set: its items, those found in the corpus, and the documents they were found in."""

    items: Count
    items_indexed: Count = Field(description="items long enough to give an n-gram (or a whole short match)")
    items_found: Count = Field(description="items with at least one n-gram in a document")
    found_item_ids: list[str] = Field(description="the first 50 of them, sorted")
    documents: dict[str, Count] = Field(description="per source, documents an item of this set was found in")


class CommonGram(_Schema):
    """An evaluation n-gram left out as common text, and how many documents hold it."""

    ngram: str = Field(description="its words as the rule sees them")
    task: str
    item: str
    documents: Count


class DecontamSummary(_Schema):
    """Decontamination against evaluation sets (``decontam``, after every dedup step)."""

    rule: Literal["deepseek_coder", "datatrove"]
    n: Count = Field(description="the n-gram length")
    mode: Literal["drop", "redact"]
    indexed_ngrams: Count
    tasks: dict[str, DecontamTask]
    documents: dict[str, Count] = Field(description="per source, documents dropped (or redacted)")
    common_documents: Count | None = Field(
        description="GPT-3's rule: an n-gram found in more documents than this is ignored (null: off)"
    )
    common_ngrams: Count = Field(description="indexed n-grams ignored as common")
    common_examples: list[CommonGram] = Field(description="the 20 found in the most documents")


class QualityGroup(_Schema):
    """One group the quality step cut (a source, or a source and language)."""

    scored: Count
    kept: Count
    dropped: Count
    cut: float | None = Field(None, description="the lowest score kept (top_fraction: this group's; threshold)")
    histogram_span: list[float] = Field(description="the group's lowest and highest score: the histograms' span")
    kept_histogram: list[Count] = Field(description="kept documents per score bin, 20 equal bins over the span")
    dropped_histogram: list[Count] = Field(description="dropped documents per score bin")


class QualitySummary(_Schema):
    """The quality classifier and what it selected (``quality``, after every dedup step)."""

    model_sha256: str = Field(description="sha256 of the fastText model that scored")
    trained: bool = Field(description="trained on this run (quality/model.bin) rather than given")
    training: dict[str, float | int | str] = Field(
        default_factory=dict, description="examples, seconds and held-out accuracy and ROC AUC (quality/model.json)"
    )
    select: Literal["top_fraction", "threshold", "pareto"]
    scored: Count = Field(description="documents scored")
    dropped: Count = Field(description="documents dropped as quality:low_score")
    groups: dict[str, QualityGroup]
    model_loads: Count = Field(description="times a worker process loaded the model")
    worker_processes: Count = Field(description="processes that scored")
    docs_per_s_per_core: float = Field(description="scoring rate: documents per second of a task's time")


class CurateStats(_Schema):
    """The curate pass: per-source totals, the funnel, every reason, and the dedup summaries."""

    reconciled: bool = Field(description="every source reconciled and every funnel ends at its kept count")
    totals: CurateTotals
    sources: dict[str, SourceTotals]
    funnel: list[FunnelStep]
    reasons: list[ReasonCount]
    rewrite_events: list[RewriteEvent]
    languages: list[LanguageCount] = Field(
        default_factory=list, description="per source and language, for the sources language ID judges"
    )
    near_dedup: NearDedupSummary | None = None
    repo_near_dedup: NearDedupSummary | None = None
    image_dedup: ImageDedupSummary | None = None
    decontam: DecontamSummary | None = None
    quality: QualitySummary | None = None
    seconds: float = Field(description="wall time of the pass when it last ran")
    timings: dict[str, float] = Field(description="seconds per step, e.g. curate/read")


class TokenizerStats(_Schema):
    """The tokenizer trained on the curated text (tokenizer/)."""

    path: str = Field(description="tokenizer.json, relative to tokenizer/")
    sha256: str
    vocab_size: Count
    special_tokens: dict[str, int] = Field(description="fixed ids: a contract with the trainer")
    timings: dict[str, float]


class Histogram(_Schema):
    """Bin i counts values in [edges[i], edges[i + 1]), per source (or ``all``)."""

    unit: str = Field(description="what is counted")
    edges: list[float] = Field(description="bin edges; one more than the bins")
    counts: dict[str, list[Count]] = Field(description="per source, or all")


class MixStats(_Schema):
    """The source mix: target, plan and what the shards hold, as shares of tokens."""

    policy: Literal["exact", "fill"] = Field(description="which gives when a source is scarce: the total or the shares")
    budget: Count = Field(description="tokens the plan aims at")
    planned_tokens: Count
    max_repeat: float = Field(description="the most a source's tokens may be repeated")
    optional: list[str] = Field(description="sources that may fall short of their share")
    tolerance_pts: float = Field(description="percentage points off target before a warning")
    target: dict[str, float] = Field(description="the configured weights as shares")
    planned: dict[str, float] = Field(description="the shares the plan gives, caps applied")
    achieved: dict[str, float] = Field(description="the shares the shards hold")
    binding: dict[str, str] = Field(
        description="what bound each source: budget, cap, sets the total, total set by X, empty, no weight"
    )
    off_target_pts: dict[str, float] = Field(description="sources off target by more than tolerance_pts")
    rates: dict[str, float] = Field(description="the sampling rate per source (over 1: repeated)")
    tokens_before_mix: dict[str, Count] = Field(description="tokens per source before sampling")


class TokenFunnel(_Schema):
    """One source's tokens through the pack pass."""

    tokenized: Count = Field(description="tokens of its curated documents")
    after_mix: Count = Field(description="after the mix sampled them (repeats counted each time)")
    packed: Count = Field(description="in the shards (truncation of overlong documents removed)")


class TokenEfficiency(_Schema):
    """How much text one token of the trained tokenizer holds, in one language (tokenized documents)."""

    documents: Count
    tokens: Count
    chars: Count
    bytes: Count = Field(description="UTF-8")
    chars_per_token: float
    bytes_per_token: float


class TokenizeEncoder(_Schema):
    """The engine that encoded the documents (the same ids either way: tokenization/tokenizer/fast_encode.py)."""

    engine: Literal["tiktoken", "tokenizers"]
    reason: str | None = Field(description="why not tiktoken (null when it was used)")


class PackStats(_Schema):
    """The pack pass: shards, the mix and how full the rows are."""

    rows: Count = Field(description="packed sequences of seq_len tokens")
    tokens: Count = Field(description="tokens in them (padding excluded)")
    source_tokens: dict[str, Count]
    fill: float = Field(description="tokens / (rows * seq_len)")
    documents: Count = Field(description="documents packed (a document repeated by the mix counts each time)")
    pieces: Count = Field(description="document pieces placed in rows")
    truncated_documents: Count
    overlong_documents: Count = Field(description="documents longer than one row")
    shards: Count
    mix: MixStats
    documents_before_mix: dict[str, Count]
    token_funnel: dict[str, TokenFunnel]
    token_efficiency: dict[str, TokenEfficiency] = Field(
        default_factory=dict, description="per language language ID gave (code is not listed)"
    )
    encoder: TokenizeEncoder
    histograms: dict[str, Histogram] = Field(description="document_tokens, document_chars, row_fill")
    shard_dir: str
    timings: dict[str, float]


class RunStats(_Schema):
    """``stats.json``: one key per pass that ran, and the timings of all of them."""

    schema_version: Literal[1] = Field(description="bumped when a key is renamed, removed or changes meaning")
    curate: CurateStats
    tokenizer: TokenizerStats | None = Field(None, description="absent when the run stopped after curate")
    pack: PackStats | None = Field(None, description="absent when the run stopped before pack")
    timings: dict[str, float] = Field(description="seconds per step of every pass, e.g. pack/tokenize")


def check_stats(stats: dict) -> list[str]:
    """The ways ``stats`` departs from the schema, one line each (empty when it conforms)."""
    from pydantic import ValidationError

    try:
        RunStats.model_validate(stats)
    except ValidationError as e:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
    return []


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "").replace("jobs.stats_schema.", "")
    return text.removesuffix(" | None")  # the table says "(optional)"


DOCS = "docs/stats.md"
BEGIN, END = "<!-- schema: generated by jobs/stats_schema.py (make docs) -->", "<!-- schema: end -->"


def update_docs(path: str = DOCS) -> bool:
    """Rewrite the generated section of docs/stats.md; return whether it changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{schema_markdown()}\n{END}{tail}"
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


def schema_markdown() -> str:
    """docs/stats.md's reference section: every model, its keys, their types and meaning."""
    lines = [f"Schema version {SCHEMA_VERSION}.", ""]
    models = [RunStats, CurateStats, CurateTotals, SourceTotals, FunnelStep, ReasonCount, RewriteEvent, LanguageCount]
    models += [LanguageReason, DecontamSummary, DecontamTask, QualitySummary, QualityGroup, TokenEfficiency]
    models += [NearDedupSummary, ImageDedupSummary, TokenizerStats, PackStats, MixStats, TokenFunnel, Histogram]
    for model in models:
        lines += [f"### {model.__name__}", "", " ".join((model.__doc__ or "").split()), ""]
        lines += ["| key | type | meaning |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            optional = " (optional)" if not field.is_required() else ""
            lines.append(
                f"| `{field.alias or name}` | `{_type_name(field.annotation)}`{optional} | {field.description or ''} |"
            )
        lines.append("")
    return "\n".join(lines)
