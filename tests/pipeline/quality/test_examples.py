import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.quality.examples import reference_documents, run_documents

DOCS = [{"text": "first reference"}, {"text": "second\nreference"}]


def test_reference_files_in_every_format_give_their_texts_with_line_ids(tmp_path):
    lines = "".join(json.dumps(d) + "\n" for d in DOCS) + "\n"
    (tmp_path / "r.jsonl").write_text(lines)
    (tmp_path / "r.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (tmp_path / "r.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    pq.write_table(pa.table({"body": [d["text"] for d in DOCS]}), tmp_path / "r.parquet")
    for name, field in (("r.jsonl", "text"), ("r.jsonl.gz", "text"), ("r.jsonl.zst", "text"), ("r.parquet", "body")):
        got = list(reference_documents(str(tmp_path / name), field))
        assert got == [(f"{name}:1", "first reference"), (f"{name}:2", "second\nreference")]


def test_a_bad_reference_line_names_the_file_and_line(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"text": "ok"}\n{"text": 3}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl line 2 has no string field 'text'"):
        list(reference_documents(str(tmp_path / "r.jsonl"), "text"))
    (tmp_path / "s.jsonl").write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match=r"s\.jsonl line 2 is not JSON"):
        list(reference_documents(str(tmp_path / "s.jsonl"), "text"))
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "r.parquet")
    with pytest.raises(ValueError, match=r"has no column 'text'"):
        list(reference_documents(str(tmp_path / "r.parquet"), "text"))


def test_a_rejects_file_gives_its_dropped_rows_not_its_quarantined_ones(tmp_path):
    t = pa.table(
        {"id": ["a", "b", "c"], "text": ["one", "two", "three"], "status": ["dropped", "quarantined", "dropped"]}
    )
    pq.write_table(t, tmp_path / "r.parquet")
    assert list(run_documents(str(tmp_path / "r.parquet"), dropped_only=True)) == [("a", "one"), ("c", "three")]
    assert len(list(run_documents(str(tmp_path / "r.parquet"), dropped_only=False))) == 3
