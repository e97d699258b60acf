"""The Document table and the outcome columns the curation pass carries beside it.

Every record read becomes one row. Rows that leave the pipeline keep their place in the
table until the runner routes them: ``status`` says where a row ended and ``stage``,
``reason`` and ``detail`` say why, so that ``stats.json`` can reconcile every input record.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

SOURCES = ("web", "book", "code", "multimodal")

# One marker per image in a multimodal document's text, in reading order; the tokenizer
# knows it as a special token, so it survives tokenization as exactly one id.
IMAGE_MARKER = "<|image|>"

IMAGE_TYPE = pa.struct(
    [
        ("sha256", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("bytes", pa.large_binary()),
    ]
)

DOCUMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("text", pa.large_string()),
        ("meta", pa.string()),
        ("images", pa.list_(IMAGE_TYPE)),
    ]
)

KEPT, DROPPED, QUARANTINED = "kept", "dropped", "quarantined"
# A record whose text now lives in a document built from several records (a code file in its
# repository's document); that document counts as ``created`` at the stage that built it.
MERGED = "merged"
CREATED_EVENT = "created"  # the ``rewrites`` tag (``stage:created``) a built document carries

WORK_FIELDS = [
    ("status", pa.string()),
    ("stage", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    # names of the rewrite stages that changed this row's text, then ``stage:tag`` per counted event
    # (one ``pii_redact:email`` per address replaced): what stats.json counts per type
    ("rewrites", pa.list_(pa.string())),
    ("language", pa.string()),  # set by language identification; the stages scoped by language read it
]

# The table that flows through curation: documents plus where each one ended.
WORK_SCHEMA = pa.schema(list(DOCUMENT_SCHEMA) + [pa.field(n, t) for n, t in WORK_FIELDS])


def empty_work_table() -> pa.Table:
    return WORK_SCHEMA.empty_table()


def to_documents(table: pa.Table) -> pa.Table:
    """Strip the work columns: what is written to ``curated/``."""
    return table.select(DOCUMENT_SCHEMA.names)


def image_field_lists(images: pa.Array | pa.ChunkedArray, field: str) -> list[list]:
    """One field of each document's images (``sha256``, ``width``…), per document: the bytes never reach Python."""
    values = pc.struct_field(pc.list_flatten(images), field).to_pylist()
    counts = pc.fill_null(pc.list_value_length(images), 0).to_pylist()
    out, start = [], 0
    for n in counts:
        out.append(values[start : start + n])
        start += n
    return out
