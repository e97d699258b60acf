"""Turn raw records (dicts from any reader) into Document rows, or quarantine rows with the error."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.decode import MAX_IMAGE_PIXELS, decode_image
from pipeline.read.record_error import RecordError
from pipeline.schema import IMAGE_MARKER, KEPT, QUARANTINED, WORK_SCHEMA
from pipeline.web.html_extract import ExtractConfig, ExtractError, extract_html

RAW_PREVIEW_CHARS = 4096  # how much of a bad record's payload its quarantine row keeps
_SURROGATE = re.compile("[\ud800-\udfff]")
# Rewrite events of the read step (``read:<tag>`` in ``rewrites``, counted in stats.json)
LONE_SURROGATE = "lone_surrogate"  # an unpaired UTF-16 surrogate (JSON "\ud800"): not UTF-8, replaced by U+FFFD
MARKER_STRIPPED = "image_marker_stripped"  # a literal image marker in text that holds no image


class FieldMap(StrictModel):
    """Where a source's records keep their text, images and metadata."""

    text_field: str = "text"
    content: Literal["text", "html"] = "text"  # html: extract the main-content text, title into meta
    extract: ExtractConfig = Field(default_factory=ExtractConfig)  # content: html only: extractor and guards
    image_field: str | None = None  # bytes, {"bytes"|"path"} (HF Image) or a path; its marker goes first
    # a list of images as image_field takes them, whose markers the text already holds, one each, in order
    images_field: str | None = None
    meta_fields: list[str] = Field(default_factory=list)


def doc_id(source: str, rel: str, position: int | str) -> str:
    """Stable id: the source, the file's path below its source root, and the record's position."""
    return f"{source}/{rel}#{position}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def record_to_row(
    record: Any, fields: FieldMap, base_dir: str, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> dict[str, Any]:
    """The document columns of one record; raises ``RecordError`` when it is malformed."""
    if not isinstance(record, dict):
        raise RecordError("not_an_object", f"record is a {type(record).__name__}")
    text = record.get(fields.text_field)
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError("invalid_utf8", str(e)) from e
    if not isinstance(text, str):
        raise RecordError("missing_text", f"field {fields.text_field!r} is {type(text).__name__}")
    meta = {k: _jsonable(record[k]) for k in fields.meta_fields if record.get(k) is not None}
    if fields.content == "html":
        try:
            text, title = extract_html(text, fields.extract)
        except ExtractError as e:  # a guard or the extractor stopped: quarantined, the worker goes on
            raise RecordError(e.reason, e.detail) from e
        if title:
            meta.setdefault("title", title)
    images = []
    if fields.image_field:
        images.append(decode_image(record.get(fields.image_field), base_dir, max_pixels=max_pixels))
    if fields.images_field:
        values = record.get(fields.images_field) or []
        if not isinstance(values, (list, tuple)):
            raise RecordError("image_missing", f"field {fields.images_field!r} is {type(values).__name__}, not a list")
        images += [decode_image(v, base_dir, max_pixels=max_pixels) for v in values]
        markers = text.count(IMAGE_MARKER) + bool(fields.image_field)  # image_field's marker goes first, below
        if markers != len(images):
            raise RecordError("image_marker_mismatch", f"{markers} markers for {len(images)} images")
    text, events = strip_image_markers(text, keep=bool(fields.images_field))
    text, surrogates = utf8_safe(text)
    meta_json, meta_surrogates = utf8_safe(json.dumps(meta, sort_keys=True, ensure_ascii=False))
    events += [LONE_SURROGATE] * (surrogates or meta_surrogates)
    if fields.image_field:
        text = f"{IMAGE_MARKER}\n{text}"
    rewrites = (["read"] + [f"read:{e}" for e in events]) if events else []
    return {"text": text, "meta": meta_json, "images": images, "rewrites": rewrites}


def strip_image_markers(text: str, keep: bool) -> tuple[str, list[str]]:
    """Remove literal image markers from text that names its images otherwise: each marker stands for
    one image downstream, so a caption or page that merely contains the string must not forge one."""
    if keep or IMAGE_MARKER not in text:
        return text, []
    return text.replace(IMAGE_MARKER, ""), [MARKER_STRIPPED]


