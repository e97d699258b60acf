"""Image dedup's decisions applied to one curated file, streamed row group by row group.

A frequent image leaves with its marker; a document left with none, or repeating another's
text with near copies of its images, moves to ``rejects/<source>/image_dedup-part-N.parquet``
(``frequent_image``, detail: how many documents used it; ``near_duplicate_image``, detail: the
survivor's id).
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.accounting import identified_language, moved_to_dropped
from pipeline.curated_io import REJECT_COLUMNS, RowGroupWriter
from pipeline.dedup.near_store import BATCH
from pipeline.images.checks import remove_markers
from pipeline.schema import DOCUMENT_SCHEMA, DROPPED, WORK_SCHEMA

STAGE, FREQUENT, DUPLICATE = "image_dedup", "frequent_image", "near_duplicate_image"
REJECT_SCHEMA = pa.schema([WORK_SCHEMA.field(c) for c in REJECT_COLUMNS])


def _outcome(doc: dict, change: dict, max_documents: int | None) -> tuple[dict, str | None]:
    """The document after its change, or as it was with the reason it leaves."""
    if change["duplicate_of"] is not None:
        return {**doc, "detail": change["duplicate_of"]}, DUPLICATE
    removed = set(change["removed"])
    images = [img for i, img in enumerate(doc["images"]) if i not in removed]
    if not images:
        detail = f"its images are in up to {change['docs']} documents (max_documents={max_documents})"
        return {**doc, "detail": detail}, FREQUENT
    return {**doc, "text": remove_markers(doc["text"], removed), "images": images}, None


def apply_image_dedup(
    root: str, curated_rel: str, changes: pa.Table, max_documents: int | None
) -> list[dict[str, Any]]:
    """Rewrite ``<root>/<curated_rel>`` with ``changes`` (document rows of this file); return stats count rows."""
    source, name = os.path.normpath(curated_rel).split(os.sep)[-2:]
    by_doc = {c["id"]: c for c in changes.select(["id", "removed", "docs", "duplicate_of"]).to_pylist()}
    ids = pa.array(sorted(by_doc), pa.string())
    path = os.path.join(root, curated_rel)
    curated = RowGroupWriter(path + ".new")
    rejects = RowGroupWriter(os.path.join(root, "rejects", source, f"{STAGE}-{name}"))
    out: dict[tuple[str, str | None], list[int]] = {}
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        if not pc.any(pc.is_in(t["id"], ids)).as_py():
            curated.write(t)
            continue
        kept, dropped = [], []
        for doc in t.to_pylist():
            new, reason = _outcome(doc, by_doc[doc["id"]], max_documents) if doc["id"] in by_doc else (doc, None)
            if reason is None:
                kept.append(new)
                continue
            dropped.append({**new, "status": DROPPED, "stage": STAGE, "reason": reason})
            total = out.setdefault((reason, identified_language(doc["meta"])), [0, 0])
            total[0] += 1
            total[1] += len(doc["text"])
        curated.write(pa.Table.from_pylist(kept, schema=DOCUMENT_SCHEMA))
        rejects.write(pa.Table.from_pylist(dropped, schema=REJECT_SCHEMA))
    curated.close()
    rejects.close()
    os.replace(path + ".new", path) if curated.rows else os.remove(path)
    return [
        row
        for (reason, language), (docs, chars) in sorted(out.items(), key=str)
        for row in moved_to_dropped(source, STAGE, reason, docs, chars, language)
    ]
