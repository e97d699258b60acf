"""Repository archives (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .zip), read as untrusted input.

Any entry that escapes the root (``../``, an absolute path), any link, device or FIFO, a
duplicate name, or a decompression bomb (decompressed bytes past ``max_total_bytes``, or past
``max_ratio`` times the archive's size) refuses the whole archive with a ``RecordError``:
such an entry is an attack or a broken archive, and nothing else it holds is trusted either.
Sizes are counted as bytes leave the decompressor, never taken from headers, and the whole
archive is checked before any of its files is handed on.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from pipeline.read.records import RecordError
from pipeline.read.safety import ByteBudget, CappedStream, ReadLimits, safe_name, too_large

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
Entry = tuple[str, "bytes | RecordError"]  # path in the repository, its bytes or why it is not read


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _decompressed(path: str) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - closed with the stream that wraps it
    lower = path.lower()
    if lower.endswith((".gz", ".tgz")):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if lower.endswith((".bz2", ".tbz2")):
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if lower.endswith((".xz", ".txz")):
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    return raw


def tar_entries(path: str, cfg: ReadLimits) -> Iterator[Entry]:
    stream = CappedStream(_decompressed(path), ByteBudget(os.path.getsize(path), cfg))
    with stream, tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
        for count, member in enumerate(tar):
            if count >= cfg.max_entries:
                raise RecordError("too_many_entries", f"more than {cfg.max_entries} entries")
            name = safe_name(member.name)
            if member.issym() or member.islnk():
                kind = "symlink" if member.issym() else "hardlink"
                raise RecordError(kind, f"{member.name!r} -> {member.linkname!r}")
            if member.isdir() or not name:
                continue
            if not member.isreg():
                raise RecordError("special_file", f"{member.name!r}: device, FIFO or other special entry")
            if member.size > cfg.max_file_bytes:  # tar skips its bytes through the counting stream
                yield name, too_large(name, member.size, cfg)
                continue
            f = tar.extractfile(member)
            yield name, f.read() if f is not None else b""


def _zip_entries(path: str, cfg: ReadLimits) -> Iterator[Entry]:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > cfg.max_entries:
            raise RecordError("too_many_entries", f"{len(infos)} entries > {cfg.max_entries}")
        budget = ByteBudget(os.path.getsize(path), cfg)
        for info in infos:
            name, kind = safe_name(info.filename), stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type given
            if kind == stat.S_IFLNK:
                raise RecordError("symlink", f"{info.filename!r}")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise RecordError("special_file", f"{info.filename!r}: device, FIFO or other special entry")
            if info.is_dir() or not name:
                continue
            if info.flag_bits & 0x1:
                raise RecordError("encrypted_entry", f"{info.filename!r}")
            if info.file_size > cfg.max_file_bytes:
                yield name, too_large(name, info.file_size, cfg)
                continue
            with zf.open(info) as f:  # reads at most the declared size, then checks the CRC
                data = f.read(cfg.max_file_bytes + 1)
            budget.count(len(data))
            yield name, data


def archive_entries(path: str, cfg: ReadLimits) -> list[Entry]:
    """Every entry of an archive, or a ``RecordError`` for the whole archive."""
    read = _zip_entries if path.lower().endswith(".zip") else tar_entries
    try:
        entries = list(read(path, cfg))
    except RecordError:
        raise
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        EOFError,
        OSError,
        zlib.error,
        lzma.LZMAError,
        NotImplementedError,
        ValueError,
    ) as e:
        raise RecordError("bad_archive", f"{type(e).__name__}: {e}") from e
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise RecordError("duplicate_entry", f"{dup!r} appears more than once")
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):  # one top folder: the repository root
        entries = [(name.split("/", 1)[1], data) for name, data in entries]
    return sorted(entries, key=lambda e: e[0])