def utf8_safe(text: str) -> tuple[str, bool]:
    """``text`` with lone surrogates replaced by U+FFFD (they cannot be written as UTF-8), and whether any were."""
    if not _SURROGATE.search(text):
        return text, False
    return _SURROGATE.sub("\ufffd", text), True


def _preview(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw[: RAW_PREVIEW_CHARS * 4]).decode("utf-8", errors="replace")
    elif isinstance(raw, (dict, list)):
        raw = json.dumps(_jsonable(raw), ensure_ascii=False)
    return utf8_safe(str(raw)[:RAW_PREVIEW_CHARS])[0]


def quarantine_row(ident: str, source: str, stage: str, reason: str, detail: str, raw: Any = "") -> dict:
    return {
        "id": ident,
        "source": source,
        "text": _preview(raw),
        "meta": "{}",
        "images": [],
        "status": QUARANTINED,
        "stage": stage,
        "reason": reason,
        "detail": utf8_safe(detail[:2000])[0],
        "rewrites": [],
    }


Item = tuple[int | str, Any, Any]  # (position, record or exception, raw payload for previews)


def rows_to_tables(
    items: Iterable[Item],
    *,
    source: str,
    rel: str,
    fields: FieldMap,
    base_dir: str,
    batch_rows: int,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
    share: tuple[int, int] = (0, 1),
    share_records: int = 64,
) -> Iterator[pa.Table]:
    """Group reader items into WORK_SCHEMA tables of at most ``batch_rows`` rows; images over ``max_pixels``
    are refused from their header, before any pixel is decoded. ``share`` ``(k, n)``: only the items of every
    run ``r`` of ``share_records`` items with ``r % n == k``, the others left unconverted (n tasks reading one
    file split its work)."""
    rows: list[dict] = []
    iterator, index = iter(items), 0
    while True:
        mine = (index // share_records) % share[1] == share[0]
        try:
            position, record, raw = next(iterator)
        except StopIteration:
            break
        except Exception as e:  # the file itself is bad (missing, truncated, wrong schema): keep what was read
            reason = e.reason if isinstance(e, RecordError) else type(e).__name__
            detail = e.detail if isinstance(e, RecordError) else str(e)
            if mine:  # one task reports it: the one whose run of records it falls in
                rows.append(quarantine_row(doc_id(source, rel, "file"), source, "read", reason, detail))
            break
        index += 1
        if not mine:
            continue
        ident = doc_id(source, rel, position)
        if isinstance(record, BaseException):
            reason = record.reason if isinstance(record, RecordError) else type(record).__name__
            rows.append(quarantine_row(ident, source, "read", reason, str(record), raw))
        else:
            try:
                row = record_to_row(record, fields, base_dir, max_pixels)
                row.update(id=ident, source=source, status=KEPT, stage=None, reason=None, detail=None)
            except RecordError as e:
                row = quarantine_row(ident, source, "read", e.reason, e.detail, raw or record)
            except Exception as e:  # a record must never take the job down
                row = quarantine_row(ident, source, "read", type(e).__name__, str(e), raw or record)
            rows.append(row)
        if len(rows) >= batch_rows:
            yield _to_table(rows)
            rows = []
    if rows:
        yield _to_table(rows)


def _to_table(rows: list[dict]) -> pa.Table:
    """The rows as one table; a row Arrow refuses (a value of the wrong type) is quarantined alone."""
    try:
        return pa.Table.from_pylist(rows, schema=WORK_SCHEMA)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        pass
    good = []
    for row in rows:
        try:
            pa.Table.from_pylist([row], schema=WORK_SCHEMA)
            good.append(row)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:
            good.append(
                quarantine_row(
                    row["id"],
                    row["source"],
                    "read",
                    "unencodable_record",
                    f"{type(e).__name__}: {e}",
                    row.get("text", ""),
                )
            )
    return pa.Table.from_pylist(good, schema=WORK_SCHEMA)
