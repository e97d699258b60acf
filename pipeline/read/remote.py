"""Inputs on object stores (``s3://``, ``gs://``, ``az://``, ``hf://``: any fsspec URL).

The readers need local files (memory-mapped Parquet, seeks in archives and gzip members), so the
task that reads a remote input first copies it whole to a local folder and removes the copy when
done: a worker's disk holds one input file at a time. A file's ``rel`` is its path below the
pattern's first folder, as for local inputs, so ids do not depend on the bucket's name.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

import fsspec


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def expand_remote(pattern: str) -> list[tuple[str, str]]:
    """``(url, rel)`` of every object the pattern names, sorted; none when it names nothing."""
    fs, path = fsspec.core.url_to_fs(pattern)
    if glob.has_magic(path):
        root = path
        while glob.has_magic(root):
            root = os.path.dirname(root)
        found = [p for p in fs.glob(path) if not fs.isdir(p)]
    elif fs.isdir(path):
        root, found = path, fs.find(path)
    else:
        root, found = os.path.dirname(path), [path] if fs.exists(path) else []
    return sorted((fs.unstrip_protocol(p), os.path.relpath(p, root)) for p in found)


def canonical_url(url: str) -> str:
    """The URL as fsspec writes the objects it lists (``memory://a`` -> ``memory:///a``)."""
    fs, path = fsspec.core.url_to_fs(url)
    return fs.unstrip_protocol(path)


def remote_size(url: str) -> int:
    fs, path = fsspec.core.url_to_fs(url)
    return int(fs.size(path) or 0)


@contextmanager
def local_copy(url: str, cache_dir: str) -> Iterator[str]:
    """A local copy of ``url`` while the block runs; it keeps the object's name (formats are told by it)."""
    fs, path = fsspec.core.url_to_fs(url)
    os.makedirs(cache_dir, exist_ok=True)
    local = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()[:16] + "-" + os.path.basename(path))
    tmp = f"{local}.part-{os.getpid()}"
    try:
        fs.get_file(path, tmp)
        os.replace(tmp, local)
        yield local
    finally:
        for p in (tmp, local):
            if os.path.exists(p):
                os.remove(p)
