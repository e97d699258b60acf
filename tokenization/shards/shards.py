"""Packed-sequence shards: build rows from a tokenized group, write Arrow IPC files, write the manifest.

A shard is one Arrow IPC *file* (memory-mappable), written under a temporary name and
renamed when complete; ``manifest.json`` is written last and lists every shard with its
sizes and sha256, so a reader that finds the manifest finds complete shards.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from pydantic import Field, model_validator

from pipeline.config_base import StrictModel
from tokenization.shards import storage as storage
from tokenization.shards.masks import MaskConfig, block_layouts
from tokenization.shards.packing import Mode, pack
from tokenization.tokenizer.special_tokens import IMAGE_END_ID, IMAGE_START_ID, PAD_ID

SCHEMA_VERSION = 2  # 2: an image is a span <|image_start|> N x <|image|> <|image_end|> (1: one <|image|>)
MANIFEST = "manifest.json"


class PackConfig(StrictModel):
    output: str | None = None  # shards, images and manifest: a path or fsspec URL; default <output_dir>/shards
    seq_len: int = Field(4096, gt=0)
    mode: Mode = "best_fit"  # best-fit-decreasing (Ding et al. 2024); concat and greedy for comparison
    window: int = Field(10_000, gt=0)  # documents per best-fit window
    mask: MaskConfig = Field(default_factory=MaskConfig)
    num_pack_groups: int = Field(4, gt=0)  # packing partitions; each must fit one worker
    batch_rows: int = Field(256, gt=0)  # rows per Arrow record batch inside a shard
    max_shard_bytes: int = Field(512 << 20, gt=0)  # a group's rows are split into shards of about this size
    max_shard_rows: int | None = Field(None, gt=0)
    compression: Literal["none", "zstd"] = "none"  # zstd: smaller files, no zero-copy reads

    @model_validator(mode="after")
    def _blocks_tile_row(self) -> PackConfig:
        if self.seq_len % self.mask.block_size or self.seq_len % 8:
            raise ValueError("seq_len must be a multiple of mask.block_size and of 8")
        return self


def shard_schema(cfg: PackConfig) -> pa.Schema:
    nb = cfg.seq_len // cfg.mask.block_size
    return pa.schema(
        [
            ("input_ids", pa.list_(pa.uint32(), cfg.seq_len)),
            ("cu_seqlens", pa.list_(pa.int32())),
            ("loss_mask", pa.binary(cfg.seq_len // 8)),
            ("block_layout", pa.binary((nb * nb + 7) // 8)),
            ("doc_ids", pa.list_(pa.string())),
            ("sources", pa.list_(pa.string())),
            ("images", pa.list_(pa.struct([("sha256", pa.string()), ("start", pa.int32()), ("length", pa.int32())]))),
        ]
    )


def image_spans(flat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every image span of a group's tokens: (first token, one past the last, document), in token order.

    A span runs from ``<|image_start|>`` to its ``<|image_end|>``; the k-th span of a document is
    its k-th image."""
    starts, ends = np.flatnonzero(flat == IMAGE_START_ID), np.flatnonzero(flat == IMAGE_END_ID) + 1
    docs = np.searchsorted(offsets, starts, side="right") - 1
    if (
        len(starts) != len(ends)
        or np.any(ends <= starts)
        or np.any(starts[1:] < ends[:-1])
        or np.any(ends > offsets[docs + 1])
    ):
        raise ValueError("image markers do not pair up as <|image_start|> ... <|image_end|> within documents")
    return starts, ends, docs


def _bit_rows(bits: np.ndarray, type_: pa.DataType) -> pa.Array:
    """Each row of a boolean matrix packed as ``pack_bits`` packs it, as one fixed-size binary array."""
    packed = np.packbits(bits, axis=1)
    return pa.FixedSizeBinaryArray.from_buffers(type_, len(packed), [None, pa.py_buffer(packed.tobytes())])


