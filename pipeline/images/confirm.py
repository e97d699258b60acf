"""Candidate image edges meet the pictures' bytes and keep only the pairs the pixel check confirms.

The hash graph travels as metadata; the bytes stay in the curated files. Only the images on a
candidate edge are read again (``pixel_rows``), and each edge meets its two pictures by two joins
on vertex: rows of one table (JOIN_SCHEMA) hold either an edge (``u``, ``v``) or a picture
(``key`` = its vertex, ``data``), keyed so that a block holds an edge with the picture it needs.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.images.dedup import vertex
from pipeline.images.pixels import PixelCheckConfig, grey, same_picture

JOIN_SCHEMA = pa.schema(
    [("key", pa.string()), ("u", pa.string()), ("v", pa.string()), ("u_data", pa.binary()), ("data", pa.binary())]
)
CHECKED_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string()), ("ok", pa.bool_())])


def pixel_rows(docs: pa.Table, wanted: set[str] | None) -> pa.Table:
    """One row per distinct picture of ``docs`` (columns images) whose vertex is ``wanted`` (None: all)."""
    seen: dict[str, bytes] = {}
    for images in docs["images"].to_pylist():
        for img in images or []:
            name = vertex(img["sha256"], img["width"], img["height"])
            if name not in seen and (wanted is None or name in wanted):
                seen[name] = img["bytes"]
    n = len(seen)
    return pa.table(
        {
            "key": list(seen),
            "u": pa.nulls(n, pa.string()),
            "v": pa.nulls(n, pa.string()),
            "u_data": pa.nulls(n, pa.binary()),
            "data": pa.array(list(seen.values()), pa.binary()),
        },
        schema=JOIN_SCHEMA,
    )


def edge_vertices(edges: pa.Table) -> set[str]:
    """The vertices on edges (u, v): the pictures the check must read."""
    return set(edges["u"].to_pylist()) | set(edges["v"].to_pylist())


def edge_rows(edges: pa.Table) -> pa.Table:
    """Edges (u, v) as join rows keyed by u."""
    n = edges.num_rows
    return pa.table(
        {
            "key": edges["u"],
            "u": edges["u"],
            "v": edges["v"],
            "u_data": pa.nulls(n, pa.binary()),
            "data": pa.nulls(n, pa.binary()),
        },
        schema=JOIN_SCHEMA,
    )


def _split(block: pa.Table) -> tuple[pa.Table, dict[str, bytes]]:
    is_edge = pc.is_valid(block["u"])
    pictures = block.filter(pc.invert(is_edge))
    return block.filter(is_edge), dict(zip(pictures["key"].to_pylist(), pictures["data"].to_pylist()))


def attach_u(block: pa.Table) -> pa.Table:
    """Edges of a block holding whole keys, with u's bytes, now keyed by v."""
    edges, data = _split(block)
    return pa.table(
        {
            "key": edges["v"],
            "u": edges["u"],
            "v": edges["v"],
            "u_data": pa.array([data.get(u) for u in edges["u"].to_pylist()], pa.binary()),
            "data": pa.nulls(edges.num_rows, pa.binary()),
        },
        schema=JOIN_SCHEMA,
    )


def confirm(block: pa.Table, cfg: PixelCheckConfig) -> pa.Table:
    """Each distinct edge of a block holding whole keys (v, with u's bytes; an edge found in several LSH
    buckets comes more than once), sorted, with ``ok``: its two pictures pass the pixel check."""
    edges, data = _split(block)
    greys: dict[str, object] = {}

    def picture(name: str, raw: bytes | None):
        if name not in greys:
            try:
                greys[name] = grey(raw) if raw is not None else None
            except Exception:  # bytes the hash read but the check cannot: no edge (a missed dedup, not a wrong one)
                greys[name] = None
        return greys[name]

    checked = {}
    for u, v, u_data in zip(edges["u"].to_pylist(), edges["v"].to_pylist(), edges["u_data"].to_pylist()):
        if (u, v) not in checked:
            a, b = picture(u, u_data), picture(v, data.get(v))
            checked[u, v] = a is not None and b is not None and same_picture(a, b, cfg)
    rows = sorted(checked.items())
    return pa.table(
        {"u": [u for (u, _), _ in rows], "v": [v for (_, v), _ in rows], "ok": [ok for _, ok in rows]},
        schema=CHECKED_SCHEMA,
    )


def confirmed(checked: pa.Table) -> pa.Table:
    """The edges the check kept, as (u, v)."""
    return checked.filter(checked["ok"]).select(["u", "v"])


def confirm_in_memory(edges: pa.Table, pictures: pa.Table, cfg: PixelCheckConfig) -> pa.Table:
    """Both joins in one process, for edges (u, v) whose vertices ``pictures`` (pixel rows) hold."""
    with_u = attach_u(pa.concat_tables([edge_rows(edges), pictures]))
    return confirm(pa.concat_tables([with_u, pictures]), cfg)
