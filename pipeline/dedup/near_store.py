"""Near-dedup's files: signatures beside the curated output, texts read back, drops applied.

``<out>/near_dedup/signatures/<source>/part-NNNNN.parquet`` holds one row per kept document of
``<out>/curated/<source>/part-NNNNN.parquet`` (same name, same order): its MinHash signature,
band keys and survivor fields. A later run lists ``<out>`` in ``previous`` and deduplicates its
new documents against these rows without reading the old corpus again; only the few old
documents that land in a candidate set have their text read, from the row groups holding them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.accounting import identified_language, moved_to_dropped
from pipeline.curated_io import REJECT_COLUMNS, RowGroupWriter
from pipeline.dedup.exact import with_cluster_size
from pipeline.dedup.near import NearDedupConfig, sign, signed_band_rows
from pipeline.dedup.survivors import SurvivorConfig
from pipeline.schema import DROPPED

STORE = os.path.join("near_dedup", "signatures")
BATCH = 256  # documents read at once: bounds a task's memory when documents are long
FORMAT = 2  # 2: a survivor rank per row instead of licence and stars
CHAIN = "near_duplicate_chain"  # dropped through other members: no verified edge to its survivor


def signature_path(root: str, curated_rel: str) -> str:
    """``curated/<source>/part-N.parquet`` → ``<root>/near_dedup/signatures/<source>/part-N.parquet``."""
    return os.path.join(root, STORE, os.path.relpath(curated_rel, "curated"))


def curated_path(root: str, signature_rel: str) -> str:
    return os.path.join(root, "curated", signature_rel)


def store_meta(cfg: NearDedupConfig, seed: int) -> dict[str, Any]:
    """What signatures depend on: a previous store must match it to be comparable."""
    return {"format": FORMAT, "seed": seed, "shingles": cfg.shingles.model_dump(), "minhash": cfg.minhash.model_dump()}


def previous_files(root: str, meta: dict[str, Any]) -> list[str]:
    """A previous run's signature files (relative to its store), after checking they are comparable."""
    path = os.path.join(root, STORE, "_meta.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no near-dedup signatures in previous run {root} ({path})")
    with open(path) as f:
        theirs = json.load(f)
    if {k: theirs.get(k) for k in meta} != meta:
        raise ValueError(f"previous run {root} was signed with other settings: {theirs} != {meta}")
    store = os.path.join(root, STORE)
    return sorted(
        os.path.relpath(os.path.join(d, f), store) for d, _, fs in os.walk(store) for f in fs if f.endswith(".parquet")
    )


def sign_file(
    curated: str,
    out: str,
    file_index: int,
    cfg: NearDedupConfig,
    perm: tuple[np.ndarray, np.ndarray],
    survivor: SurvivorConfig,
) -> Iterator[pa.Table]:
    """Sign one curated file row group by row group; write its signature file; yield band rows."""
    writer, row = RowGroupWriter(out), 0
    for batch in pq.ParquetFile(curated).iter_batches(batch_size=BATCH, columns=["id", "source", "text", "meta"]):
        sig = sign(pa.Table.from_batches([batch]), cfg, perm, survivor)
        writer.write(sig)
        yield signed_band_rows(sig, cfg, file_index, row, old=False)
        row += sig.num_rows
    writer.close()


def stored_band_rows(path: str, file_index: int, cfg: NearDedupConfig) -> Iterator[pa.Table]:
    """Band rows of an earlier run's documents, straight from its signature file (rows in curated order)."""
    columns, row = ["id", "source", "rank", "shingles", "bands"], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=columns):
        yield signed_band_rows(pa.Table.from_batches([batch]), cfg, file_index, row, old=True)
        row += batch.num_rows


def read_texts(path: str, ids: set[str]) -> dict[str, str]:
    """The texts of ``ids`` from a curated file, reading only row groups whose id range may hold one."""
    f = pq.ParquetFile(path)
    col = f.schema_arrow.get_field_index("id")
    wanted, out = sorted(ids), {}
    for g in range(f.metadata.num_row_groups):
        stats = f.metadata.row_group(g).column(col).statistics
        if stats is not None and stats.has_min_max:
            lo = np.searchsorted(wanted, stats.min)
            if lo == len(wanted) or wanted[lo] > stats.max:
                continue
        t = f.read_row_group(g, columns=["id", "text"])
        t = t.filter(pc.is_in(t["id"], pa.array(wanted, pa.string())))
        out.update(zip(t["id"].to_pylist(), t["text"].to_pylist()))
    return out


