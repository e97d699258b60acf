import pytest

from tests.conftest import stdlib_sources
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory) -> str:
    """A real BPE tokenizer trained on standard-library sources and docstrings (seconds on 2 cores)."""
    texts = stdlib_sources(limit=60)
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(iter(texts), TokenizerConfig(vocab_size=1000), str(out))
    return str(out / "tokenizer.json")
