"""Real text for the quality classifier's tests: the sample's books (prose) against its code files."""

from __future__ import annotations

import gzip
import json
import os

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def book_texts() -> list[str]:
    with gzip.open(os.path.join(REPO, "data/sample/books/books.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


@pytest.fixture(scope="session")
def code_texts() -> list[str]:
    return pq.read_table(os.path.join(REPO, "data/sample/code/files.parquet"), columns=["content"])[
        "content"
    ].to_pylist()
