"""Decode and check one image a record carries (bytes, ``{"bytes"|"path"}`` or a path).

A path is read only from below the data file's folder: an absolute path, one that leaves the folder
once ``..`` and symlinks are resolved, or any path when there is no local folder (a remote input)
is refused, with a detail that never says whether such a path exists. Only a regular file is read,
at most ``max_bytes`` of it. The header size is checked against ``max_pixels`` before any pixel is
decoded, and an image whose data ends before its last row is refused as truncated.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import warnings
import zlib
from typing import Any

from PIL import Image

from pipeline.read.record_error import RecordError

MAX_IMAGE_BYTES = 64 << 20  # as readers' max_record_bytes: one image file read at most this far
# Pillow's own decompression-bomb threshold, Image.MAX_IMAGE_PIXELS (~89.5 Mpx, 1024 * 1024 * 1024 // 4 // 3),
# as ImageCheckConfig.max_pixels; Pillow itself only warns up to twice that.
MAX_IMAGE_PIXELS = 89_478_485
_SHOWN = 200  # characters of a record's path echoed in a detail


class DecodedImage(dict):
    """An image ``decode_image`` has checked: a reader that placed it passes it on as is (no second decode).

    A dict from a file (JSON, Parquet) is never one, so input cannot skip the check.
    """


def _shown(value: str) -> str:
    return repr(value[:_SHOWN] + ("..." if len(value) > _SHOWN else ""))


def resolve_under_root(rel_path: str, start_dir: str, root: str) -> str:
    """The real path of ``rel_path`` (relative to ``start_dir``) when it stays below ``root``.

    Raises ``RecordError("image_outside_root")`` for an absolute path, a lexical ``..`` escape (refused before
    the file system is touched, so the answer cannot tell whether the target exists), a symlink leading out,
    or a root that is no local folder ("" or a URL: it must not fall back to the process's working directory).
    """
    outside = RecordError("image_outside_root", f"{_shown(rel_path)} is absolute or leaves the data folder")
    if not root or "://" in root or "://" in start_dir:
        raise RecordError("image_outside_root", "image paths are read only next to a local data file")
    if rel_path.startswith(("/", "\\")) or os.path.isabs(rel_path):
        raise outside
    top, lexical = os.path.abspath(root), os.path.normpath(os.path.join(os.path.abspath(start_dir), rel_path))
    if os.path.commonpath([lexical, top]) != top:
        raise outside
    try:
        real, real_top = os.path.realpath(os.path.join(start_dir, rel_path)), os.path.realpath(root)
    except ValueError as e:  # an embedded NUL byte
        raise RecordError("image_missing", f"{_shown(rel_path)} is not a valid path") from e
    if os.path.commonpath([real, real_top]) != real_top:
        raise outside
    return real


def read_regular_file(path: str, shown: str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file: a device, FIFO or directory is no image (nor may it stall the open)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # no symlink swapped in since it was resolved
    except OSError as e:
        raise RecordError("image_missing", f"no file {shown} in the data folder ({type(e).__name__})") from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RecordError("image_missing", f"{shown} is not a regular file")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1) if info.st_size <= max_bytes else b""
    finally:
        os.close(fd)
    if info.st_size > max_bytes or len(data) > max_bytes:  # the second: it grew since fstat
        raise RecordError("image_too_large", f"{shown} is over max_bytes={max_bytes}")
    return data


def read_under_root(rel_path: str, start_dir: str, root: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of the regular file ``rel_path`` names below ``root``; ``RecordError`` with why not."""
    if not rel_path:
        raise RecordError("image_missing", "empty image path")
    return read_regular_file(resolve_under_root(rel_path, start_dir, root), _shown(rel_path), max_bytes)


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_raw_size(width: int, height: int, depth: int, color: int, interlaced: bool) -> int:
    """Bytes the IDAT stream inflates to: each (pass's) row, one filter byte and its packed pixels."""
    bits = depth * _PNG_CHANNELS.get(color, 4)
    total = 0
    for x0, y0, dx, dy in _ADAM7 if interlaced else ((0, 0, 1, 1),):
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            total += rows * (1 + (cols * bits + 7) // 8)
    return total


def png_stream_short(data: bytes) -> bool:
    """Whether the PNG's zlib stream ends before the rows its header promises.

    Pillow takes the end of a well-formed stream as the end of the image and leaves the rows after it black
    (libImaging/ZipDecode.c: "The image and the data should end simultaneously" is not checked).
    """
    view, pos, need, got, inflater = memoryview(data), 8, 0, 0, zlib.decompressobj()
    while pos + 8 <= len(view) and not inflater.eof:
        length, kind = struct.unpack_from(">I4s", view, pos)
        body = view[pos + 8 : pos + 8 + length]
        if kind == b"IHDR" and len(body) >= 13:
            width, height, depth, color, _, _, interlace = struct.unpack_from(">IIBBBBB", body)
            need = _png_raw_size(width, height, depth, color, interlace == 1)
        elif kind == b"IDAT":
            while body and not inflater.eof and got < need:
                got += len(inflater.decompress(body, 1 << 20))  # counted a MiB at a time, never held whole
                body = inflater.unconsumed_tail
            if got >= need:
                return False
        elif got:  # the IDAT run is over
            break
        pos += 12 + length
    if not inflater.eof:
        got += len(inflater.flush())
    return got < need


_MARK = (0x5A, 0xA5, 0x3C, 0xC3)  # an unlikely pixel: what a decoded image seldom holds where it is put


def _mark_last_row(im: Image.Image) -> tuple[Any, int, Any] | None:
    """Hand Pillow the image memory it would allocate, with a mark on the row a PNG's data fills last.

    Pillow leaves the rows its decoder never reached as allocated; if the mark survives the decode, the data
    may have ended early and the stream is measured (``png_stream_short``). None where there is no such row.
    """
    width, height = im.size
    if im.format != "PNG" or (im.info.get("interlace") and height < 2):
        return None
    # Adam7's last pass fills the odd rows from column 0, and only it does
    y = height - 1 if not im.info.get("interlace") or height % 2 == 0 else height - 2
    try:
        core = Image.core.new(im.mode, im.size)
        core.putpixel((0, y), _MARK[0] if core.bands == 1 else _MARK[: core.bands])
        mark = core.getpixel((0, y))
    except (AttributeError, TypeError, ValueError):  # a mode Pillow's core cannot make directly
        return None
    im.im = core  # ImageFile.load_prepare decodes into a preset image rather than allocating one
    return core, y, mark


def _ends_early(im: Image.Image, data: bytes, marked: tuple[Any, int, Any] | None) -> bool:
    """Whether a decoded PNG's pixel data ran out before its last row (never true for other formats)."""
    if im.format != "PNG":
        return False
    if marked is not None:
        core, y, mark = marked
        if im.im is core and core.getpixel((0, y)) != mark:
            return False  # the decoder wrote the last row
    return png_stream_short(data)


def _decode(data: bytes, max_pixels: int | None) -> tuple[int, int]:
    """(width, height) once the header passes ``max_pixels`` and every pixel decodes; ``RecordError`` when not."""
    with warnings.catch_warnings():
        # max_pixels None: Pillow's own limit refuses (its warning raised); else max_pixels alone decides
        warnings.simplefilter("error" if max_pixels is None else "ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))  # reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise RecordError("image_too_many_pixels", str(e)) from e
        except Exception as e:  # Pillow raises many types for bad data
            raise RecordError("image_unreadable", f"{type(e).__name__}: {e}") from e
        with im:
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise RecordError("image_too_many_pixels", f"{im.format} {width}x{height} > max_pixels={max_pixels}")
            marked = _mark_last_row(im)
            try:
                im.load()  # decode fully: a file cut short has a valid header
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise RecordError("image_too_many_pixels", str(e)) from e
            except Exception as e:
                raise RecordError("image_unreadable", f"{type(e).__name__}: {e}") from e
            if _ends_early(im, data, marked):
                raise RecordError("image_unreadable", f"truncated PNG {width}x{height}: its pixel data ends early")
    return width, height


def decode_image(
    value: Any, base_dir: str = "", *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> DecodedImage:
    """The image struct of bytes, ``{"bytes"|"path"}`` or a path below ``base_dir`` (the data file's folder).

    Raises ``RecordError`` when it cannot be had or decoded: ``image_missing``, ``image_outside_root``,
    ``image_too_large``, ``image_too_many_pixels`` or ``image_unreadable``.
    """
    if isinstance(value, DecodedImage):
        return value
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, str):
        value = read_under_root(value, base_dir, base_dir, max_bytes)
    if not isinstance(value, (bytes, bytearray)) or not value:
        raise RecordError("image_missing", f"no image bytes (got {type(value).__name__})")
    data = bytes(value)
    width, height = _decode(data, max_pixels)
    return DecodedImage(sha256=hashlib.sha256(data).hexdigest(), width=width, height=height, bytes=data)
