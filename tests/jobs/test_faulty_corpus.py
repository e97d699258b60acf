"""A corpus with faults mixed in runs to the end on local Ray, every bad record quarantined and counted."""

import glob
import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from jobs.config import RunConfig
from jobs.run import run
from pipeline.readers import SourceSpec
from tests.conftest import stdlib_sources


def _faulty_corpus(root) -> tuple[list[SourceSpec], int]:
    texts = stdlib_sources(limit=30)
    lines = b"".join(json.dumps({"text": t}).encode() + b"\n" for t in texts)
    (root / "web").mkdir()
    (root / "web" / "good.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    cut = zstandard.ZstdCompressor().compress(lines)
    (root / "web" / "truncated.jsonl.zst").write_bytes(cut[: len(cut) // 2])
    (root / "web" / "garbage.jsonl").write_bytes(os.urandom(2000).replace(b"\n", b" ") + b"\n" + b"\xff\xfe\n")
    (root / "book").mkdir()
    (root / "book" / "b.jsonl.gz").write_bytes(gzip.compress(lines.split(b"\n", 10)[0] + b'\n{"text": 5}\n'))
    (root / "code").mkdir()
    pq.write_table(pa.table({"body": ["no content column"]}), root / "code" / "wrong.parquet")
    pq.write_table(pa.table({"content": texts[:5]}), root / "code" / "ok.parquet")
    specs = [SourceSpec(name="web", paths=["web/*"]),
             SourceSpec(name="book", paths=["book/*.jsonl.gz", "book/missing.jsonl.gz"]),
             SourceSpec(name="code", paths=["code/*.parquet"], text_field="content")]
    return specs, len(texts)


def test_faults_are_quarantined_and_counts_reconcile(tmp_path, ray_local):
    specs, n = _faulty_corpus(tmp_path)
    # the texts are Python modules: the prose quality rules and the licence allow-list would drop
    # them, and this test is about faults, so those stages are off
    quality_off = dict.fromkeys(["gopher_repetition", "gopher_quality", "c4", "fineweb_quality", "code_license"])
    cfg = RunConfig(sources=specs, curate=quality_off, tokenizer={"vocab_size": 600}, pack={"num_pack_groups": 2})
    cfg.base_dir = str(tmp_path)
    stats = run(cfg, str(tmp_path / "out"))
    curate = stats["curate"]
    assert curate["reconciled"]
    reasons = {(r["source"], r["reason"]): r["docs"] for r in curate["reasons"] if r["status"] == "quarantined"}
    assert reasons[("web", "TruncatedInputError")] == 1
    assert reasons[("web", "invalid_utf8")] == 2  # both garbage lines
    assert reasons[("book", "missing_text")] == 1 and reasons[("book", "FileNotFoundError")] == 1
    assert reasons[("code", "wrong_schema")] == 1
    web = curate["sources"]["web"]
    assert web["kept"] == n - 5  # five texts also came as code, whose ids sort first and survive
    assert web["in"] == web["kept"] + web["dropped"] + web["quarantined"]
    rejects = pq.read_table(glob.glob(str(tmp_path / "out" / "rejects" / "web" / "*.parquet")))
    assert set(rejects["reason"].to_pylist()) >= {"TruncatedInputError", "invalid_utf8", "exact_duplicate"}
    assert stats["pack"]["rows"] > 0
