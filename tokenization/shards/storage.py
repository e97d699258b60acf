"""Shard storage on local paths or any fsspec filesystem (``s3://``, ``gs://``, ``memory://`` ...).

Writes go to a local temporary file first, then to their final name in one step (a rename
locally, one upload to an object store, where an object appears only when complete). Reads of
remote shards go through a bounded local cache, so they can be memory-mapped like local ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import fsspec
import xxhash


def is_local(path: str) -> bool:
    """A plain path or ``file://``; any other ``scheme://`` goes through fsspec."""
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> str:
    return path.removeprefix("file://")


def join(base: str, name: str) -> str:
    return os.path.join(base, name) if is_local(base) else f"{base.rstrip('/')}/{name}"


def filesystem(path: str) -> tuple[Any, str]:
    return fsspec.core.url_to_fs(path)


def publish(tmp: str, dest: str) -> None:
    """Move a finished local temporary file to its final name, local or remote."""
    if is_local(dest):
        os.makedirs(os.path.dirname(local_path(dest)) or ".", exist_ok=True)
        os.replace(tmp, local_path(dest))
        return
    fs, path = filesystem(dest)
    fs.put_file(tmp, path)
    os.remove(tmp)


def copy_local(src: str, dest: str) -> None:
    """Copy a local file to ``dest`` (local or remote), published in one step."""
    tmp = temp_file(dest)
    shutil.copyfile(src, tmp)
    publish(tmp, dest)


def reset_dir(path: str) -> None:
    """Remove earlier contents of an output folder, local or remote, before a stage rewrites it."""
    if is_local(path):
        shutil.rmtree(local_path(path), ignore_errors=True)
        os.makedirs(local_path(path), exist_ok=True)
        return
    fs, p = filesystem(path)
    if fs.exists(p):
        fs.rm(p, recursive=True)


def read_bytes(path: str) -> bytes:
    if is_local(path):
        with open(local_path(path), "rb") as f:
            return f.read()
    fs, p = filesystem(path)
    return fs.cat_file(p)


def exists(path: str) -> bool:
    if is_local(path):
        return os.path.exists(local_path(path))
    fs, p = filesystem(path)
    return fs.exists(p)


