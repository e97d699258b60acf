"""Project Gutenberg header, footer, licence and producer credits removed from books.

The markers follow the ``gutenberg`` package's ``strip_headers`` (c-w/gutenberg,
``gutenberg/_domain_model/text.py``, itself a port of Johannes Krugel's strip_headers.cpp): the
last start marker in the first 600 lines ends the header, the first end marker after it starts
the footer (the licence follows the end marker, so it goes with it). Markers are matched as
patterns, case-insensitively, after leading ``*`` and spaces, which also catches
"*End of The Project Gutenberg Etext". Its broadest markers ("The Project Gutenberg",
"by Project Gutenberg", "Produced by") are not line markers here: they cut real text when they
occur in it. Leading credit paragraphs ("Produced by ...", "This is the ... Project Gutenberg
release of") are dropped the way rOpenSci gutenbergr's ``gutenberg_strip`` does, and only in a
book that names Project Gutenberg near its start or end.
"""

from __future__ import annotations

import re

import pyarrow as pa

from pipeline.books.lines import drop_lines
from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec

_LEAD = r"^[\s*]*"
START = re.compile(
    _LEAD + r"(start of (the|this) project gutenberg|end\W*the small print|start of the copyrighted)", re.I
)
END = re.compile(
    _LEAD + r"(end of (the |this )?project gutenberg|end of the copyrighted|end of this is copyrighted"
    r"|ende dieses? projekt? gutenberg|ende dieses? project gutenberg|fin de project gutenberg)",
    re.I,
)
CREDIT = re.compile(
    r"produced by|prepared by|transcribed (from|by)|project gutenberg|distributed proofread"
    r"|^special thanks|^e-?text scanned",
    re.I,
)
LEGALESE = ("<<THIS ELECTRONIC VERSION OF", "SERVICE THAT CHARGES FOR DOWNLOAD")  # c-w: LEGALESE_START/END_MARKERS


class GutenbergConfig(StrictModel):
    header: bool = True
    footer: bool = True
    credits: bool = True
    licence_blocks: bool = True  # the "<<THIS ELECTRONIC VERSION ...>>" notices repeated inside some etexts
    header_max_lines: int = 600  # c-w/gutenberg: start markers are looked for in the first 600 lines only
    max_credit_paragraphs: int = 10
    mention_window_lines: int = 100  # "Project Gutenberg" this near either end marks a Gutenberg book


def _credits(lines: list[str], start: int, limit: int) -> tuple[int, int]:
    """Where the leading credit paragraphs end, and how many there were."""
    i, count = start, 0
    while count < limit:
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not CREDIT.search(lines[i].strip()):
            break
        while i < len(lines) and lines[i].strip():
            i += 1
        count += 1
    return i, count


def _licence_blocks(lines: list[str]) -> tuple[set[int], int]:
    """Line numbers of the closed licence notices, and how many notices there are."""
    found: set[int] = set()
    count, start = 0, None
    for i, line in enumerate(lines):
        if start is None and line.lstrip().startswith(LEGALESE[0]):
            start = i
        if start is not None and LEGALESE[1] in line:
            found.update(range(start, i + 1))
            count, start = count + 1, None
    return found, count


def strip_gutenberg(text: str, cfg: GutenbergConfig) -> tuple[str, list[str]]:
    """The text between the markers, without credits and notices; one tag per part removed."""
    lines, tags = text.split("\n"), []
    head = next((i for i in range(min(len(lines), cfg.header_max_lines) - 1, -1, -1) if START.match(lines[i])), None)
    if cfg.header and head is not None:
        lines, tags = lines[head + 1 :], ["gutenberg_header"]
    end = next((i for i, line in enumerate(lines) if END.match(line)), None)
    if cfg.footer and end is not None:
        lines, tags = lines[:end], tags + ["gutenberg_footer"]
    window = lines[: cfg.mention_window_lines] + lines[-cfg.mention_window_lines :]
    if cfg.credits and (head is not None or end is not None or any("project gutenberg" in w.lower() for w in window)):
        cut, count = _credits(lines, 0, cfg.max_credit_paragraphs)
        lines, tags = lines[cut:], tags + ["gutenberg_credit"] * count
    if cfg.licence_blocks:
        notices, count = _licence_blocks(lines)
        lines, tags = drop_lines(lines, notices), tags + ["gutenberg_licence"] * count
    return ("\n".join(lines).strip("\n") if tags else text), tags


def gutenberg_boilerplate(table: pa.Table, cfg: GutenbergConfig) -> pa.Table:
    """Rewrite stage: each book without its Gutenberg boilerplate; one tag per part removed."""
    texts, tags = [], []
    for text in table["text"].to_pylist():
        new, found = strip_gutenberg(text, cfg)
        texts.append(new)
        tags.append(found)
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.large_string()))
    return table.append_column("rewrite_tags", pa.array(tags, pa.list_(pa.string())))


SPEC = StageSpec("book_boilerplate", "rewrite", gutenberg_boilerplate, GutenbergConfig, Scope(sources=["book"]))
