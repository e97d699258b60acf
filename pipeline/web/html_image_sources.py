"""The image an ``<img>`` points to, from the page's own folder or a ``data:`` URI; never over the network.

An image that cannot be had raises ``ImageSkipped`` with why: ``remote`` (http(s), ``//host``
or any other URL scheme: not fetched), ``missing`` (no source, no such regular file),
``outside_root`` (an absolute path, or one that leaves the source root once ``..`` and symlinks
are resolved: a page must not make the reader open files elsewhere on the machine),
``too_large`` (over the byte cap), ``too_many_pixels`` (a header over ``decode_image``'s pixel cap, refused
before decoding) or ``unreadable`` (a bad data URI, or Pillow cannot decode it in full).
"""

from __future__ import annotations

import binascii
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from pipeline.images.decode import MAX_IMAGE_PIXELS, DecodedImage, decode_image, read_under_root
from pipeline.read.record_error import RecordError


class ImageSkipped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def image_source(attrs: dict[str, str]) -> str:
    """``src``, else the first ``srcset`` candidate, else ``data-src`` (where lazy loading keeps it)."""
    for name in ("src", "srcset", "data-src"):
        value = (attrs.get(name) or "").strip()
        if value and name == "srcset":  # "a.png 1x, b.png 2x": the first URL; a data: URI holds commas itself
            return value.split()[0] if value[:5].lower() == "data:" else value.split(",")[0].split()[0]
        if value:
            return value
    return ""


def _data_uri(src: str, max_bytes: int) -> bytes:
    head, comma, payload = src[5:].partition(",")
    if not comma:
        raise ImageSkipped("unreadable")
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ImageSkipped("too_large")
    try:
        data = binascii.a2b_base64(payload) if head.lower().endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as e:
        raise ImageSkipped("unreadable") from e
    if len(data) > max_bytes:
        raise ImageSkipped("too_large")
    return data


def _local_file(url_path: str, page_dir: str, root: str, max_bytes: int) -> bytes:
    """The file a relative URL names, by the rule ``decode_image`` reads a record's image path with."""
    try:  # the query and fragment are not part of the file name
        return read_under_root(unquote(url_path), page_dir, root, max_bytes)
    except RecordError as e:  # image_missing, image_outside_root, image_too_large
        raise ImageSkipped(e.reason.removeprefix("image_")) from e


def load_image(
    src: str, page_dir: str, root: str, max_bytes: int, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> DecodedImage:
    """The decoded image ``src`` names, relative to ``page_dir`` and confined to ``root``."""
    if not src:
        raise ImageSkipped("missing")
    if src[:5].lower() == "data:":
        data = _data_uri(src, max_bytes)
    else:
        try:
            parts = urlsplit(src)
        except ValueError as e:  # e.g. a malformed IPv6 host
            raise ImageSkipped("missing") from e
        if parts.scheme or parts.netloc:
            raise ImageSkipped("remote")
        data = _local_file(parts.path, page_dir, root, max_bytes)
    try:
        return decode_image(data, page_dir, max_bytes=max_bytes, max_pixels=max_pixels)
    except RecordError as e:
        raise ImageSkipped("too_many_pixels" if e.reason == "image_too_many_pixels" else "unreadable") from e
