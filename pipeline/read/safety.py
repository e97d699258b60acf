"""Guards for reading untrusted archives: entry names that stay inside the root, and byte budgets.

Sizes in archive headers are claims: a zip's declared size or a gzip member's length can lie.
The budget counts the bytes the decompressor actually hands out and stops a bomb part-way.
"""

from __future__ import annotations

import io
import re
from typing import BinaryIO

from pipeline.config_base import StrictModel
from pipeline.read.records import RecordError


class ReadLimits(StrictModel):
    """How much of a repository is read; past the archive caps, the archive is refused."""

    max_file_bytes: int = 1_000_000  # Codex (Chen et al. 2021) trained on files under 1 MB
    max_total_bytes: int = 1 << 30  # decompressed bytes one archive may yield
    max_ratio: float = 100.0  # decompressed / archive bytes; deflate bombs run at ~1000
    ratio_floor_bytes: int = 16 << 20  # below this, a small repetitive archive may compress better
    max_entries: int = 200_000


def too_large(path: str, size: int, cfg: ReadLimits) -> RecordError:
    return RecordError("file_too_large", f"{path}: {size} bytes > {cfg.max_file_bytes}")


_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_name(name: str) -> str:
    """The entry's path below the archive root; refuses absolute paths and ``..`` (``\\`` counts as ``/``)."""
    if "\0" in name:
        raise RecordError("bad_name", f"{name!r}: NUL in entry name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise RecordError("absolute_path", f"{name!r}: absolute path")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RecordError("path_traversal", f"{name!r}: climbs out of the archive root")
    return "/".join(parts)


class ByteBudget:
    """Decompressed bytes of one archive against its total and ratio caps."""

    def __init__(self, compressed_bytes: int, cfg: ReadLimits) -> None:
        self.compressed, self.cfg, self.total = max(compressed_bytes, 1), cfg, 0

    def count(self, n: int) -> None:
        self.total += n
        if self.total > self.cfg.max_total_bytes:
            raise RecordError("decompression_bomb", f"more than {self.cfg.max_total_bytes} bytes decompressed")
        if self.total > self.cfg.ratio_floor_bytes and self.total > self.cfg.max_ratio * self.compressed:
            raise RecordError(
                "decompression_bomb",
                f"{self.total} bytes out of a {self.compressed}-byte archive (ratio over {self.cfg.max_ratio:g})",
            )


class CappedStream(io.RawIOBase):
    """A decompressed stream that charges every byte it hands out to a ``ByteBudget``."""

    def __init__(self, stream: BinaryIO, budget: ByteBudget) -> None:
        self._stream, self.budget = stream, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        self.budget.count(n or 0)
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()
