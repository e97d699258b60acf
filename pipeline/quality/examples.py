"""Where training examples come from: a run's curated and rejected documents, or reference files."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator

import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.read.compressed import open_binary
from pipeline.schema import DROPPED

REFERENCE_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")


def run_documents(path: str, dropped_only: bool) -> Iterator[tuple[str, str]]:
    """(id, text) of a curated file, or of a rejects file's dropped rows (quarantined rows are bad input,
    not documents)."""
    f = pq.ParquetFile(path)
    columns = ["id", "text"] + (["status"] if dropped_only else [])
    for batch in f.iter_batches(batch_size=256, columns=columns):
        if dropped_only:
            batch = batch.filter(pc.equal(batch["status"], DROPPED))
        yield from zip(batch["id"].to_pylist(), batch["text"].to_pylist())


def _lines(path: str) -> Iterator[str]:
    with open_binary(path) as stream:
        yield from io.TextIOWrapper(stream, encoding="utf-8")


def reference_documents(path: str, text_field: str) -> Iterator[tuple[str, str]]:
    """(id, text) of a reference file: its name and line (or row) number as id; a line that is not a JSON
    object with a string ``text_field`` stops with the file and line named."""
    name = os.path.basename(path)
    if path.endswith(".parquet"):
        f = pq.ParquetFile(path)
        if text_field not in f.schema_arrow.names:
            raise ValueError(f"quality.train: {path} has no column {text_field!r} (text_field)")
        n = 0
        for batch in f.iter_batches(batch_size=256, columns=[text_field]):
            for text in batch[text_field].to_pylist():
                n += 1
                if isinstance(text, str):
                    yield f"{name}:{n}", text
        return
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"quality.train: {path} line {n} is not JSON ({e.msg})") from None
        text = doc.get(text_field) if isinstance(doc, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"quality.train: {path} line {n} has no string field {text_field!r} (text_field)")
        yield f"{name}:{n}", text
