"""Image dedup's decisions per component and per document (pipeline/images/dedup.py builds the graph).

A component used on more than ``max_documents`` sites (or documents, ``frequent_by``), or a
small one (``small_side_px``) used by more than ``max_documents`` documents, is frequent: its
images leave every document. A document is keyed by its text and its remaining images' component labels; among
documents sharing a key the lowest rank (best copies, then id) survives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.dedup.components import components_local
from pipeline.images.confirm import confirm_in_memory, confirmed
from pipeline.images.dedup import (
    OCCURRENCE_SCHEMA,
    ImageDedupConfig,
    attach_roots,
    bucket_block_edges,
    key_rows,
    star_rows,
)

LABEL_SCHEMA = pa.schema(
    [
        ("file", pa.int32()),
        ("id", pa.string()),
        ("idx", pa.int32()),
        ("vertex", pa.string()),
        ("root", pa.string()),
        ("text_hash", pa.string()),
        ("frequent", pa.bool_()),
        ("docs", pa.int64()),
    ]
)
DOC_SCHEMA = pa.schema(
    [
        ("file", pa.int32()),
        ("id", pa.string()),
        ("key", pa.string()),
        ("rank", pa.string()),
        ("removed", pa.list_(pa.int32())),
        ("docs", pa.int64()),
        ("duplicate_of", pa.string()),
    ]
)
# what a label block's count rows (id null, vertex = name, docs = value) add up to
SUMMARY_KEYS = (
    "images",
    "distinct",
    "exact_duplicates",
    "near_duplicates",
    "frequent_images",
    "images_removed",
    "unhashed",
)


def _runs(values: list) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run of equal values in a sorted list."""
    start = 0
    while start < len(values):
        end = start + 1
        while end < len(values) and values[end] == values[start]:
            end += 1
        yield start, end
        start = end


def _frequent(documents: int, sites: int, side: int, cfg: ImageDedupConfig) -> bool:
    """OBELICS' rule where it was meant: an image repeated across sites, or a small one repeated at all."""
    if cfg.max_documents is None:
        return False
    small = cfg.small_side_px is not None and side <= cfg.small_side_px
    return (sites if cfg.frequent_by == "sites" and not small else documents) > cfg.max_documents


def component_labels(block: pa.Table, cfg: ImageDedupConfig) -> pa.Table:
    """Every occurrence with its label, whether its component is frequent and how many documents use it,
    for a block holding whole components; then one count row per SUMMARY_KEYS name."""
    block = block.sort_by([("root", "ascending"), ("vertex", "ascending"), ("id", "ascending"), ("idx", "ascending")])
    roots, verts, ids, hashes, sites = (block[n].to_pylist() for n in ("root", "vertex", "id", "hash", "site"))
    sides = pc.max_element_wise(block["width"], block["height"]).to_pylist()
    frequent, docs = [False] * len(roots), [0] * len(roots)
    counts = dict.fromkeys(SUMMARY_KEYS, 0)
    for start, end in _runs(roots):
        distinct = set(verts[start:end])
        used_by = len(set(ids[start:end]))
        hot = _frequent(used_by, len(set(sites[start:end])), max(s or 0 for s in sides[start:end]), cfg)
        frequent[start:end], docs[start:end] = [hot] * (end - start), [used_by] * (end - start)
        counts["images"] += end - start
        counts["distinct"] += len(distinct)
        counts["exact_duplicates"] += end - start - len(distinct)
        counts["near_duplicates"] += len(distinct) - 1
        counts["frequent_images"] += len(distinct) if hot else 0
        counts["images_removed"] += end - start if hot else 0
        counts["unhashed"] += len({v for v, h in zip(verts[start:end], hashes[start:end]) if h is None})
    labels = pa.table(
        {
            "file": block["file"],
            "id": block["id"],
            "idx": block["idx"],
            "vertex": block["vertex"],
            "root": block["root"],
            "text_hash": block["text_hash"],
            "frequent": pa.array(frequent),
            "docs": pa.array(docs, pa.int64()),
        },
        schema=LABEL_SCHEMA,
    )
    n = len(counts)
    tallies = pa.table(
        {
            **{f.name: pa.nulls(n, f.type) for f in LABEL_SCHEMA},
            "vertex": list(counts),
            "docs": pa.array(list(counts.values()), pa.int64()),
        },
        schema=LABEL_SCHEMA,
    )
    return pa.concat_tables([labels, tallies])


