"""Which member of a duplicate cluster survives: one order for exact and near dedup, favouring originals.

A document's rank is a string that sorts in survivor order, by ``priority``: ``original`` (not under
a vendored path: ``vendor/``, ``third_party/``, ``node_modules/``...), ``declared_language`` (in a
language the corpus declares its originals in: a partial translation loses to its original),
``permissive_licence`` and ``stars`` (code: The Stack keeps permissive code and ranks repositories
by stars), optionally ``longest`` or ``shortest``; the id breaks ties (the earliest id wins, digits
compared as numbers: line 449 of a file before line 1289).

A near-dedup vertex is ``old flag + rank + U+001E + id + U+001F + file + group``: an incremental run's
old documents first (published, never dropped), then the rank. Connected components take the
minimum vertex as their label, so the label is the survivor and no join is needed to find it.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.code.license_filter import PERMISSIVE, expression_allowed, normalize_spdx
from pipeline.config_base import StrictModel
from pipeline.text.declared_language import declared_language, primary

Criterion = Literal["original", "declared_language", "permissive_licence", "stars", "longest", "shortest"]
FILE_DIGITS, GROUP_DIGITS = 9, 7  # where the document lives: curated file, then a block of its rows
ID_START, ID_END = "\x1e", "\x1f"
_SEGMENTS = re.compile(r"[/#\\]")
# Folders that hold someone else's code: package managers' and the conventional vendoring names (GitHub
# linguist's vendor.yml lists these among others)
VENDORED_DIRS = [
    "vendor",
    "vendors",
    "vendored",
    "_vendor",
    "_vendored",
    "third_party",
    "third-party",
    "thirdparty",
    "3rdparty",
    "external",
    "externals",
    "extern",
    "deps",
    "node_modules",
    "bower_components",
    "site-packages",
    "dist-packages",
]


class SurvivorConfig(StrictModel):
    priority: list[Criterion] = Field(
        default_factory=lambda: ["original", "declared_language", "permissive_licence", "stars"]
    )
    vendored_dirs: list[str] = Field(default_factory=lambda: list(VENDORED_DIRS))  # path segments, any case
    # the originals' languages, best first (DeepSeek trains on both); an undeclared document ranks with the first,
    # any other language after the last
    languages: list[str] = Field(default_factory=lambda: ["en", "zh"], max_length=9)
    # SPDX ids or expressions ("MIT OR Apache-2.0"), judged as the code licence filter judges them
    permissive_licences: list[str] = Field(default_factory=lambda: list(PERMISSIVE))
    licence_fields: list[str] = Field(default_factory=lambda: ["license", "licence", "licenses"])
    stars_fields: list[str] = Field(default_factory=lambda: ["stars", "max_stars_count", "stars_count"])


def is_vendored(ident: str, vendored: frozenset[str]) -> bool:
    """A document whose id has a vendored folder among its path segments."""
    return any(part.lower() in vendored for part in _SEGMENTS.split(ident)[:-1])


def _meta(raw: str | None, ident: str, cfg: SurvivorConfig) -> tuple[str | None, int, str | None]:
    """The licence (lowercased), star count and declared language of a document (pipeline/text/declared_language.py)."""
    meta = json.loads(raw) if raw else {}
    lic = next((meta[f] for f in cfg.licence_fields if meta.get(f)), None)
    if isinstance(lic, list):  # a repository's licences: every one applies
        lic = " AND ".join(map(str, lic)) if lic else None
    star = next((meta[f] for f in cfg.stars_fields if meta.get(f) is not None), 0)
    return (
        str(lic).lower() if lic is not None else None,
        int(star) if isinstance(star, (int, float)) else 0,
        declared_language(ident, meta),
    )


def ranks(ids: list[str], metas: list[str | None], chars: list[int], cfg: SurvivorConfig) -> list[str]:
    """Each document's rank: a string that sorts in survivor order, the criteria at fixed width, then the id in
    natural order (ties: the earliest id wins)."""
    permissive = {normalize_spdx(x) for x in cfg.permissive_licences}
    vendored, languages = frozenset(d.lower() for d in cfg.vendored_dirs), [primary(x) for x in cfg.languages]
    out = []
    for ident, raw, n in zip(ids, metas, chars):
        lic, star, language = _meta(raw, ident, cfg)
        parts = []
        for c in cfg.priority:
            if c == "original":
                parts.append("1" if is_vendored(ident, vendored) else "0")
            elif c == "declared_language":  # undeclared ranks with the first language: presumed an original
                parts.append(
                    str(
                        languages.index(language)
                        if language in languages
                        else 0
                        if language is None
                        else len(languages)
                    )
                )
            elif c == "permissive_licence":
                parts.append("0" if lic and expression_allowed(lic, permissive) else "1")
            elif c == "stars":
                parts.append(f"{10**12 - 1 - min(max(star, 0), 10**12 - 1):012d}")
            elif c == "longest":
                parts.append(f"{10**15 - 1 - min(n, 10**15 - 1):015d}")
            else:
                parts.append(f"{min(n, 10**15 - 1):015d}")
        out.append("".join(parts) + natural_key(ident))
    return out


def natural_key(ident: str) -> str:
    """The id with each run of digits prefixed by its length, so that ``#449`` sorts before ``#1289``
    (the earliest record of a file wins ties, not the first in character order)."""
    return re.sub(r"\d+", lambda m: f"{len(m.group().lstrip('0') or '0'):03d}{m.group().lstrip('0') or '0'}", ident)


def vertices(table: pa.Table, files: list[int], groups: list[int], old: bool) -> pa.Array:
    """Vertex names for signature rows (columns id, rank) at ``(file, group)``."""
    flag = "0" if old else "1"
    return pa.array(
        [
            f"{flag}{rank}{ID_START}{ident}{ID_END}{f:0{FILE_DIGITS}d}{g:0{GROUP_DIGITS}d}"
            for ident, rank, f, g in zip(table["id"].to_pylist(), table["rank"].to_pylist(), files, groups)
        ],
        pa.string(),
    )


def vertex_ids(v: pa.Array | pa.ChunkedArray) -> pa.Array:
    after = pc.replace_substring_regex(v, "^[^\x1e]*\x1e", "", max_replacements=1)
    sliced = pc.utf8_slice_codeunits(after, 0, -(FILE_DIGITS + GROUP_DIGITS + 1))
    return sliced.combine_chunks() if isinstance(sliced, pa.ChunkedArray) else sliced


def vertex_files(v: pa.Array | pa.ChunkedArray) -> pa.Array:
    return _number(v, -(FILE_DIGITS + GROUP_DIGITS), -GROUP_DIGITS)


def vertex_groups(v: pa.Array | pa.ChunkedArray) -> pa.Array:
    return _number(v, -GROUP_DIGITS, None)


def _number(v: pa.Array | pa.ChunkedArray, start: int, stop: int | None) -> pa.Array:
    out = pc.cast(pc.utf8_slice_codeunits(v, start, stop) if stop else pc.utf8_slice_codeunits(v, start), pa.int32())
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def is_new(v: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.starts_with(v, "1")


def drops(stars: pa.Table) -> pa.Table:
    """From converged star edges (``u`` = component minimum, ``v`` = member), the members to drop:
    every non-minimum vertex that is new, with the survivor's id. Columns file, id, survivor, survivor_file,
    u, v."""
    leaves = stars.filter(is_new(stars["v"]))
    return pa.table(
        {
            "file": vertex_files(leaves["v"]),
            "id": vertex_ids(leaves["v"]),
            "survivor": vertex_ids(leaves["u"]),
            "survivor_file": vertex_files(leaves["u"]),
            "u": leaves["u"],
            "v": leaves["v"],
        }
    )


LINK_SCHEMA = pa.schema([("key", pa.string()), ("other", pa.string()), ("drop", pa.bool_())])


def edge_links(edges: pa.Table) -> pa.Table:
    """Verified edges (u, v) in both directions, keyed by either end: with ``drop_links``, a shuffle on ``key``
    brings a drop together with every verified edge of its member."""
    return pa.concat_tables(
        [
            pa.table({"key": edges["u"], "other": edges["v"], "drop": pa.array([False] * edges.num_rows)}),
            pa.table({"key": edges["v"], "other": edges["u"], "drop": pa.array([False] * edges.num_rows)}),
        ]
    ).cast(LINK_SCHEMA)


def drop_links(dropped: pa.Table) -> pa.Table:
    """Each drop (``drops``' u, v) as (member, survivor), keyed by the member."""
    return pa.table(
        {"key": dropped["v"], "other": dropped["u"], "drop": pa.array([True] * dropped.num_rows)}, schema=LINK_SCHEMA
    )


def classify_drops(links: pa.Table) -> pa.Table:
    """The drops among ``links`` (whole keys), each marked ``direct`` when a verified edge joins the member to its
    survivor, else a chain drop: joined through other members (connected components are transitive, Jaccard is
    not). Columns file, id, survivor, survivor_file, direct."""
    edges = links.filter(pc.invert(links["drop"]))
    pairs = set(zip(edges["key"].to_pylist(), edges["other"].to_pylist()))
    dropped = links.filter(links["drop"])
    direct = [(k, o) in pairs for k, o in zip(dropped["key"].to_pylist(), dropped["other"].to_pylist())]
    return pa.table(
        {
            "file": vertex_files(dropped["key"]),
            "id": vertex_ids(dropped["key"]),
            "survivor": vertex_ids(dropped["other"]),
            "survivor_file": vertex_files(dropped["other"]),
            "direct": pa.array(direct, pa.bool_()),
        }
    )
