"""Exact deduplication: one survivor per identical content, chosen the same way on every run.

The runner shuffles rows by ``content_bucket`` so that every copy of a content meets in
one group; ``dedup_group`` then keeps the first copy in survivor order (``pipeline/dedup/survivors.py``:
an original over a vendored copy, a declared language, then the earliest id) and records on it
how many copies it stands for (``meta.dup_cluster_size``, as FineWeb-2 does for rehydration).
Image documents hash their text together with their images' sha256, so one caption on two
images is not a duplicate.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.dedup.survivors import SurvivorConfig, ranks
from pipeline.schema import DROPPED, KEPT


class ExactDedupConfig(StrictModel):
    enabled: bool = True
    num_buckets: int = Field(16, gt=0)  # shuffle partitions; also the number of curated parts per source


def content_hash(text: str, image_shas: list[str]) -> str:
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=16)
    for sha in image_shas:
        h.update(b"\0" + sha.encode())
    return h.hexdigest()


def id_hash(ident: str) -> str:
    """A hex hash of a row id: how rows with no content key still spread evenly over buckets."""
    return hashlib.blake2b(ident.encode(), digest_size=8).hexdigest()


def bucket_of(key: str, num_buckets: int) -> int:
    return int(key[:15], 16) % num_buckets


def add_content_keys(table: pa.Table, num_buckets: int) -> pa.Table:
    """Add ``content_hash`` (kept rows only) and ``bucket`` (by hash, or by id for rows already out)."""
    texts, images = table["text"].to_pylist(), table["images"].to_pylist()
    status, ids = table["status"].to_pylist(), table["id"].to_pylist()
    hashes, buckets = [], []
    for text, imgs, st, ident in zip(texts, images, status, ids):
        h = content_hash(text, [i["sha256"] for i in imgs or []]) if st == KEPT else None
        hashes.append(h)
        buckets.append(bucket_of(h or id_hash(ident), num_buckets))
    return table.append_column("content_hash", pa.array(hashes, pa.string())).append_column(
        "bucket", pa.array(buckets, pa.int32())
    )


def with_cluster_size(meta: str | None, size: int) -> str:
    """``meta`` JSON with ``dup_cluster_size`` set (serialized as the readers write meta)."""
    fields = json.loads(meta) if meta else {}
    fields["dup_cluster_size"] = size
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def dedup_group(table: pa.Table, survivor: SurvivorConfig | None = None) -> pa.Table:
    """Mark all but the first copy in survivor order of each content hash as dropped ``exact_duplicate``; the
    survivor's ``meta.dup_cluster_size`` counts the copies (itself included) when there are several."""
    chars = pc.utf8_length(table["text"]).cast(pa.int64()).to_pylist()
    rank = ranks(table["id"].to_pylist(), table["meta"].to_pylist(), chars, survivor or SurvivorConfig())
    table = table.append_column("_rank", pa.array(rank, pa.string()))
    table = table.sort_by([("content_hash", "ascending"), ("_rank", "ascending"), ("id", "ascending")])
    table = table.drop_columns(["_rank"])
    hashes, metas = table["content_hash"].to_pylist(), table["meta"].to_pylist()
    ids, status = table["id"].to_pylist(), table["status"].to_pylist()
    stage, reason, detail = (table[c].to_pylist() for c in ("stage", "reason", "detail"))
    survivor_at: dict[str, int] = {}
    copies: dict[int, int] = {}
    for i, h in enumerate(hashes):
        if h is None or status[i] != KEPT:
            continue
        if h in survivor_at:
            first = survivor_at[h]
            status[i], stage[i], reason[i], detail[i] = DROPPED, "exact_dedup", "exact_duplicate", ids[first]
            copies[first] = copies.get(first, 1) + 1
        else:
            survivor_at[h] = i
    for i, n in copies.items():
        metas[i] = with_cluster_size(metas[i], n)
    for name, values in (("status", status), ("stage", stage), ("reason", reason), ("detail", detail), ("meta", metas)):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return table


def drop_keys(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in ("content_hash", "bucket") if c in table.column_names])
