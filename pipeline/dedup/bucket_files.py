"""Staged files laid out by exact-dedup bucket, so that a bucket's rows are read, not shuffled.

Every row group of a staged file holds the rows of one content bucket (``exact.add_content_keys``),
and the column statistics say which. Exact dedup then runs one task per bucket that reads just
that bucket's row groups from every staged file: each text travels once from storage to the task
that judges and writes it, where a shuffle of the staged rows moves every text a second time,
between the nodes (benchmarks/RESULTS.md measured 1.65 MB crossing per input MB that way). This is
how Spark's and datatrove's shuffles go through files; the cost is one footer read per staged file
and bucket.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BUCKET = "bucket"
BUFFER_BYTES = 64 << 20  # rows a writer holds before writing each bucket's as a row group


class BucketedWriter:
    """Writes tables with a ``bucket`` column as row groups of one bucket each, under a temporary name; a
    bucket's rows are held until ``BUFFER_BYTES`` are held in all, so a small file has one row group per
    bucket and a large one a few."""

    def __init__(self, path: str, buffer_bytes: int = BUFFER_BYTES) -> None:
        self.path, self.tmp, self.limit = path, f"{path}.tmp-{os.getpid()}", buffer_bytes
        self.writer: pq.ParquetWriter | None = None
        self.held: dict[int, list[pa.Table]] = {}
        self.held_bytes = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        if not table.num_rows:
            return
        # one stable sort, then a slice per bucket's run: a filter per bucket scanned the table once for each
        # (16 ms against 2 ms for 1,000 rows over 1,024 buckets, the cluster config's)
        table = table.take(pc.sort_indices(table[BUCKET]))
        keys = table[BUCKET].to_numpy()
        cuts = (np.flatnonzero(np.diff(keys)) + 1).tolist()
        for start, end in zip([0, *cuts], [*cuts, len(keys)]):
            self.held.setdefault(int(keys[start]), []).append(table.slice(start, end - start))
        self.held_bytes += table.nbytes
        if self.held_bytes >= self.limit:
            self._flush()

    def _flush(self) -> None:
        assert self.writer is not None
        for b in sorted(self.held):
            rows = pa.concat_tables(self.held[b]).combine_chunks()
            self.writer.write_table(rows, row_group_size=max(1, rows.num_rows))
        self.held, self.held_bytes = {}, 0

    def close(self) -> bool:
        """Publish the file; False (and nothing written) when no table came."""
        if self.writer is None:
            return False
        self._flush()
        self.writer.close()
        os.replace(self.tmp, self.path)
        return True


def _holds(meta: pq.RowGroupMetaData, column: int, bucket: int) -> bool | None:
    """Whether a row group holds ``bucket`` by its statistics; None when it has none to tell by."""
    stats = meta.column(column).statistics
    if stats is None or not stats.has_min_max:
        return None
    return stats.min <= bucket <= stats.max


def read_bucket(path: str, bucket: int) -> pa.Table | None:
    """The rows of ``bucket`` in a staged file (None when it holds none): its row groups chosen by their
    statistics; a row group without statistics, or of several buckets, is read and filtered."""
    f = pq.ParquetFile(path)
    column = [f.schema.column(i).path for i in range(f.metadata.num_columns)].index(BUCKET)  # a leaf, not a field
    groups = [g for g in range(f.num_row_groups) if _holds(f.metadata.row_group(g), column, bucket) is not False]
    if not groups:
        return None
    table = f.read_row_groups(groups)
    table = table.filter(pc.equal(table[BUCKET], bucket))
    return table if table.num_rows else None
