"""The print layout left in book text, undone: one rewrite stage, each rule switchable.

Order matters: page furniture goes first (a page number between two halves of a split word
hides the split), then contents and index sections, then split words are rejoined, and
paragraphs re-flowed last, when only text is left. Runs after ``clean`` (LF line ends, no
control characters). A book stays one document: nothing here splits it.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from pipeline.books.hyphen import HyphenConfig, join_hyphens
from pipeline.books.index import IndexConfig, index_sections
from pipeline.books.lines import drop_lines
from pipeline.books.pages import PageNumberConfig, RunningHeaderConfig, page_number_lines, running_header_lines
from pipeline.books.reflow import ReflowConfig, reflow
from pipeline.books.toc import TocConfig, toc_sections
from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec


class BookLayoutConfig(StrictModel):
    """``null`` turns a rule off."""

    page_numbers: PageNumberConfig | None = Field(default_factory=PageNumberConfig)
    running_headers: RunningHeaderConfig | None = Field(default_factory=RunningHeaderConfig)
    toc: TocConfig | None = Field(default_factory=TocConfig)
    index: IndexConfig | None = Field(default_factory=IndexConfig)
    hyphen_join: HyphenConfig | None = Field(default_factory=HyphenConfig)
    reflow: ReflowConfig | None = Field(default_factory=ReflowConfig)


def clean_layout(text: str, cfg: BookLayoutConfig) -> tuple[str, list[str]]:
    """The text without its layout, and one tag per event (line, section, word or paragraph)."""
    lines, tags = text.split("\n"), []
    pages = page_number_lines(lines, cfg.page_numbers) if cfg.page_numbers else set()
    headers = running_header_lines(lines, cfg.running_headers) - pages if cfg.running_headers else set()
    tags += ["page_number"] * len(pages) + ["running_header"] * len(headers)
    if pages or headers:
        lines = drop_lines(lines, pages | headers)
    toc = toc_sections(lines, cfg.toc) if cfg.toc else []
    index = index_sections(lines, cfg.index) if cfg.index else []
    tags += ["toc"] * len(toc) + ["index"] * len(index)
    if toc or index:
        lines = drop_lines(lines, {k for a, b in toc + index for k in range(a, b)})
    if cfg.hyphen_join:
        lines, joined = join_hyphens(lines, cfg.hyphen_join)
        tags += ["hyphen_join"] * joined
    if cfg.reflow:
        lines, paragraphs = reflow(lines, cfg.reflow)
        tags += ["reflow"] * paragraphs
    return ("\n".join(lines) if tags else text), tags


def book_layout(table: pa.Table, cfg: BookLayoutConfig) -> pa.Table:
    """Rewrite stage: each book's text without page furniture, contents, index and hard wraps."""
    texts, tags = [], []
    for text in table["text"].to_pylist():
        new, found = clean_layout(text, cfg)
        texts.append(new)
        tags.append(found)
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.large_string()))
    return table.append_column("rewrite_tags", pa.array(tags, pa.list_(pa.string())))


SPEC = StageSpec("book_layout", "rewrite", book_layout, BookLayoutConfig, Scope(sources=["book"]))
