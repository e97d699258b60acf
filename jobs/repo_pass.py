"""Repository documents from the code files that survived file-level exact and near dedup.

The Stack v2 and StarCoder deduplicate files; DeepSeek-Coder then builds repository documents and
deduplicates those again. Until this pass ``curated/code`` holds one row per file (so exact and near
dedup judge files, and a vendored copy of numpy's ``_pep440.py`` meets the original); this pass
groups the surviving files by repository (a shuffle on ``meta.repo``), builds the documents
(``pipeline/code/repo_documents.py``), spreads them over buckets by id and writes ``curated/code`` anew.
"""

from __future__ import annotations

import glob
import os
import shutil
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from jobs.progress import report
from jobs.ray_steps import grouped_map, read_parquet_files
from pipeline.accounting import COUNT_SCHEMA
from pipeline.code.repo_documents import STAGE, RepoDocConfig, repo_keys, repo_stage
from pipeline.curated_io import write_bucket
from pipeline.dedup.exact import bucket_of, id_hash
from pipeline.schema import DOCUMENT_SCHEMA, KEPT, MERGED, WORK_SCHEMA

INPUT = "_repo_files"  # the file rows while the pass reads them


def _work_rows(batch: pa.Table) -> pa.Table:
    """Curated document rows as work rows, kept, with no rewrites (they were counted when they happened)."""
    n = batch.num_rows
    none = pa.nulls(n, pa.string())
    columns = {c: batch[c] for c in DOCUMENT_SCHEMA.names} | {
        "status": pa.array([KEPT] * n, pa.string()),
        "stage": none,
        "reason": none,
        "detail": none,
        "rewrites": pa.array([[]] * n, pa.list_(pa.string())),
        "language": none,
    }
    return pa.table(columns, schema=WORK_SCHEMA)


def _add_repo_group(table: pa.Table, spread: int) -> pa.Table:
    """Files group by repository; a file without one by a hash of its id (bounded groups)."""
    keys = [
        f"repo:{repo}" if repo else f"id:{bucket_of(id_hash(i), spread)}"
        for repo, i in zip(repo_keys(table).to_pylist(), table["id"].to_pylist())
    ]
    return table.append_column("_group", pa.array(keys, pa.string()))


def _build(group: pa.Table, cfg: RepoDocConfig, buckets: int) -> pa.Table:
    """A partition's documents, with every row's bucket and length; a merged file's text, which lives on in its
    document and is only counted from here, travels as its length (``_chars``), not twice through the shuffle."""
    out = repo_stage(group.drop_columns(["_group"]), cfg)
    chars = pc.utf8_length(out["text"]).cast(pa.int64())
    merged = pc.equal(out["status"], MERGED)
    out = out.set_column(out.schema.get_field_index("text"), "text", pc.if_else(merged, "", out["text"]))
    bucket = pa.array([bucket_of(id_hash(i), buckets) for i in out["id"].to_pylist()], pa.int32())
    return out.append_column("_chars", chars).append_column("bucket", bucket)


def _write(group: pa.Table, out_dir: str, counter: Any) -> pa.Table:
    """One bucket's documents into ``curated/code``, its licence files into rejects; count rows that move the
    files it took in from kept to merged or dropped, and count the documents it made."""
    bucket, chars = group["bucket"][0].as_py(), group["_chars"]
    group = group.drop_columns(["bucket", "_chars"])
    made = pc.and_(pc.equal(group["status"], KEPT), pc.fill_null(pc.equal(group["stage"], STAGE), False))
    came_in = pc.invert(made)  # every row that came in: merged, a licence file, or a file of no repo
    counts = write_bucket(group, out_dir, bucket, rejects_prefix="repo_document-", chars=chars)
    taken = {
        "source": "code",
        "status": KEPT,
        "stage": None,
        "reason": None,
        "docs": -int(pc.sum(came_in.cast(pa.int64())).as_py() or 0),
        "chars": -int(pc.sum(chars.filter(came_in)).as_py() or 0),
    }
    report(counter, "curate/repo_documents", units=1, docs=group.num_rows)
    return pa.concat_tables([counts, pa.Table.from_pylist([taken], schema=COUNT_SCHEMA)])


def run_repo_documents(
    out_dir: str, cfg: RepoDocConfig, buckets: int, partitions: int, counter: Any = None
) -> list[dict[str, Any]]:
    """Rebuild ``curated/code`` as repository documents; return the count rows for stats.json."""
    code = os.path.join(out_dir, "curated", "code")
    if not cfg.enabled or not glob.glob(os.path.join(code, "*.parquet")):
        return []
    taken = os.path.join(out_dir, INPUT)
    shutil.rmtree(taken, ignore_errors=True)
    os.makedirs(taken)
    os.replace(code, os.path.join(taken, "code"))
    ds = read_parquet_files(sorted(glob.glob(os.path.join(taken, "code", "*.parquet"))))
    ds = ds.map_batches(_work_rows, batch_format="pyarrow").map_batches(
        partial(_add_repo_group, spread=64), batch_format="pyarrow"
    )
    ds = grouped_map(ds, "_group", partitions, partial(_build, cfg=cfg, buckets=buckets))
    ds = grouped_map(ds, "bucket", partitions, partial(_write, out_dir=out_dir, counter=counter))
    counts = ds.take_all()
    shutil.rmtree(taken)
    return counts
