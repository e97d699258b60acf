"""A corpus with faults mixed in runs to the end on local Ray, every bad record quarantined and counted."""

import glob
import gzip
import io
import json
import os
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
import zstandard

from jobs.cli import main
from jobs.run import EXIT_QUARANTINED
from pipeline.read.readers import SourceSpec
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
    specs = [
        SourceSpec(name="web", paths=["web/*"]),
        SourceSpec(name="book", paths=["book/*.jsonl.gz", "book/missing.jsonl.gz"]),
        SourceSpec(name="code", paths=["code/*.parquet"], text_field="content"),
    ]
    return specs, len(texts)


def _more_faults(root) -> list[dict]:
    """A 200 MB single line, an undecodable image among good ones, an archive with a path-traversal entry."""
    with open(root / "web" / "huge.jsonl", "wb") as f:
        f.write(b'{"text": "')
        for _ in range(200):
            f.write(b"x" * (1 << 20))
        f.write(b'"}\n' + json.dumps({"text": "the line after the huge one is read " * 20}).encode() + b"\n")
    (root / "multimodal").mkdir()
    from tests.pipeline.images.test_checks import sample

    good = sample("skimage/astronaut")
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    pq.write_table(
        pa.table(
            {"caption": ["An astronaut in a white suit.", "A broken picture of something."], "image": [good, broken]}
        ),
        root / "multimodal" / "pairs.parquet",
    )
    with tarfile.open(root / "code" / "traversal.tar", "w") as tar:
        for name, data in (("repo/ok.py", b"print('ok')\n"), ("repo/../../etc/cron.d/x", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return [{"name": "multimodal", "paths": ["multimodal/*.parquet"], "text_field": "caption", "image_field": "image"}]


def test_faults_are_quarantined_counted_and_exit_3(tmp_path, ray_local, capsys):
    """Every bad record quarantined with its reason and counted; the run writes its outputs, prints how
    many records were quarantined, and exits 3 because that is over max_quarantined_share."""
    specs, n = _faulty_corpus(tmp_path)
    extra = _more_faults(tmp_path)
    # the texts are Python modules: the prose quality rules and the licence allow-list would drop
    # them, and this test is about faults, so those stages are off; so is near dedup, which faults
    # never reach (they are quarantined as they are read) and which tests/jobs/test_near_dedup.py covers
    off = dict.fromkeys(["gopher_repetition", "gopher_quality", "c4", "fineweb_quality", "code_license", "near_dedup"])
    # for the same reason language ID keeps its answer but drops nothing (Python reads as unsure English)
    config = {
        "sources": [s.model_dump(exclude_defaults=True) for s in specs] + extra,
        "curate": {**off, "langid": {"language_min_scores": None}},
        "tokenizer": {"vocab_size": 600},
        "pack": {"num_pack_groups": 2},
        "output_dir": str(tmp_path / "out"),
    }
    config["sources"][2]["paths"].append("code/*.tar")
    (tmp_path / "faulty.yaml").write_text(yaml.safe_dump(config))
    code = main(["run", str(tmp_path / "faulty.yaml")])
    printed = capsys.readouterr().out
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    curate = stats["curate"]
    assert code == EXIT_QUARANTINED and curate["reconciled"] and stats["pack"]["rows"] > 0
    quarantined = {(r["source"], r["reason"]): r["docs"] for r in curate["reasons"] if r["status"] == "quarantined"}
    assert quarantined == {
        ("web", "TruncatedInputError"): 1,
        ("web", "invalid_utf8"): 2,  # both garbage lines
        ("web", "record_too_large"): 1,
        ("book", "missing_text"): 1,
        ("book", "FileNotFoundError"): 1,
        ("code", "wrong_schema"): 1,
        ("code", "path_traversal"): 1,
        ("multimodal", "image_unreadable"): 1,
    }
    web = curate["sources"]["web"]
    # the good file's texts (the truncated file's are exact duplicates of them) and the line after the huge one; five
    # texts also came as code, which is kept byte for byte, so they are not byte-equal to the cleaned web copies
    assert web["kept"] == n + 1
    assert web["in"] == web["kept"] + web["dropped"] + web["quarantined"]
    rejects = pq.read_table(glob.glob(str(tmp_path / "out" / "rejects" / "web" / "*.parquet")))
    assert set(rejects["reason"].to_pylist()) >= {
        "TruncatedInputError",
        "invalid_utf8",
        "exact_duplicate",
        "record_too_large",
    }
    total = curate["totals"]["quarantined"]
    assert total == sum(quarantined.values())
    assert f"quarantined: {total} of {curate['totals']['in']} records" in printed
    assert f"FAILED: {total} records quarantined" in printed and "exit code 3" in printed
    assert "the line after the huge one" in "".join(
        pq.read_table(glob.glob(str(tmp_path / "out" / "curated" / "web" / "*.parquet")))["text"].to_pylist()
    )
