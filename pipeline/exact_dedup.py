"""Exact deduplication: one survivor per identical content, chosen the same way on every run.

The runner shuffles rows by ``content_bucket`` so that every copy of a content meets in
one group; ``dedup_group`` then keeps the smallest id per hash. Image documents hash their
text together with their images' sha256, so one caption on two images is not a duplicate.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
from pydantic import BaseModel, Field

from pipeline.schema import DROPPED, KEPT


class ExactDedupConfig(BaseModel):
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


def dedup_group(table: pa.Table) -> pa.Table:
    """Mark all but the smallest-id copy of each content hash as dropped ``exact_duplicate``."""
    table = table.sort_by([("content_hash", "ascending"), ("id", "ascending")])
    hashes = table["content_hash"].to_pylist()
    ids, status = table["id"].to_pylist(), table["status"].to_pylist()
    stage, reason, detail = (table[c].to_pylist() for c in ("stage", "reason", "detail"))
    survivor: dict[str, str] = {}
    for i, h in enumerate(hashes):
        if h is None or status[i] != KEPT:
            continue
        if h in survivor:
            status[i], stage[i], reason[i], detail[i] = DROPPED, "exact_dedup", "exact_duplicate", survivor[h]
        else:
            survivor[h] = ids[i]
    for name, values in (("status", status), ("stage", stage), ("reason", reason), ("detail", detail)):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return table


def drop_keys(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in ("content_hash", "bucket") if c in table.column_names])

