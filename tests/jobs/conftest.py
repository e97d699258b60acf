"""The sample run, shared by the modules that check it (one run per test session)."""

import hashlib
from pathlib import Path

import pytest

from jobs.config import load_config
from jobs.run import run


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, ray_local):
    out = tmp_path_factory.mktemp("sample") / "out"
    stats = run(load_config(), str(out))
    return out, stats


def tree_digest(root: Path, subdirs: list[str]) -> dict[str, str]:
    """sha256 of every output file that must be reproducible."""
    digests = {}
    for sub in subdirs:
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def book_corpus_config(tmp_path: Path, docs: str, curate: dict, meta_fields: list[str] | None = None) -> str:
    """A config over one JSONL file read as books, with the book repairs, Gopher rules and near dedup off (they
    would rewrite or drop a test's short texts): what a test of a later curation step needs. Its output lies
    beside ``tmp_path``, outside the input folder. Returns the config's path."""
    import yaml

    source = {"name": "book", "paths": [docs], **({"meta_fields": meta_fields} if meta_fields else {})}
    config = {
        "sources": [source],
        "output_dir": str(output_of(tmp_path)),
        "curate": {
            "near_dedup": None,
            "book_boilerplate": None,
            "book_layout": None,
            "gopher_repetition": None,
            "gopher_quality": None,
            **curate,
        },
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return str(tmp_path / "c.yaml")


def output_of(tmp_path: Path) -> Path:
    return tmp_path.parent / f"{tmp_path.name}-out"
