"""Shard storage on local paths or any fsspec filesystem (``s3://``, ``gs://``, ``memory://`` ...).

Writes go to a local temporary file first, then to their final name in one step (a rename
locally, one upload to an object store, where an object appears only when complete). Reads of
remote shards go through a bounded local cache, so they can be memory-mapped like local ones.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import tempfile
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


def readable(url: str, size: int, sha256: str, cache: ShardCache | None) -> str:
    """A local path to memory-map: the file itself when local, else its copy in ``cache``."""
    if is_local(url):
        return local_path(url)
    return (cache or ShardCache()).get(url, size, sha256)


class ShardCache:
    """Remote shards copied to a local folder on first use; least recently used ones are removed
    when the folder would pass ``max_bytes`` (a memory-mapped file stays readable after removal)."""

    def __init__(self, cache_dir: str | None = None, max_bytes: int = 8 << 30) -> None:
        self.dir = cache_dir or os.path.join(tempfile.gettempdir(), "corpusmill-shard-cache")
        self.max_bytes = max_bytes
        os.makedirs(self.dir, exist_ok=True)

    def get(self, url: str, size: int, sha256: str) -> str:
        path = os.path.join(self.dir, sha256[:32] + "-" + os.path.basename(url))
        if os.path.exists(path) and os.path.getsize(path) == size:
            os.utime(path)  # most recently used
            return path
        self._make_room(size)
        fs, remote = filesystem(url)
        tmp = f"{path}.part-{os.getpid()}"
        with fs.open(remote, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, path)
        return path

    def _make_room(self, incoming: int) -> None:
        files = [os.path.join(self.dir, f) for f in os.listdir(self.dir) if ".part-" not in f]
        files.sort(key=os.path.getmtime)
        used = sum(os.path.getsize(f) for f in files)
        while files and used + incoming > self.max_bytes:
            victim = files.pop(0)
            used -= os.path.getsize(victim)
            os.remove(victim)
