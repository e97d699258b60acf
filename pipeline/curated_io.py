"""Write one dedup bucket's rows as final files: kept rows to ``curated/``, the rest to ``rejects/``.

Files are named by source and bucket and their rows sorted by id, so the bytes written do
not depend on how many workers or blocks produced them. Each file is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.accounting import count_outcomes
from pipeline.schema import DROPPED, KEPT, QUARANTINED, to_documents

REJECT_COLUMNS = ["id", "source", "status", "stage", "reason", "detail", "text", "meta"]
ROW_GROUP = 2048  # rows per row group of the files later passes rewrite, as in the curated files


def reject_rows(gone: pa.Table, stage: str, reason: str, details: list[str | None]) -> pa.Table:
    """Rows a later pass takes out of ``curated/``, as ``rejects/`` holds them: dropped at ``stage``."""
    n = gone.num_rows
    return pa.table(
        {
            "id": gone["id"],
            "source": gone["source"],
            "status": pa.array([DROPPED] * n, pa.string()),
            "stage": pa.array([stage] * n, pa.string()),
            "reason": pa.array([reason] * n, pa.string()),
            "detail": pa.array(details, pa.string()),
            "text": gone["text"],
            "meta": gone["meta"],
        }
    ).select(REJECT_COLUMNS)


def write_parquet_atomic(table: pa.Table, path: str) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table.combine_chunks(), tmp, compression="zstd", row_group_size=2048)  # layout-independent bytes
    os.replace(tmp, path)
    return os.path.getsize(path)


def write_bucket(
    table: pa.Table, out_dir: str, bucket: int, rejects_prefix: str = "", chars: pa.ChunkedArray | None = None
) -> pa.Table:
    """Write the bucket's files; return its outcome counts (see ``accounting.count_outcomes``: ``chars``, the
    rows' lengths where a row's text is no longer carried). A later pass that rejects rows names its rejects
    files with ``rejects_prefix``, beside the earlier passes' files."""
    for source in sorted(set(table["source"].to_pylist())):
        rows = table.filter(pc.equal(table["source"], source)).sort_by("id")
        kept = rows.filter(pc.equal(rows["status"], KEPT))
        # merged rows live on inside the document that names them (its meta's merged_ids)
        rejected = rows.filter(pc.is_in(rows["status"], pa.array([DROPPED, QUARANTINED])))
        name = f"part-{bucket:05d}.parquet"
        if kept.num_rows:
            write_parquet_atomic(to_documents(kept), os.path.join(out_dir, "curated", source, name))
        if rejected.num_rows:
            write_parquet_atomic(
                rejected.select(REJECT_COLUMNS), os.path.join(out_dir, "rejects", source, rejects_prefix + name)
            )
    return count_outcomes(table, chars)


class RowGroupWriter:
    """Writes tables as they come in row groups of ROW_GROUP rows, then publishes the file (or none)."""

    def __init__(self, path: str) -> None:
        self.path, self.tmp = path, f"{path}.tmp-{os.getpid()}"
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, table: pa.Table, final: bool = False) -> None:
        if table.num_rows:
            self.pending.append(table)
        ready = sum(t.num_rows for t in self.pending)
        if not self.pending or (ready < ROW_GROUP and not final):
            return
        t = pa.concat_tables(self.pending).combine_chunks()
        cut = ready if final else ready - ready % ROW_GROUP
        if self.writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, t.schema, compression="zstd")
        self.writer.write_table(t.slice(0, cut), row_group_size=ROW_GROUP)
        self.pending, self.rows = [t.slice(cut)] if cut < ready else [], self.rows + cut

    def close(self) -> None:
        if self.pending:
            self.write(pa.table({}), final=True)
        if self.writer:
            self.writer.close()
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.path):
            os.remove(self.path)