def build_rows(group: pa.Table, cfg: PackConfig, seed: int = 0, group_key: str = "") -> tuple[pa.Table, dict[str, Any]]:
    """Pack one group (in ``pack_key`` order) into shard rows; also return token counts.

    Image spans are never cut across rows; each row's ``images`` lists its spans as ``start``
    (the ``<|image_start|>`` position) and ``length`` (N + 2). ``loss_mask`` is 0 on all of a
    span's tokens: none of them is a target. Row ``r`` of the group has key ``{group_key}:{r}``:
    what its random mask blocks are drawn from."""
    group = group.sort_by([("pack_key", "ascending"), ("id", "ascending")])
    offsets = group["token_ids"].combine_chunks().offsets.to_numpy()
    flat = group["token_ids"].combine_chunks().values.to_numpy(zero_copy_only=False)
    ids, sources = group["id"].to_pylist(), group["source"].to_pylist()
    shas = group["image_sha256"].to_pylist()
    lengths = np.diff(offsets).tolist()
    img_start, img_end, img_doc = image_spans(flat, offsets)
    first_of_doc = np.searchsorted(img_start, offsets[:-1])  # index of each document's first span
    spans: dict[int, list[tuple[int, int]]] = {}
    for a, b, d in zip(img_start.tolist(), img_end.tolist(), img_doc.tolist()):
        spans.setdefault(d, []).append((a - int(offsets[d]), b - int(offsets[d])))
    rows = pack(lengths, cfg.seq_len, cfg.mode, cfg.window, spans)
    n = len(rows)
    input_ids = np.full((n, cfg.seq_len), PAD_ID, dtype=np.uint32)
    loss = np.zeros((n, cfg.seq_len), dtype=bool)
    cols: dict[str, list] = {k: [] for k in ("cu_seqlens", "doc_ids", "sources", "images")}
    source_tokens: Counter[str] = Counter()
    for r, row in enumerate(rows):
        cu, pos, images = [0], 0, []
        for piece in row:
            start = offsets[piece.doc] + piece.start
            input_ids[r, pos : pos + piece.length] = flat[start : start + piece.length]
            lo, hi = np.searchsorted(img_start, [start, start + piece.length])
            if (hi > lo and img_end[hi - 1] > start + piece.length) or (lo and img_end[lo - 1] > start):
                raise RuntimeError(f"{ids[piece.doc]}: a piece cuts an image span")  # the packer must not
            images += [
                {
                    "sha256": shas[piece.doc][k - first_of_doc[piece.doc]],
                    "start": int(pos + img_start[k] - start),
                    "length": int(img_end[k] - img_start[k]),
                }
                for k in range(lo, hi)
            ]
            pos += piece.length
            cu.append(pos)
            source_tokens[sources[piece.doc]] += piece.length
        loss[r, :pos] = True
        for span in images:
            loss[r, span["start"] : span["start"] + span["length"]] = False
        cols["cu_seqlens"].append(np.array(cu, dtype=np.int32))
        cols["doc_ids"].append([ids[p.doc] for p in row])
        cols["sources"].append([sources[p.doc] for p in row])
        cols["images"].append(images)
    keys = [f"{group_key}:{r}" for r in range(n)]
    layouts = block_layouts(cols["cu_seqlens"], cfg.seq_len, cfg.mask, seed, keys)
    schema = shard_schema(cfg)
    arrays = {
        "input_ids": pa.FixedSizeListArray.from_arrays(pa.array(input_ids.reshape(-1), pa.uint32()), cfg.seq_len),
        "loss_mask": _bit_rows(loss, schema.field("loss_mask").type),
        "block_layout": _bit_rows(layouts.reshape(n, -1), schema.field("block_layout").type),
    }
    arrays.update({name: pa.array(cols[name], schema.field(name).type) for name in cols})
    pieces_per_doc = Counter(p.doc for row in rows for p in row)
    info = {
        "rows": n,
        "documents": len(ids),
        "pieces": sum(len(r) for r in rows),
        "truncated_documents": sum(1 for c in pieces_per_doc.values() if c > 1),
        "overlong_documents": sum(1 for n_tok in lengths if n_tok > cfg.seq_len),
        "tokens": int(sum(source_tokens.values())),
        "source_tokens": dict(sorted(source_tokens.items())),
    }
    return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema), info


