"""Open plain, gzip and zstd files as one binary stream that fails loudly when truncated.

zstandard's own ``stream_reader`` returns a short read, not an error, on a truncated frame;
a silently shortened corpus is the failure this module exists to prevent.
"""

from __future__ import annotations

import gzip
import io
from typing import BinaryIO

import zstandard

_CHUNK = 1 << 20


class TruncatedInputError(OSError):
    """The compressed stream ended inside a frame."""


class _ZstdRaw(io.RawIOBase):
    def __init__(self, fileobj: BinaryIO) -> None:
        self._src = fileobj
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._src.read(_CHUNK)
            if not chunk:
                if self._started and not self._obj.eof:
                    raise TruncatedInputError("zstd stream ends inside a frame (truncated file)")
                return 0
            self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            if self._obj.eof:
                self._obj = self._dctx.decompressobj()
            self._started = True
            self._pending += self._obj.decompress(chunk)
            chunk = self._obj.unused_data if self._obj.eof else b""

    def close(self) -> None:
        self._src.close()
        super().close()


def open_binary(path: str) -> BinaryIO:
    """A buffered binary reader over ``path``, decompressing by extension."""
    raw = open(path, "rb")  # noqa: SIM115 - ownership passes to the returned stream
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # raises EOFError when truncated
    if path.endswith(".zst") or path.endswith(".zstd"):
        return io.BufferedReader(_ZstdRaw(raw), buffer_size=_CHUNK)
    return raw
