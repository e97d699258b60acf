"""LSH buckets into candidate edges: band rows, bucket groups, and verification by true Jaccard.

The runner shuffles band rows on (band, bucket), so each block holds whole buckets. A bucket
with two or more members (and, in an incremental run, at least one new one) becomes either a
chain of ``n - 1`` edges (no verification) or a candidate *set* checked by true Jaccard.

Why not verify the chain: a chain through a false-positive member would be cut in two. A set is
checked by leader clustering instead: members in vertex order (the survivor order), each one
compared with the set's leaders in turn and joined to the first within the threshold; one that
matches none becomes a leader itself. A cluster polluted by a false positive therefore stays
whole, at ``n - 1`` checks when the bucket is clean.

Buckets with the same first member (its vertex is the smallest of each) are one set: a document
sits in up to ``bands`` buckets, mostly under the same first member, so merging them is what
keeps each document's shingles shipped about once rather than once per band. Comparing more
members than one bucket holds can only add edges that pass true Jaccard, never a false one.
A set's members are spread over chunks (by a hash of the member) of about ``max_set_docs``, each
led by the set's first member, to bound a group's memory.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.dedup.shingles import cut, jaccard
from pipeline.dedup.survivors import is_new, vertex_files, vertex_groups

BAND_SCHEMA = pa.schema([("band", pa.int32()), ("bucket", pa.uint64()), ("vertex", pa.string())])
EDGE_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string())])
SET_SCHEMA = pa.schema(
    [
        ("set_id", pa.uint64()),
        ("chunk", pa.int32()),
        ("pos", pa.int32()),
        ("vertex", pa.string()),
        ("file", pa.int32()),
        ("group", pa.int32()),
    ]
)
CHECK_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string()), ("ok", pa.bool_())])


def band_rows(vertices: pa.Array, keys: np.ndarray, scope_keys: np.ndarray | None) -> pa.Table:
    """One row per (document, band); ``scope_keys`` (one per document) keeps scopes apart."""
    n, bands = keys.shape
    if scope_keys is not None:
        keys = keys ^ scope_keys[:, None]
    return pa.table(
        {
            "band": pa.array(np.tile(np.arange(bands, dtype=np.int32), n)),
            "bucket": pa.array(keys.reshape(-1)),
            "vertex": vertices.take(pa.array(np.repeat(np.arange(n), bands))),
        },
        schema=BAND_SCHEMA,
    )


def _buckets(block: pa.Table, incremental: bool) -> tuple[pa.Table, np.ndarray]:
    """Rows of buckets with 2+ members (one new, if incremental), sorted by (band, bucket, vertex),
    and each kept bucket's first row."""
    t = block.sort_by([("band", "ascending"), ("bucket", "ascending")])
    band, bucket = t["band"].to_numpy(), t["bucket"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (band[1:] != band[:-1]) | (bucket[1:] != bucket[:-1])])
    sizes = np.diff(np.r_[starts, len(band)])
    keep = sizes >= 2
    if incremental and len(starts):
        keep &= np.add.reduceat(is_new(t["vertex"]).to_numpy(zero_copy_only=False).astype(np.int64), starts) > 0
    t = t.filter(pa.array(np.repeat(keep, sizes))).sort_by(
        [("band", "ascending"), ("bucket", "ascending"), ("vertex", "ascending")]
    )
    band, bucket = t["band"].to_numpy(), t["bucket"].to_numpy()
    return t, np.flatnonzero(np.r_[True, (band[1:] != band[:-1]) | (bucket[1:] != bucket[:-1])])[: len(band)]


def chain_edges(block: pa.Table, incremental: bool = False) -> pa.Table:
    """Consecutive members of each bucket, in vertex order: ``n - 1`` edges per bucket."""
    t, starts = _buckets(block, incremental)
    same = np.ones(max(t.num_rows - 1, 0), dtype=bool)
    same[starts[1:] - 1] = False
    u, v = t["vertex"].slice(0, max(t.num_rows - 1, 0)), t["vertex"].slice(1)
    edges = pa.table({"u": u, "v": v}).filter(pa.array(same))
    if incremental:  # two old documents are both published: nothing to decide between them
        edges = edges.filter(pc.or_(is_new(edges["u"]), is_new(edges["v"])))
    return edges.cast(EDGE_SCHEMA)