def document_keys(block: pa.Table) -> pa.Table:
    """One row per document (a block holds whole documents' labels): the images frequency removes, and a key
    (its text and its other images' labels) with a rank (its copies' vertices, then id: lowest survives)."""
    block = block.sort_by([("id", "ascending"), ("idx", "ascending")])
    out: dict[str, list] = {n: [] for n in DOC_SCHEMA.names}
    ids = block["id"].to_pylist()
    cols = {n: block[n].to_pylist() for n in ("file", "idx", "vertex", "root", "text_hash", "frequent", "docs")}
    for start, end in _runs(ids):
        rows = range(start, end)
        removed = [cols["idx"][i] for i in rows if cols["frequent"][i]]
        left = [i for i in rows if not cols["frequent"][i]]
        key = "\x1f".join([cols["text_hash"][start], *(cols["root"][i] for i in left)]) if left else None
        for name, value in (
            ("file", cols["file"][start]),
            ("id", ids[start]),
            ("key", key or f"\x00{ids[start]}"),
            ("rank", "\x1f".join([*(cols["vertex"][i] for i in left), ids[start]])),
            ("removed", removed),
            ("docs", max((cols["docs"][i] for i in rows if cols["frequent"][i]), default=0)),
            ("duplicate_of", None),
        ):
            out[name].append(value)
    return pa.table(out, schema=DOC_SCHEMA)


def document_duplicates(block: pa.Table) -> pa.Table:
    """The documents that change, for a block holding whole keys: each duplicate names its survivor
    (lowest rank), and documents losing frequent images say which."""
    block = block.sort_by([("key", "ascending"), ("rank", "ascending")])
    keys, ids = block["key"].to_pylist(), block["id"].to_pylist()
    dup: list[str | None] = [None] * len(keys)
    first = 0
    for i in range(1, len(keys)):
        if keys[i] == keys[first]:
            dup[i] = ids[first]
        else:
            first = i
    block = block.set_column(block.schema.get_field_index("duplicate_of"), "duplicate_of", pa.array(dup, pa.string()))
    changed = pc.or_(pc.is_valid(block["duplicate_of"]), pc.greater(pc.list_value_length(block["removed"]), 0))
    return block.filter(changed)


def dedup_images_in_memory(
    occ: pa.Table, cfg: ImageDedupConfig, edges: pa.Table | None = None, pictures: pa.Table | None = None
) -> tuple[pa.Table, dict[str, int]]:
    """The whole decision on one table of occurrence rows (small corpora, tests): changed documents, and
    the counts (SUMMARY_KEYS, component rounds, hash edges the pixel check refused). ``edges`` already
    confirmed, or found here and confirmed on ``pictures`` (pipeline/image_confirm.pixel_rows)."""
    refused = 0
    if edges is None:
        edges = bucket_block_edges(key_rows(occ, cfg), cfg)
        if cfg.pixel_check is not None and edges.num_rows:
            if pictures is None:
                raise ValueError("image_dedup.pixel_check needs the pictures of the candidate edges")
            checked = confirm_in_memory(edges, pictures, cfg.pixel_check)
            edges, refused = confirmed(checked), checked.num_rows - pc.sum(checked["ok"]).as_py()
    stars, rounds = components_local(edges)
    labels = component_labels(attach_roots(pa.concat_tables([occ, star_rows(stars)]).cast(OCCURRENCE_SCHEMA)), cfg)
    tallies = labels.filter(pc.is_null(labels["id"]))
    counts = dict(zip(tallies["vertex"].to_pylist(), tallies["docs"].to_pylist())) | {
        "rounds": rounds,
        "edges_refused": refused,
    }
    keys = document_keys(labels.filter(pc.is_valid(labels["id"])))
    return document_duplicates(keys if cfg.duplicate_documents else unkeyed(keys)).sort_by("id"), counts


def unkeyed(block: pa.Table) -> pa.Table:
    """Each document its own key: only frequent images act."""
    return block.set_column(
        block.schema.get_field_index("key"), "key", pc.binary_join_element_wise(pa.scalar("\x00"), block["id"], "")
    )
