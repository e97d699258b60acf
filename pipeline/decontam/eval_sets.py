"""Evaluation items from the files a user has: JSONL (.gz/.zst), Parquet, or a ``datasets`` directory."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.parquet as pq

from pipeline.decontam.config import EvalSetConfig
from pipeline.read.compressed import open_binary


@dataclass(frozen=True)
class EvalItem:
    task: str
    item_id: str
    queries: tuple[str, ...]  # the query fields' texts, in config order
    labels: tuple[str, ...]  # the label fields' texts


def _records(path: str) -> Iterator[dict]:
    if os.path.isdir(path):  # datasets' save_to_disk
        from datasets import load_from_disk

        yield from load_from_disk(path)
        return
    if path.endswith(".parquet"):
        yield from pq.read_table(path).to_pylist()
        return
    with open_binary(path) as stream:
        for n, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"decontam: {path} line {n} is not JSON ({e.msg})") from None


def _texts(record: dict, fields: list[str], where: str) -> tuple[str, ...]:
    out = []
    for f in fields:
        if f not in record:
            raise ValueError(f"decontam: {where} has no field {f!r} (its fields: {sorted(record)})")
        value = record[f]
        if isinstance(value, list):  # several golds, e.g. accepted answers
            out += [str(v) for v in value if v is not None]
        elif value is not None:
            out.append(str(value))
    return tuple(out)


def load_items(cfg: EvalSetConfig, path: str) -> list[EvalItem]:
    """Every item of one set; a record without a configured field is an error naming it."""
    items = []
    for i, record in enumerate(_records(path)):
        where = f"{cfg.task} item {i} ({path})"
        item_id = str(record[cfg.id_field]) if cfg.id_field and cfg.id_field in record else str(i)
        if cfg.id_field and cfg.id_field not in record:
            raise ValueError(f"decontam: {where} has no id field {cfg.id_field!r}")
        items.append(
            EvalItem(
                cfg.task, item_id, _texts(record, cfg.query_fields, where), _texts(record, cfg.label_fields, where)
            )
        )
    return items