def candidate_sets(block: pa.Table, max_set_docs: int, incremental: bool = False) -> pa.Table:
    """Each bucket's members as a candidate set: rows (set_id, chunk, pos, vertex, file, group)."""
    t, starts = _buckets(block, incremental)
    if not t.num_rows:
        return SET_SCHEMA.empty_table()
    sizes = np.diff(np.r_[starts, t.num_rows])
    names = t["vertex"].to_pylist()
    ids = np.array([_hash(names[s]) for s in starts], dtype=np.uint64)  # the set: its first member
    rank = np.arange(t.num_rows) - np.repeat(starts, sizes)
    member = np.flatnonzero(rank > 0)
    chunks = -(-(sizes - 1) // max_set_docs)  # ceil; every bucket has a member after its first
    per_member = np.repeat(chunks, sizes)[member]
    member_chunk = np.zeros(len(member), dtype=np.int64)
    for i in np.flatnonzero(per_member > 1):  # only sets larger than max_set_docs
        member_chunk[i] = _hash(names[member[i]]) % int(per_member[i])
    lead_group = np.repeat(np.arange(len(starts)), chunks)
    lead_chunk = np.arange(len(lead_group)) - np.repeat(np.cumsum(chunks) - chunks, chunks)
    rows = np.r_[starts[lead_group], member]
    group = np.r_[lead_group, np.repeat(np.arange(len(starts)), sizes)[member]]
    vertex, chunk = t["vertex"].take(pa.array(rows)), np.r_[lead_chunk, member_chunk].astype(np.int32)
    return pa.table(
        {
            "set_id": pa.array(ids[group]),
            "chunk": pa.array(chunk),
            "pos": pa.array((np.arange(len(rows)) >= len(lead_group)).astype(np.int32)),
            "vertex": vertex,
            "file": vertex_files(vertex),
            "group": vertex_groups(vertex),
        },
        schema=SET_SCHEMA,
    )


def _hash(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def verify_sets(block: pa.Table, threshold: float, max_leaders: int) -> pa.Table:
    """Leader clustering inside each (set_id, chunk) by true Jaccard of the ``shingles`` column:
    the set's first member (``pos`` 0), then the others in vertex order.

    Returns every comparison made, ``ok`` when it reached the threshold (ok edges join clusters)."""
    t = block.sort_by([("set_id", "ascending"), ("chunk", "ascending"), ("pos", "ascending"), ("vertex", "ascending")])
    sid, chunk = t["set_id"].to_numpy(), t["chunk"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (sid[1:] != sid[:-1]) | (chunk[1:] != chunk[:-1])])[: t.num_rows]
    names, new = t["vertex"].to_pylist(), is_new(t["vertex"]).to_pylist()
    sh = t["shingles"].combine_chunks()
    values, offsets = sh.values.to_numpy(), sh.offsets.to_numpy()
    shift = t["sample"].to_pylist() if "sample" in t.column_names else [0] * t.num_rows
    us, vs, oks = [], [], []
    for s, e in zip(starts, np.r_[starts[1:], t.num_rows]):
        leaders: list[int] = []
        for i in range(s, e):
            a = values[offsets[i] : offsets[i + 1]]
            for lead in leaders:
                if not (new[i] or new[lead]):
                    continue  # two old documents: both stay published, never compared
                k = max(shift[lead], shift[i])
                ok = jaccard(cut(values[offsets[lead] : offsets[lead + 1]], k), cut(a, k)) >= threshold
                us.append(names[lead])
                vs.append(names[i])
                oks.append(ok)
                if ok:
                    break
            else:
                if len(leaders) < max_leaders:
                    leaders.append(i)
    return pa.table(
        {"u": pa.array(us, pa.string()), "v": pa.array(vs, pa.string()), "ok": pa.array(oks, pa.bool_())},
        schema=CHECK_SCHEMA,
    )
