"""Staged files by bucket: every row comes back in its own bucket, whatever the row groups."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dedup.bucket_files import BucketedWriter, read_bucket

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("images", pa.list_(pa.struct([("sha256", pa.string()), ("bytes", pa.binary())]))),
        ("bucket", pa.int32()),
    ]
)


def _table(start: int, n: int, buckets: int) -> pa.Table:
    """Rows with a nested column before ``bucket``: the bucket's leaf column is not its field index."""
    return pa.table(
        {
            "id": [f"d{i}" for i in range(start, start + n)],
            "images": [[{"sha256": "x", "bytes": b""}] for _ in range(n)],
            "bucket": [(i * 7) % buckets for i in range(start, start + n)],
        },
        schema=SCHEMA,
    )


def _ids(table: pa.Table | None) -> list[str]:
    return [] if table is None else table["id"].to_pylist()


def test_each_bucket_reads_back_its_rows_only(tmp_path):
    path, buckets = str(tmp_path / "s.parquet"), 5
    writer = BucketedWriter(path, buffer_bytes=1)  # a flush per table: several row groups per bucket
    tables = [_table(0, 40, buckets), _table(40, 0, buckets), _table(40, 60, buckets)]
    for t in tables:
        writer.write(t)
    assert writer.close()
    every = pa.concat_tables(tables)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups > buckets  # flushed more than once
    for b in range(buckets):
        want = [i for i, k in zip(every["id"].to_pylist(), every["bucket"].to_pylist()) if k == b]
        assert sorted(_ids(read_bucket(path, b))) == sorted(want)
        assert want
    assert read_bucket(path, buckets) is None


def test_one_row_group_per_bucket_when_small(tmp_path):
    path = str(tmp_path / "s.parquet")
    writer = BucketedWriter(path)
    writer.write(_table(0, 30, 3))
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 3
    assert [meta.row_group(g).num_rows for g in range(3)] == [10, 10, 10]


def test_row_groups_without_statistics_are_filtered(tmp_path):
    """A file whose row groups mix buckets and carry no statistics still gives each bucket its rows."""
    path = str(tmp_path / "s.parquet")
    table = _table(0, 20, 4)
    pq.write_table(table, path, write_statistics=False, row_group_size=7)
    for b in range(4):
        assert sorted(_ids(read_bucket(path, b))) == sorted(
            i for i, k in zip(table["id"].to_pylist(), table["bucket"].to_pylist()) if k == b
        )


def test_no_table_no_file_and_empty_table_no_rows(tmp_path):
    none = BucketedWriter(str(tmp_path / "none.parquet"))
    assert not none.close()
    assert not (tmp_path / "none.parquet").exists()
    empty = BucketedWriter(str(tmp_path / "empty.parquet"))
    empty.write(_table(0, 0, 2))
    assert empty.close()
    assert read_bucket(str(tmp_path / "empty.parquet"), 0) is None
