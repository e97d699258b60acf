"""Shared fixtures: real text from the Python standard library, a local loopback-only Ray."""

from __future__ import annotations

import glob
import os
import sysconfig
from pathlib import Path

import pytest

STDLIB = sysconfig.get_paths()["stdlib"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stdlib_sources(pattern: str = "*.py", limit: int | None = None) -> list[str]:
    """Real documents for tests: standard-library module sources, in a fixed order."""
    paths = sorted(glob.glob(os.path.join(STDLIB, pattern)))[:limit]
    return [Path(p).read_text(encoding="utf-8") for p in paths]


@pytest.fixture(scope="session")
def stdlib_texts() -> list[str]:
    return stdlib_sources("json/*.py") + stdlib_sources("textwrap.py")


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray per test session, started the way the runner starts it."""
    from jobs.config import RayConfig
    from jobs.ray_session import start_ray

    cpus = start_ray(RayConfig(num_cpus=2, object_store_mb=512))
    yield cpus
    import ray

    ray.shutdown()


# A test that starts Ray (directly or through the sample run) is slow: the fast subset (-m "not slow") leaves it out.
_RAY_FIXTURES = frozenset({"ray_local", "sample_run"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _RAY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory) -> str:
    """A real BPE tokenizer trained on standard-library sources and docstrings (seconds on 2 cores)."""
    from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer

    texts = stdlib_sources(limit=60)
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(iter(texts), TokenizerConfig(vocab_size=1000), str(out))
    return str(out / "tokenizer.json")