def split_rows(table: pa.Table, cfg: PackConfig) -> list[pa.Table]:
    """The table cut into shard-sized parts (by ``max_shard_rows`` and the uncompressed size)."""
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    rows = max(1, min(cfg.max_shard_rows or table.num_rows, cfg.max_shard_bytes // per_row))
    return [table.slice(i, rows) for i in range(0, table.num_rows, rows)] or [table]


def shard_counts(table: pa.Table) -> dict[str, Any]:
    """Rows, tokens and tokens per source of shard rows, read from the rows themselves."""
    source_tokens: Counter[str] = Counter()
    for cu, sources in zip(table["cu_seqlens"].to_pylist(), table["sources"].to_pylist()):
        for source, n in zip(sources, np.diff(cu).tolist()):
            source_tokens[source] += n
    return {
        "rows": table.num_rows,
        "tokens": int(sum(source_tokens.values())),
        "source_tokens": dict(sorted(source_tokens.items())),
    }


def write_shard(table: pa.Table, path: str, batch_rows: int, compression: str = "none") -> dict[str, Any]:
    """Write ``table`` as an Arrow IPC file (a local path or an fsspec URL) under a temporary name,
    publish it under its final name, and return its size, sha256 and xxh3-64 (what readers check)."""
    tmp = storage.temp_file(path)
    options = ipc.IpcWriteOptions(compression=None if compression == "none" else compression)
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, table.schema, options=options) as writer:
        for batch in table.combine_chunks().to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    size, digest = storage.size_and_sha256(tmp)
    fast = storage.fast_digest(tmp)
    storage.publish(tmp, path)
    return {"file": os.path.basename(path), "bytes": size, "sha256": digest, "xxh3_64": fast}


def write_manifest(shard_dir: str, shards: list[dict[str, Any]], header: dict[str, Any]) -> dict[str, Any]:
    shards = sorted(shards, key=lambda s: s["file"])
    totals: Counter[str] = Counter()
    for s in shards:
        totals.update(s["source_tokens"])
    manifest = {
        "schema_version": SCHEMA_VERSION,
        **header,
        "rows": sum(s["rows"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "source_tokens": dict(sorted(totals.items())),
        "shards": shards,
    }
    path = storage.join(shard_dir, MANIFEST)
    tmp = storage.temp_file(path)
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    storage.publish(tmp, path)
    return manifest


def read_manifest(shard_dir: str) -> dict[str, Any]:
    path = storage.join(shard_dir, MANIFEST)
    if not storage.exists(path):
        raise FileNotFoundError(f"{shard_dir} has no {MANIFEST}: not a finished shard directory")
    return json.loads(storage.read_bytes(path))


def verify_shards(shard_dir: str) -> list[str]:
    """Every problem found: missing or resized files, sha256 mismatches, wrong schema or row count."""
    manifest = read_manifest(shard_dir)
    expected = shard_schema(PackConfig(seq_len=manifest["seq_len"], mask=manifest["mask"]))
    problems = []
    for entry in manifest["shards"]:
        path = storage.join(shard_dir, entry["file"])
        if not storage.exists(path):
            problems.append(f"{entry['file']}: missing")
            continue
        size, digest = storage.size_and_sha256(path)
        if size != entry["bytes"] or digest != entry["sha256"]:
            problems.append(
                f"{entry['file']}: {size} bytes, sha256 {digest[:12]}; "
                f"manifest says {entry['bytes']} bytes, sha256 {entry['sha256'][:12]}"
            )
            continue
        fs, local = storage.filesystem(path)
        with fs.open(local, "rb") as source:
            reader = ipc.open_file(source)
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            if not reader.schema.equals(expected):
                problems.append(f"{entry['file']}: schema differs from schema v{manifest['schema_version']}")
        if rows != entry["rows"]:
            problems.append(f"{entry['file']}: {rows} rows, manifest says {entry['rows']}")
    for entry in manifest.get("images", []):
        path = storage.join(storage.join(shard_dir, "images"), entry["file"])
        found = storage.size_and_sha256(path) if storage.exists(path) else None
        if found != (entry["bytes"], entry["sha256"]):
            problems.append(f"images/{entry['file']}: " + ("missing" if found is None else "size or sha256 differs"))
    return problems
