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


def write_parquet_atomic(table: pa.Table, path: str) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table.combine_chunks(), tmp, compression="zstd", row_group_size=2048)  # layout-independent bytes
    os.replace(tmp, path)
    return os.path.getsize(path)


def write_bucket(table: pa.Table, out_dir: str, bucket: int, rejects_prefix: str = "") -> pa.Table:
    """Write the bucket's files; return its outcome counts (see ``accounting.count_outcomes``). A later pass
    that rejects rows names its rejects files with ``rejects_prefix``, beside the earlier passes' files."""
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
    return count_outcomes(table)
