"""A careless or hostile corpus through the real command line: no crash, no hang, nothing read outside
the source roots, every record kept, dropped or quarantined with its reason, and the counts reconciled."""

import glob
import hashlib
import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from jobs.cli import main
from jobs.cli import main as cli_main
from jobs.stats_schema import check_stats
from tests.conftest import stdlib_sources
from tests.pipeline.images.test_checks import sample
from tests.pipeline.web.test_warc import _lie, _responses, _write
from tests.stage_reasons import undeclared

pytestmark = pytest.mark.slow

# the quality rules would judge these test texts (Python modules, fragments), which is not what these
# tests are about; language ID keeps its answer but drops nothing for a low score either
OFF = {
    **dict.fromkeys(["gopher_repetition", "gopher_quality", "c4", "fineweb_quality", "code_license"]),
    "langid": {"language_min_scores": None},
}


def _jsonl(path, records: list, extra: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + extra)


def _png(size: tuple[int, int] = (200, 200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def _web(root, texts: list[str]) -> list[dict]:
    """Same file names under two patterns and in a second source; a deep JSON line, a lone surrogate,
    a link to a file outside the root, a WARC record whose Content-Length lies."""
    _jsonl(
        root / "web" / "a" / "data.jsonl",
        [{"text": t} for t in texts[:10]],
        b"[" * 100_000 + b"]" * 100_000 + b"\n" + b'{"text": "a lone \\ud800 surrogate ' + b"word " * 60 + b'"}\n',
    )
    _jsonl(root / "web" / "b" / "data.jsonl", [{"text": t} for t in texts[10:20]])
    _jsonl(root / "outside" / "secret.jsonl", [{"text": "SECRET outside the source root"}])
    os.symlink(root / "outside" / "secret.jsonl", root / "web" / "b" / "link.jsonl")
    _jsonl(root / "web2" / "data.jsonl", [{"text": t} for t in texts[20:30]])
    records = _responses()
    records[1] = _lie(records[1], 10**12)
    (root / "crawl").mkdir()
    _write(root / "crawl" / "crawl.warc", records, gz=False)
    return [
        {"name": "web", "paths": ["web/a/*.jsonl", "web/b/*.jsonl"]},
        {"name": "web", "paths": ["web2/*.jsonl"]},
        {"name": "web", "paths": ["crawl/*.warc"]},
    ]


def _books(root, texts: list[str]) -> list[dict]:
    """Two symlink loops under a ``**`` pattern, a file name that is not UTF-8, a literal image marker."""
    (root / "books" / "x").mkdir(parents=True)
    os.symlink(root / "books", root / "books" / "x" / "loop1")
    os.symlink(root / "books" / "x", root / "books" / "x" / "loop2")
    with open(os.path.join(os.fsencode(root / "books" / "x"), b"caf\xe9.jsonl"), "w") as f:
        f.write(json.dumps({"text": texts[30]}) + "\n")
    _jsonl(root / "books" / "y.jsonl", [{"text": texts[31] + " <|image|> in a book"}])
    return [{"name": "book", "paths": ["books/**/*.jsonl"]}]


def _pairs(root) -> list[dict]:
    """A caption with a literal marker; image paths that point outside the data file's folder."""
    (root / "private").mkdir()
    (root / "private" / "secret.png").write_bytes(_png())
    pairs = root / "mm" / "deep" / "er"
    pairs.mkdir(parents=True)
    rows = [
        ("An astronaut <|image|> in a white suit.", sample("skimage/astronaut")),
        ("The password file of this machine.", "/etc/passwd"),
        ("A private picture two folders up.", "../../../private/secret.png"),
        ("A key that may not even exist.", "/root/.ssh/id_rsa"),
    ]
    images = [{"bytes": v, "path": None} if isinstance(v, bytes) else {"bytes": None, "path": v} for _, v in rows]
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # the HF datasets Image form
    pq.write_table(
        pa.table({"caption": [r[0] for r in rows], "image": pa.array(images, image_type)}), pairs / "pairs.parquet"
    )
    return [{"name": "multimodal", "paths": ["mm/**/*.parquet"], "text_field": "caption", "image_field": "image"}]


def _stats(out) -> dict:
    stats = json.loads((out / "stats.json").read_text())
    assert check_stats(stats) == []  # a careless corpus does not push stats.json off its schema
    return stats


def test_a_hostile_corpus_runs_to_the_end_with_every_record_accounted(tmp_path, ray_local, capsys):
    texts = [t for t in stdlib_sources(limit=60) if len(t) > 2000][:32]
    root = tmp_path / "corpus"
    root.mkdir()
    sources = _web(root, texts) + _books(root, texts) + _pairs(root)
    out = tmp_path / "out"
    config = {
        "sources": sources,
        "curate": OFF,
        "output_dir": str(out),
        "max_quarantined_share": 1.0,
        "tokenizer": {"vocab_size": 600},
        "pack": {"num_pack_groups": 2},
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(root / "run.yaml")]) == 0
    curate = _stats(out)["curate"]
    assert curate["reconciled"] and undeclared(curate["reasons"]) == []
    assert {s: v["in"] for s, v in curate["sources"].items()} == {
        "web": 12 + 10 + 1 + 10 + 4,
        "book": 2,
        "multimodal": 4,
    }
    quarantined = {(r["source"], r["reason"]): r["docs"] for r in curate["reasons"] if r["status"] == "quarantined"}
    assert quarantined == {
        ("web", "invalid_json"): 1,
        ("web", "outside_root"): 1,
        ("web", "warc_corrupt"): 1,
        ("multimodal", "image_outside_root"): 3,
    }
    rows = pa.concat_tables(
        [
            pq.read_table(f)
            for f in sorted(glob.glob(str(out / "*" / "*" / "*.parquet")))
            if "/curated/" in f or "/rejects/" in f
        ],
        promote_options="default",
    )
    ids = rows["id"].to_pylist()
    assert len(ids) == len(set(ids))  # same file names in two patterns and two sources: distinct ids
    assert {"web/web/a/data.jsonl#0", "web/web/b/data.jsonl#0", "web/web2/data.jsonl#0"} <= set(ids)
    everything = json.dumps([rows[c].to_pylist() for c in ("text", "detail", "meta")])
    assert "SECRET" not in everything and "root:x:0" not in everything
    refused = [d for d in rows["detail"].to_pylist() if d and "data folder" in d]
    assert len(refused) == 3 and all(str(root) not in d for d in refused)  # no resolved path, no existence oracle
    assert {d.split("' ", 1)[1] for d in refused} == {"is absolute or leaves the data folder"}
    secret = hashlib.sha256((root / "private" / "secret.png").read_bytes()).hexdigest()
    assert not glob.glob(str(out / "shards" / "images" / "**" / f"*{secret}*"), recursive=True)
    curated = pa.concat_tables([pq.read_table(f) for f in glob.glob(str(out / "curated" / "*" / "*.parquet"))])
    assert any("\ufffd surrogate" in t for t in curated["text"].to_pylist())
    assert any(i.startswith("book/x/caf\\xe9.jsonl") for i in ids)
    assert _stats(out)["pack"]["rows"] > 0  # a literal marker no longer stops packing
    assert "corpusmill: error" not in capsys.readouterr().err


def _small_web(tmp_path, **update) -> str:
    texts = [t for t in stdlib_sources(limit=40) if len(t) > 2000][:12]
    _jsonl(tmp_path / "web" / "data.jsonl", [{"text": t} for t in texts])
    config = {
        "sources": [{"name": "web", "paths": ["web/*.jsonl"]}],
        "curate": OFF,
        "output_dir": str(tmp_path / "out"),
        "tokenizer": {"vocab_size": 600},
        "pack": {"num_pack_groups": 2},
        **update,
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    return str(tmp_path / "run.yaml")


def test_outputs_removed_between_runs_are_rebuilt(tmp_path, ray_local, capsys, caplog):
    """A corpus without images, code or books runs to exit 0; a curated file removed after the run is
    noticed and rebuilt (the shards are the same). A changed setting reruns its pass by the same check
    (tests/jobs/test_markers.py: every setting, the seed included, changes its pass's hash)."""
    config = _small_web(tmp_path)
    out = tmp_path / "out"
    assert main(["run", config]) == 0
    first = _stats(out)
    assert "image dedup: 0 images" in capsys.readouterr().out
    manifest = (out / "shards" / "manifest.json").read_bytes()
    part = sorted(glob.glob(str(out / "curated" / "web" / "*.parquet")))[0]
    os.remove(part)
    caplog.clear()
    assert main(["run", config]) == 0
    assert "curate: outputs changed since it finished" in caplog.text and os.path.exists(part)
    assert _stats(out)["pack"]["tokens"] == first["pack"]["tokens"]
    assert (out / "shards" / "manifest.json").read_bytes() == manifest


SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "data", "sample")
OPTIONAL = [
    name
    for name, field in __import__("pipeline.stages", fromlist=["CurateConfig"]).CurateConfig.model_fields.items()
    if field.annotation.__class__.__name__ == "UnionType"
]


def _one_kind(root, kind: str) -> dict:
    """A few real documents of one kind: Python modules as books or code, the sample's image pairs."""
    if kind == "multimodal":
        return {
            "name": kind,
            "paths": [f"{SAMPLE}/multimodal/*.parquet"],
            "text_field": "caption",
            "image_field": "image",
        }
    texts = [t for t in stdlib_sources(limit=40) if len(t) > 3000][:6]
    rows = [
        {"text": t, "repo": "stdlib", "path": f"m{i}.py", "license": "psf-2.0", "language": "Python"}
        for i, t in enumerate(texts)
    ]
    _jsonl(root / kind / "docs.jsonl", rows)
    return {"name": kind, "paths": [f"{kind}/*.jsonl"], "meta_fields": ["repo", "path", "license", "language"]}


@pytest.mark.parametrize("kind", ["book", "code"])  # no images: the image dedup summary still holds
def test_a_corpus_of_one_kind_curates_to_exit_0_with_its_summary(tmp_path, ray_local, capsys, kind):
    config = {
        "sources": [_one_kind(tmp_path, kind)],
        "output_dir": str(tmp_path / "out"),
        "max_quarantined_share": 1.0,
        "mix": {"weights": {kind: 1.0}},
        "tokenizer": {"mix": {kind: 1.0}},
        "curate": {"near_dedup": None},
    }  # image dedup, whose summary broke without images, stays on
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert cli_main(["run", str(tmp_path / "c.yaml"), "--until", "curate"]) == 0
    printed = capsys.readouterr().out
    assert f"  {kind} " in printed and "(reconciled)" in printed and "image dedup:" in printed


def test_every_optional_stage_off_runs_the_whole_path(tmp_path, ray_local, capsys):
    assert {"near_dedup", "image_dedup", "langid", "pii_redact", "code_filter"} <= set(OPTIONAL)
    sources = [_one_kind(tmp_path, k) for k in ("book", "code", "multimodal")]
    sources.append(dict(_one_kind(tmp_path, "web"), meta_fields=[]))
    config = {
        "sources": sources,
        "output_dir": str(tmp_path / "out"),
        "max_quarantined_share": 1.0,
        "curate": dict.fromkeys(OPTIONAL),
        "tokenizer": {"vocab_size": 600},
        "pack": {"num_pack_groups": 2},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "c.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "near dedup" not in printed and "image dedup" not in printed and "shards:" in printed