def _copies(meta: str | None) -> int:
    """The documents a curated document stands for: itself and the exact copies dropped for it."""
    size = json.loads(meta).get("dup_cluster_size", 1) if meta else 1
    return size if isinstance(size, int) and size > 0 else 1


def apply_drops(
    root: str, curated_rel: str, dropped: dict[str, tuple[str, bool]], stage: str = "near_dedup"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Move ``dropped`` (id → (survivor id, direct)) from a curated file to rejects (reason ``near_duplicate``,
    or ``near_duplicate_chain`` when no verified edge joins it to its survivor); trim its signature file.

    Streams both files row group by row group. Returns count rows for stats.json (per source and reason, kept
    down and dropped up by the same documents and characters) and, per survivor, the documents its dropped
    members stood for."""
    source, name = os.path.normpath(curated_rel).split(os.sep)[-2:]
    ids = pa.array(sorted(dropped), pa.string())
    curated, rejects = (
        RowGroupWriter(os.path.join(root, curated_rel) + ".new"),
        RowGroupWriter(os.path.join(root, "rejects", source, f"{stage}-{name}")),
    )
    totals: dict[tuple[str, str | None], list[int]] = {}
    grown: dict[str, int] = {}
    for batch in pq.ParquetFile(os.path.join(root, curated_rel)).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        hit = pc.is_in(t["id"], ids)
        curated.write(t.filter(pc.invert(hit)))
        gone = t.filter(hit)
        reasons = [CHAIN if not dropped[i][1] else "near_duplicate" for i in gone["id"].to_pylist()]
        for i, meta, reason, n in zip(
            gone["id"].to_pylist(), gone["meta"].to_pylist(), reasons, pc.utf8_length(gone["text"]).to_pylist()
        ):
            total = totals.setdefault((reason, identified_language(meta)), [0, 0])
            total[0], total[1] = total[0] + 1, total[1] + n
            grown[dropped[i][0]] = grown.get(dropped[i][0], 0) + _copies(meta)
        rejects.write(
            pa.table(
                {
                    "id": gone["id"],
                    "source": gone["source"],
                    "status": pa.array([DROPPED] * gone.num_rows, pa.string()),
                    "stage": pa.array([stage] * gone.num_rows, pa.string()),
                    "reason": pa.array(reasons, pa.string()),
                    "detail": pa.array([dropped[i][0] for i in gone["id"].to_pylist()], pa.string()),
                    "text": gone["text"],
                    "meta": gone["meta"],
                }
            ).select(REJECT_COLUMNS)
        )
    curated.close()
    rejects.close()
    path = os.path.join(root, curated_rel)
    os.replace(path + ".new", path) if curated.rows else os.remove(path)
    trim_signatures(root, curated_rel, ids)
    counts = [
        row
        for (reason, language), (n, chars) in sorted(totals.items(), key=str)
        for row in moved_to_dropped(source, stage, reason, n, chars, language)
    ]
    return counts, grown


def trim_signatures(root: str, curated_rel: str, ids: pa.Array) -> None:
    """Take ``ids`` out of a curated file's signature file, which stays row-aligned with it (no-op without one)."""
    sig_path = signature_path(root, curated_rel)
    if not os.path.exists(sig_path):
        return
    signatures = RowGroupWriter(sig_path + ".new")
    for batch in pq.ParquetFile(sig_path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        signatures.write(t.filter(pc.invert(pc.is_in(t["id"], ids))))
    signatures.close()
    os.replace(sig_path + ".new", sig_path) if signatures.rows else os.remove(sig_path)


def grow_survivors(root: str, curated_rel: str, grown: dict[str, int]) -> None:
    """Add to each survivor's ``meta.dup_cluster_size`` the documents its near duplicates stood for (the file is
    rewritten in place, rows in their order: its signature file stays aligned)."""
    path = os.path.join(root, curated_rel)
    out = RowGroupWriter(path + ".new")
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        metas = [
            with_cluster_size(m, _copies(m) + grown[i]) if i in grown else m
            for i, m in zip(t["id"].to_pylist(), t["meta"].to_pylist())
        ]
        out.write(t.set_column(t.schema.get_field_index("meta"), "meta", pa.array(metas, pa.string())))
    out.close()
    os.replace(path + ".new", path)
