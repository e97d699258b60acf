"""Inputs named by fsspec URLs: listed like local ones, read from a local copy that is removed after."""

import gzip
import json
import os

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.read.listing import ListingError
from pipeline.read.readers import SourceSpec, expand_inputs, read_input
from pipeline.schema import KEPT, QUARANTINED


def _bucket() -> fsspec.AbstractFileSystem:
    fs = fsspec.filesystem("memory")
    if fs.exists("/corpus"):
        fs.rm("/corpus", recursive=True)
    lines = b"".join(json.dumps({"text": f"document number {i}"}).encode() + b"\n" for i in range(5))
    fs.pipe("/corpus/web/2024/a.jsonl.gz", gzip.compress(lines))
    fs.pipe("/corpus/web/2025/b.jsonl", lines[:40] + b"\n")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": ["one", "two"]}), sink)
    fs.pipe("/corpus/web/c.parquet", sink.getvalue().to_pybytes())
    return fs


def test_globs_and_folders_list_objects_with_paths_below_the_pattern_root():
    _bucket()
    glob_spec = SourceSpec(name="web", paths=["memory://corpus/web/**/*.jsonl*"])
    found = expand_inputs(glob_spec, "/unused")
    assert [i.rel for i in found] == ["2024/a.jsonl.gz", "2025/b.jsonl"]
    assert all(i.path.startswith("memory://") and i.path.endswith("corpus/web/" + i.rel) for i in found)
    folder = SourceSpec(name="web", paths=["memory://corpus/web"])
    assert [i.rel for i in expand_inputs(folder, "/unused")] == ["2024/a.jsonl.gz", "2025/b.jsonl", "c.parquet"]
    missing = SourceSpec(name="web", paths=["memory://corpus/none/*.jsonl"])
    with pytest.raises(ListingError, match="matches no object"):
        expand_inputs(missing, "/unused")


def test_remote_objects_read_like_local_files_and_leave_no_copy(tmp_path):
    _bucket()
    spec = SourceSpec(name="web", paths=["memory://corpus/web", "memory://corpus/gone.jsonl"])
    # rel is below the common root of the two paths (memory://corpus), so the two patterns cannot collide
    rows = {}
    for inp in expand_inputs(spec, "/unused"):
        for table in read_input(spec, inp, cache_dir=str(tmp_path)):
            for row in table.to_pylist():
                rows.setdefault(inp.rel, []).append((row["status"], row["text"], row["reason"]))
    assert [t for s, t, _ in rows["web/2024/a.jsonl.gz"] if s == KEPT] == [f"document number {i}" for i in range(5)]
    assert [s for s, _, _ in rows["web/2025/b.jsonl"]] == [KEPT, QUARANTINED]  # the second line cut in the middle
    assert [t for _, t, _ in rows["web/c.parquet"]] == ["one", "two"]
    assert rows["gone.jsonl"][0][0] == QUARANTINED and rows["gone.jsonl"][0][2] == "FileNotFoundError"
    assert not [f for _, _, fs in os.walk(tmp_path) for f in fs]  # every local copy removed
