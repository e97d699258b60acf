"""Which member of a near-duplicate cluster survives, encoded in the graph's vertex names.

A vertex is a string that sorts in survivor order: an incremental run's old documents first
(they are published and are never dropped), then the configured priority, then the id, then the
curated file the document lives in. Connected components take the minimum vertex as their
label, so the label is the survivor and no join is needed to find it.
"""

from __future__ import annotations

import json
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from pipeline.code_license_filter import PERMISSIVE, expression_allowed, normalize_spdx

Criterion = Literal["permissive_licence", "stars", "longest", "shortest"]
_WIDTH = {"permissive_licence": 1, "stars": 12, "longest": 15, "shortest": 15}
FILE_DIGITS, GROUP_DIGITS = 9, 7  # where the document lives: curated file, then a block of its rows


class SurvivorConfig(BaseModel):
    # Code: a permissive licence, then the most-starred repository (The Stack / StarCoder keep
    # permissively licensed code and rank repositories by stars); then, for every source, the
    # longest text (the most complete copy), then the smallest id. Documents without a licence
    # or stars in ``meta`` (web, books) tie on the first two and fall through to length.
    priority: list[Criterion] = Field(default_factory=lambda: ["permissive_licence", "stars", "longest"])
    # SPDX ids or expressions ("MIT OR Apache-2.0"), judged as the code licence filter judges them
    permissive_licences: list[str] = Field(default_factory=lambda: list(PERMISSIVE))
    licence_fields: list[str] = Field(default_factory=lambda: ["license", "licence", "licenses"])
    stars_fields: list[str] = Field(default_factory=lambda: ["stars", "max_stars_count", "stars_count"])


def meta_fields(metas: list[str | None], cfg: SurvivorConfig) -> tuple[list[str | None], list[int]]:
    """The licence (lowercased) and star count each document's ``meta`` JSON gives, if any."""
    need = {"permissive_licence", "stars"} & set(cfg.priority)
    licences: list[str | None] = [None] * len(metas)
    stars = [0] * len(metas)
    if not need:
        return licences, stars
    for i, raw in enumerate(metas):
        meta = json.loads(raw) if raw else {}
        lic = next((meta[f] for f in cfg.licence_fields if meta.get(f)), None)
        if isinstance(lic, list):  # a repository's licences: every one applies
            lic = " AND ".join(map(str, lic)) if lic else None
        licences[i] = str(lic).lower() if lic is not None else None
        star = next((meta[f] for f in cfg.stars_fields if meta.get(f) is not None), 0)
        stars[i] = int(star) if isinstance(star, (int, float)) else 0
    return licences, stars


def prefix_width(cfg: SurvivorConfig) -> int:
    return 1 + sum(_WIDTH[c] for c in cfg.priority)


def vertices(table: pa.Table, files: list[int], groups: list[int], old: bool, cfg: SurvivorConfig) -> pa.Array:
    """Vertex names for signature rows (columns id, chars, licence, stars) at ``(file, group)``."""
    permissive = {normalize_spdx(x) for x in cfg.permissive_licences}
    names = []
    for ident, chars, lic, star, f, g in zip(table["id"].to_pylist(), table["chars"].to_pylist(),
                                            table["licence"].to_pylist(), table["stars"].to_pylist(), files, groups):
        parts = ["0" if old else "1"]
        for c in cfg.priority:
            if c == "permissive_licence":
                parts.append("0" if lic and expression_allowed(lic, permissive) else "1")
            elif c == "stars":
                parts.append(f"{10**12 - 1 - min(max(star or 0, 0), 10**12 - 1):012d}")
            elif c == "longest":
                parts.append(f"{10**15 - 1 - min(chars, 10**15 - 1):015d}")
            else:
                parts.append(f"{min(chars, 10**15 - 1):015d}")
        names.append("".join(parts) + f"{ident}\x1f{f:0{FILE_DIGITS}d}{g:0{GROUP_DIGITS}d}")
    return pa.array(names, pa.string())


def vertex_ids(v: pa.Array | pa.ChunkedArray, cfg: SurvivorConfig) -> pa.Array:
    sliced = pc.utf8_slice_codeunits(v, prefix_width(cfg), -(FILE_DIGITS + GROUP_DIGITS + 1))
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


def drops(stars: pa.Table, cfg: SurvivorConfig) -> pa.Table:
    """From converged star edges (``u`` = component minimum, ``v`` = member), the members to drop:
    every non-minimum vertex that is new, with the survivor's id. Columns file, id, survivor."""
    leaves = stars.filter(is_new(stars["v"]))
    return pa.table({"file": vertex_files(leaves["v"]), "id": vertex_ids(leaves["v"], cfg),
                     "survivor": vertex_ids(leaves["u"], cfg)})
