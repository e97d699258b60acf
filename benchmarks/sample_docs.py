"""The bundled sample corpus read and cleaned in-process (no Ray), for benchmarks."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from jobs.config import load_config
from pipeline.read.readers import expand_inputs, read_input
from pipeline.schema import KEPT, to_documents
from pipeline.stages import run_row_stages


def sample_documents(config: str | None = None) -> pa.Table:
    """Every kept document of the sample (Document schema), after cleaning and filtering."""
    cfg = load_config(config)
    tables = []
    for spec in cfg.sources:
        for inp in expand_inputs(spec, cfg.base_dir):
            for table in read_input(spec, inp):
                table = run_row_stages(table, cfg.curate)
                tables.append(to_documents(table.filter(pc.equal(table["status"], KEPT))))
    return pa.concat_tables(tables)


def held_back_ids(docs: pa.Table, share: float = 0.1) -> set[str]:
    """A stable split: per source, the ``share`` of documents (at least one) with the smallest id hash."""
    by_source: dict[str, list[tuple[str, str]]] = {}
    for ident, source in zip(docs["id"].to_pylist(), docs["source"].to_pylist()):
        by_source.setdefault(source, []).append((hashlib.blake2b(ident.encode(), digest_size=8).hexdigest(), ident))
    held = set()
    for items in by_source.values():
        items.sort()
        held.update(ident for _, ident in items[: max(1, round(share * len(items)))])
    return held
