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
