"""Find where a WARC file becomes readable again after a corrupt stretch.

In a .warc.gz every record is its own gzip member (the WARC 1.1 spec's recommended layout,
and Common Crawl's), so the next record starts at the next gzip header whose member inflates
cleanly into ``WARC/1.x``. In a plain .warc the next record starts at a ``WARC/1.x`` line whose
Content-Length lands on the blank lines that close a record. Other compressions (zstd
dictionaries, one gzip stream for the whole file) cannot be entered mid-way: no resync.

``framed_end`` is the stricter test of one record's declared length, for a reader about to trust
it: in a .warc.gz the member must also inflate to exactly the header, the declared block and the
closing blank lines (a lying length in a sound member would otherwise pass).
"""

from __future__ import annotations

import io
import re
import zlib
from typing import BinaryIO, Literal

Kind = Literal["gzip", "plain", "other"]
_CHUNK = 1 << 20
_HEAD = 64 << 10  # a WARC header longer than this is not one
_GZIP_MAGIC = b"\x1f\x8b\x08"
_VERSION = re.compile(rb"WARC/1\.[01]\r?\n")
_LENGTH = re.compile(rb"\r?\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def kind_of(f: BinaryIO) -> Kind:
    f.seek(0)
    head = f.read(8)
    return "gzip" if head.startswith(_GZIP_MAGIC) else "plain" if head.startswith(b"WARC/") else "other"


def _framed_size(head: bytes) -> int | None:
    """Bytes the record starting with ``head`` says it spans: header, declared block, closing CRLF CRLF."""
    stop = head.find(b"\r\n\r\n")
    length = _LENGTH.search(head, 0, stop) if stop > 0 and _VERSION.match(head) else None
    return None if length is None else stop + 8 + int(length.group(1))


def _inflate_member(f: BinaryIO, start: int) -> tuple[int, bytes, int] | None:
    """``(end, first 64 KiB inflated, inflated size)`` of the gzip member at ``start``; None when it is corrupt.

    Output is inflated in bounded pieces and only counted past the head: no gzip bomb in memory.
    """
    f.seek(start)
    inflate, head, size, consumed = zlib.decompressobj(31), b"", 0, 0
    try:
        while not inflate.eof:
            chunk = f.read(1 << 16)
            if not chunk:
                return None
            consumed += len(chunk)
            out = inflate.decompress(chunk, 1 << 16)
            while True:
                size += len(out)
                head += out[: _HEAD - len(head)]
                if inflate.eof or not (inflate.unconsumed_tail or len(out) == 1 << 16):  # full output: more may wait
                    break
                out = inflate.decompress(inflate.unconsumed_tail, 1 << 16)
    except zlib.error:
        return None
    return start + consumed - len(inflate.unused_data), head, size


def _member_end(f: BinaryIO, start: int) -> int | None:
    """End of the gzip member at ``start`` when it inflates cleanly into a WARC record, else None."""
    member = _inflate_member(f, start)
    return member[0] if member is not None and _VERSION.match(member[1][:8] + b"\n") else None


def _plain_end(f: BinaryIO, start: int) -> int | None:
    """End of the plain WARC record at ``start`` when its framing is sound, else None."""
    f.seek(start)
    size = _framed_size(f.read(_HEAD))
    if size is None or start + size > f.seek(0, io.SEEK_END):  # past the end (a lie or a cut): no seek to 10^30
        return None
    f.seek(start + size - 4)
    return start + size if f.read(4) == b"\r\n\r\n" else None


def record_end(f: BinaryIO, start: int, kind: Kind) -> int | None:
    return _member_end(f, start) if kind == "gzip" else _plain_end(f, start) if kind == "plain" else None


def framed_end(f: BinaryIO, start: int, kind: Kind) -> int | None:
    """End of the record at ``start`` when its declared Content-Length is where it really ends, else None."""
    if kind == "plain":
        return _plain_end(f, start)
    member = _inflate_member(f, start) if kind == "gzip" else None
    return member[0] if member is not None and _framed_size(member[1]) == member[2] else None


def _starts_line(f: BinaryIO, offset: int, kind: Kind) -> bool:
    if kind == "gzip" or offset == 0:
        return True
    f.seek(offset - 1)
    return f.read(1) == b"\n"


def next_record(f: BinaryIO, start: int, kind: Kind) -> int | None:
    """Offset of the first soundly framed record at or after ``start``; None when there is none."""
    if kind == "other":
        return None
    pattern = _GZIP_MAGIC if kind == "gzip" else b"WARC/1."
    pos = start
    while True:
        f.seek(pos)
        window = f.read(_CHUNK + len(pattern))
        hit = window.find(pattern)
        while hit >= 0:
            offset = pos + hit
            if _starts_line(f, offset, kind) and record_end(f, offset, kind) is not None:
                return offset
            hit = window.find(pattern, hit + 1)
        if len(window) <= _CHUNK:
            return None
        pos += _CHUNK
