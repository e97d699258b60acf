"""Decontamination of one curated file: drop (or redact) every document with an evaluation n-gram."""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.accounting import EVENT, identified_language, moved_to_dropped
from pipeline.curated_io import RowGroupWriter, reject_rows
from pipeline.decontam.config import DecontamConfig
from pipeline.decontam.index import DecontamIndex
from pipeline.decontam.scan import first_hit, redact, scan_words
from pipeline.schema import KEPT

STAGE, REASON = "decontam", "contaminated"
BATCH = 256


def decontaminate_file(root: str, curated_rel: str, index: DecontamIndex, cfg: DecontamConfig) -> dict[str, Any]:
    """Rewrite the file without its contaminated documents (to ``rejects/<source>/decontam-<file>``, the task,
    item and matched words in ``detail``), or with their matching spans cut (``mode: redact``; a document
    whose words cannot be mapped back to its characters is dropped instead). Returns count rows, the
    dropped ids and, per task, the items found and the documents they were found in."""
    source, name = os.path.normpath(curated_rel).split(os.sep)[-2:]
    path = os.path.join(root, curated_rel)
    curated = RowGroupWriter(path + ".new")
    rejects = RowGroupWriter(os.path.join(root, "rejects", source, f"{STAGE}-{name}"))
    found: dict[str, dict[str, set]] = {}
    counts: list[dict[str, Any]] = []
    moved: dict[str | None, list[int]] = {}  # per language: documents and characters dropped
    dropped_ids: list[str] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        texts = t["text"].to_pylist()
        scanned = scan_words(texts, index, cfg)
        details, new_texts = [], list(texts)
        for i, (doc_id, (words, hits)) in enumerate(zip(t["id"].to_pylist(), scanned)):
            if not hits:
                details.append(None)
                continue
            for _, _, owner in hits:
                task, item_id = index.items[owner]
                entry = found.setdefault(task, {"items": set(), "documents": set()})
                entry["items"].add(item_id)
                entry["documents"].add(doc_id)
            cut = redact(texts[i], hits, cfg) if cfg.mode == "redact" else None
            if cut is None:
                details.append(first_hit(words, hits, index).detail())
            else:
                new_texts[i], n = cut
                details.append(None)
                counts += _redaction_rows(source, t["meta"][i].as_py(), len(texts[i]) - len(new_texts[i]), n)
        t = t.set_column(t.schema.get_field_index("text"), "text", pa.array(new_texts, t.schema.field("text").type))
        drop = pa.array([d is not None for d in details], pa.bool_())
        curated.write(t.filter(pc.invert(drop)))
        gone = t.filter(drop)
        gone_details = [d for d in details if d is not None]
        dropped_ids += gone["id"].to_pylist()
        for meta, n in zip(gone["meta"].to_pylist(), pc.utf8_length(gone["text"]).to_pylist()):
            total = moved.setdefault(identified_language(meta), [0, 0])
            total[0], total[1] = total[0] + 1, total[1] + n
        rejects.write(reject_rows(gone, STAGE, REASON, gone_details))
    curated.close()
    rejects.close()
    os.replace(path + ".new", path) if curated.rows else os.remove(path)
    counts += [
        row
        for language, (n, chars) in sorted(moved.items(), key=str)
        for row in moved_to_dropped(source, STAGE, REASON, n, chars, language)
    ]
    tasks = {task: {"items": sorted(v["items"]), "documents": len(v["documents"])} for task, v in found.items()}
    return {"counts": counts, "dropped": dropped_ids, "source": source, "tasks": tasks}


def _redaction_rows(source: str, meta: str | None, chars: int, cuts: int) -> list[dict[str, Any]]:
    where = {"source": source, "language": identified_language(meta)}
    return [
        {**where, "status": KEPT, "stage": None, "reason": None, "docs": 0, "chars": -chars},
        {**where, "status": "rewritten", "stage": STAGE, "reason": None, "docs": 1, "chars": chars},
        {**where, "status": EVENT, "stage": STAGE, "reason": "redacted", "docs": cuts, "chars": 0},
    ]
