"""WebDataset shards (.tar, .tar.gz): one image-caption document per sample key.

A sample is the run of adjacent members that share a key: the member's path up to the first
dot of its base name, the rest being its extension (WebDataset's rule: ``a/b.seg.png`` is key
``a/b``, extension ``seg.png``; a name with no dot in its base name is no sample's member).
Its image is the ``jpg``, ``jpeg``, ``png``, ``webp`` or ``gif`` member (the first in that
order when there are several); its caption is the ``json`` member's ``caption_field`` when
that is a non-empty string, else the ``txt`` member, stripped (img2dataset writes both).
The record is the json object's fields plus ``key``, ``caption`` and ``image`` (these three
win over json fields of the same name), so the source's ``meta_fields`` pick json fields.

A sample without an image or a caption, with an unreadable image (quarantined when the row
is built) or a member over ``max_file_bytes`` becomes one quarantine row; the shard goes on.
A key that comes back after other keys (the shard was not written in key order; ``tar
--sort=name`` writes it so) is quarantined as ``key_not_contiguous`` under ``<key>~<n>``.
Members are read as code archives are (``code_archives``): an entry that escapes the root,
a link, device or FIFO, or a decompression bomb stops the shard there. The samples before
it are kept, as for any file that ends early; the sample still being read (it may have had
more members) and the rest of the shard are one file-level quarantine row.
"""

from __future__ import annotations

import json
import lzma
import re
import tarfile
import zlib
from collections.abc import Iterator

from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.read.archives import tar_entries
from pipeline.read.records import Item, RecordError
from pipeline.read.safety import ReadLimits
from pipeline.schema import IMAGE_MARKER

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif")
_NAME = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # webdataset.tariterators.base_plus_ext


class WebDatasetConfig(StrictModel):
    caption_field: str = "caption"  # img2dataset's json field; the .txt member when the json has none
    # Per member: 32 MiB holds an 8-megapixel RGB PNG (24 MB); a larger image is quarantined unread.
    # Per shard: 16 GiB decompressed and a million members are far above usual shards (10,000 samples of
    # 2-3 members each, img2dataset's default), so only a bomb or a broken shard reaches them.
    limits: ReadLimits = Field(
        default_factory=lambda: ReadLimits(max_file_bytes=32 << 20, max_total_bytes=16 << 30, max_entries=1_000_000)
    )


def split_name(name: str) -> tuple[str, str] | None:
    """``(key, extension)`` of a member name, extension lower-cased; None when it belongs to no sample."""
    m = _NAME.match(name)
    return (m.group(1), m.group(2).lower()) if m else None


def _caption(members: dict[str, bytes], meta: dict, cfg: WebDatasetConfig) -> str | None:
    value = meta.get(cfg.caption_field)
    if not (isinstance(value, str) and value.strip()) and "txt" in members:
        try:
            value = members["txt"].decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError("invalid_utf8", f"txt member: {e}") from e
    if not isinstance(value, str):
        return None
    return value.replace(IMAGE_MARKER, "").strip() or None  # a literal marker would stand for a second image


def _sample(key: str, members: dict[str, bytes | RecordError], cfg: WebDatasetConfig) -> dict:
    """The record of one sample; raises ``RecordError`` when it cannot be one."""
    for ext in ("json", "txt", *IMAGE_EXTS):
        if isinstance(members.get(ext), RecordError):
            raise members[ext]  # type: ignore[misc]
    image = next((ext for ext in IMAGE_EXTS if ext in members), None)
    if image is None:
        raise RecordError("image_missing", f"no {'/'.join(IMAGE_EXTS)} member (has: {', '.join(members) or '-'})")
    meta: dict = {}
    if "json" in members:
        try:
            meta = json.loads(members["json"])  # type: ignore[arg-type]
        except ValueError as e:
            raise RecordError("invalid_json", f"json member: {e}") from e
        if not isinstance(meta, dict):
            raise RecordError("invalid_json", f"json member is a {type(meta).__name__}, not an object")
    caption = _caption(members, meta, cfg)  # type: ignore[arg-type]
    if caption is None:
        raise RecordError("caption_missing", f"no {cfg.caption_field!r} in the json member and no txt member")
    return {**meta, "key": key, "caption": caption, "image": members[image]}


def webdataset_items(path: str, cfg: WebDatasetConfig | None = None) -> Iterator[Item]:
    """One item per sample key, in shard order; raises ``RecordError`` where the shard stops being readable."""
    cfg = cfg or WebDatasetConfig()
    seen: dict[str, int] = {}
    key, members, duplicate = None, {}, None
    try:
        for name, data in tar_entries(path, cfg.limits):
            parts = split_name(name)
            if parts is None:
                continue
            if parts[0] != key:
                if key is not None:
                    yield _item(key, members, duplicate, seen, cfg)
                key, members, duplicate = parts[0], {}, None
            duplicate = duplicate or (name if parts[1] in members else None)
            members[parts[1]] = data
        if key is not None:
            yield _item(key, members, duplicate, seen, cfg)
    except RecordError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise RecordError("bad_archive", f"{type(e).__name__}: {e}") from e


def _item(key: str, members: dict, duplicate: str | None, seen: dict[str, int], cfg: WebDatasetConfig) -> Item:
    seen[key] = n = seen.get(key, 0) + 1
    position = key if n == 1 else f"{key}~{n}"
    raw = {"key": key, "members": sorted(members)}
    if n > 1:
        return position, RecordError("key_not_contiguous", f"members of {key!r} are not adjacent in the shard"), raw
    if duplicate is not None:
        return position, RecordError("duplicate_entry", f"{duplicate!r} appears twice"), raw
    try:
        return position, _sample(key, members, cfg), None
    except RecordError as e:
        return position, e, raw
