"""The snippets of the README and docs/ run as written."""

import re
from pathlib import Path

import pyarrow as pa

from tests.conftest import REPO
from tests.tokenization.test_loader import write_shard_dir


def _snippet(marker: str) -> str:
    text = "".join(p.read_text() for p in [Path(REPO) / "README.md", *sorted((Path(REPO) / "docs").glob("*.md"))])
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if b.startswith(f"# {marker}\n"))


def test_interop_snippet_reads_shards_with_pyarrow_and_datasets(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    shard_dir = write_shard_dir(tmp_path / "shards")
    namespace: dict = {}
    exec(_snippet("interop").replace('"out/sample/shards"', repr(shard_dir)), namespace)
    rows = sum(pa.ipc.open_file(f).read_all().num_rows for f in namespace["files"])
    assert namespace["ds"].num_rows == rows and len(namespace["ds"][0]["input_ids"]) == 128
    assert namespace["table"].schema.field("input_ids").type == pa.list_(pa.uint32(), 128)