def size_and_sha256(path: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    if is_local(path):
        f = open(local_path(path), "rb")  # noqa: SIM115 - closed below, like the remote one
    else:
        fs, p = filesystem(path)
        f = fs.open(p, "rb")
    with f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def fast_digest(local: str) -> str:
    """xxh3-64 of a local file: what a reader checks each shard against when it opens it
    (tens of GB/s, so verifying every shard once per process costs little; MosaicML streaming
    keeps an xxh64 beside sha1 in its index for the same reason). sha256 stays for ``verify``."""
    with open(local, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return xxhash.xxh3_64(b"").hexdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return xxhash.xxh3_64(view).hexdigest()


def temp_file(dest: str) -> str:
    """A local temporary path for a file that will be published to ``dest``."""
    if is_local(dest):
        os.makedirs(os.path.dirname(local_path(dest)) or ".", exist_ok=True)
        return f"{local_path(dest)}.tmp-{os.getpid()}"
    fd, tmp = tempfile.mkstemp(prefix="corpusmill-", suffix=".tmp")
    os.close(fd)
    return tmp


def readable(url: str, size: int, sha256: str, cache: ShardCache | None, in_use: Sequence[str] = ()) -> str:
    """A local path to memory-map: the file itself when local, else its copy in ``cache``
    (``in_use``: cache copies the caller reads, least recent first, evicted last)."""
    if is_local(url):
        return local_path(url)
    return (cache or ShardCache()).get(url, size, sha256, in_use)


_HELD: set[int] = set()  # descriptors of the cache locks this process holds now


def _close_inherited_locks() -> None:
    """In a forked child: the parent's held locks are not the child's to keep."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


class ShardCache:
    """Remote shards copied to a local folder on first use; least recently used ones are removed
    when the folder would pass ``max_bytes`` (a memory-mapped file stays readable after removal).

    The processes of one rank (its DataLoader workers and its prefetcher) share the folder and
    download each shard once: a download holds a lock on the shard's name, and whoever waits on
    it finds the finished file. A copy whose size differs from the manifest's is fetched again
    (one whose checksum differs is evicted by the reader and fetched once more). Each rank keeps
    a folder of its own (``PackedLoader`` defaults to one per rank): a rank's prefetcher evicts
    only what its own pass is done with. ``downloaded`` counts the bytes this process fetched."""

    def __init__(self, cache_dir: str | None = None, max_bytes: int = 8 << 30) -> None:
        self.dir = cache_dir or os.path.join(tempfile.gettempdir(), "corpusmill-shard-cache")
        self.max_bytes = max_bytes
        self.downloaded = 0
        os.makedirs(os.path.join(self.dir, ".locks"), exist_ok=True)

    def path_of(self, url: str, sha256: str) -> str:
        return os.path.join(self.dir, sha256[:32] + "-" + os.path.basename(url))

    def has(self, url: str, size: int, sha256: str) -> bool:
        path = self.path_of(url, sha256)
        return os.path.exists(path) and os.path.getsize(path) == size

    def get(self, url: str, size: int, sha256: str, in_use: Sequence[str] = ()) -> str:
        path = self.path_of(url, sha256)
        with self._lock(path):  # one download per shard, whoever asks first; no eviction meanwhile
            if not self.has(url, size, sha256):
                self._make_room(size, in_use)
                fs, remote = filesystem(url)
                tmp = f"{path}.part-{os.getpid()}-{threading.get_ident()}"
                with fs.open(remote, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, path)
                self.downloaded += size
            os.utime(path)  # most recently used
        return path

    @contextlib.contextmanager
    def _lock(self, path: str, wait: bool = True) -> Iterator[bool]:
        """Hold the copy's lock (``wait=False``: yield False at once when another holds it). A raw
        descriptor, registered while held: a process forked meanwhile closes its inherited copy
        (``_close_inherited_locks``), or its copy would keep the lock held for good."""
        fd = os.open(os.path.join(self.dir, ".locks", os.path.basename(path)), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            _HELD.add(fd)
            yield True
        finally:
            _HELD.discard(fd)
            os.close(fd)

    def _files(self, partial: bool = False) -> list[tuple[str, int, float]]:
        """(path, bytes, mtime) of every finished copy (and download in progress, ``partial``);
        one removed meanwhile is left out."""
        out = []
        for name in os.listdir(self.dir):
            if name[0] != "." and (partial or ".part-" not in name):
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(os.path.join(self.dir, name))
                    out.append((os.path.join(self.dir, name), st.st_size, st.st_mtime))
        return out

    def used_bytes(self) -> int:
        return sum(size for _, size, _ in self._files(partial=True))

    def evict(self, url: str, sha256: str) -> None:
        self._remove(self.path_of(url, sha256))

    def _remove(self, path: str) -> bool:
        """Remove a copy unless another holds its lock (being fetched or handed out); whether it did."""
        with self._lock(path, wait=False) as mine, contextlib.suppress(FileNotFoundError):
            if mine:
                os.remove(path)
                return True
        return False

    def _make_room(self, incoming: int, in_use: Sequence[str] = ()) -> None:
        """Remove least recently used copies until ``incoming`` fits; copies ``in_use`` go last,
        and one whose lock another holds (being fetched or handed out) is skipped."""
        rank = {path: k for k, path in enumerate(in_use)}
        files = sorted(self._files(), key=lambda f: (f[0] in rank, rank.get(f[0], 0), f[2]))
        used = self.used_bytes()  # downloads in progress count too
        for path, size, _ in files:
            if used + incoming <= self.max_bytes:
                return
            if self._remove(path):
                used -= size
