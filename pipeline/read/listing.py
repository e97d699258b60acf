"""List a source's input files without leaving its roots, visiting each real file once, in bounded time.

``glob.glob(..., recursive=True)`` follows every directory symlink: two links that point at their
parents make a ``**`` pattern exponential, and a link to ``/`` lists the whole machine. Here a
pattern's root is the folder before its first wildcard; the walk below it follows a directory link
only when the link resolves inside that root and the real directory was not visited yet, and the
whole listing stops with a clear error after ``timeout_s``. File links are listed as they are: the
reader refuses one that resolves outside its root (``readers._items``), so that refusal is counted.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import time
from collections.abc import Iterator
from functools import lru_cache


class ListingError(ValueError):
    """A source's paths cannot be listed as written (a pattern that matches nothing, a walk too long)."""


def pattern_root(pattern: str) -> str:
    """The folder a (absolute, normalized) pattern starts in: everything before its first wildcard."""
    head = pattern
    while glob.has_magic(head):
        head = os.path.dirname(head)
    return head if os.path.isdir(head) or glob.has_magic(pattern) else os.path.dirname(head)


def is_under(path: str, root: str) -> bool:
    """Whether ``path`` resolves (links and ``..`` undone) to ``root`` or below it."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, top]) == top


@lru_cache(maxsize=256)
def _segment_regex(segment: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(segment))


def _matches(parts: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    """glob's rules on path parts: ``*`` stays inside one part, ``**`` spans any number, and a wildcard
    does not match a name starting with ``.`` unless the pattern's part does too."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(
            _matches(parts[i:], rest) for i in range(len(parts) + 1) if all(not p.startswith(".") for p in parts[:i])
        )
    if not parts or (parts[0].startswith(".") and not head.startswith(".")):
        return False
    return bool(_segment_regex(head).match(parts[0])) and _matches(parts[1:], rest)


def _walk(root: str, deadline: float, seen: set[tuple[int, int]]) -> Iterator[tuple[str, bool]]:
    """``(path, is_dir)`` of everything below ``root``, sorted, each real directory once, links out skipped."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if time.monotonic() > deadline:
            raise TimeoutError(root)
        try:
            is_dir = entry.is_dir()  # follows a link: a link to a directory walks as one, if it stays inside
        except OSError:
            continue
        if not is_dir:
            yield entry.path, False
            continue
        st = os.stat(entry.path)
        if (st.st_dev, st.st_ino) in seen or (entry.is_symlink() and not is_under(entry.path, root)):
            continue
        seen.add((st.st_dev, st.st_ino))
        yield entry.path, True
        yield from _walk(entry.path, deadline, seen)


def _walk_bounded(root: str, timeout_s: float, what: str) -> Iterator[tuple[str, bool]]:
    """``_walk`` from ``root`` with its deadline; running past it is a ``ListingError`` naming ``what``."""
    top = os.stat(root)
    try:
        yield from _walk(root, time.monotonic() + timeout_s, {(top.st_dev, top.st_ino)})
    except TimeoutError as e:
        raise ListingError(
            f"listing {what} took over {timeout_s:g} s (stopped in {e}); narrow the path or raise list_timeout_s"
        ) from None


def walk_files(directory: str, timeout_s: float) -> list[str]:
    """Every file below ``directory`` that is not hidden, each real file once."""
    found, real = [], set()
    for path, is_dir in _walk_bounded(directory, timeout_s, directory):
        rel = os.path.relpath(path, directory).split(os.sep)
        if is_dir or any(p.startswith(".") for p in rel):
            continue
        key = os.path.realpath(path)
        if key not in real:
            real.add(key)
            found.append(path)
    return found


def match_pattern(pattern: str, timeout_s: float) -> list[str]:
    """Files and directories the absolute ``pattern`` names, sorted; none when it names nothing."""
    if not glob.has_magic(pattern):
        return [pattern] if os.path.lexists(pattern) else []
    root = pattern_root(pattern)
    if not os.path.isdir(root):
        return []
    segments = tuple(os.path.relpath(pattern, root).split(os.sep))
    return sorted(
        path
        for path, _ in _walk_bounded(root, timeout_s, pattern)
        if _matches(tuple(os.path.relpath(path, root).split(os.sep)), segments)
    )


def tree_state(directory: str, timeout_s: float) -> tuple[int, int]:
    """``(bytes, mtime_ns)`` of a directory input: the size of the files below it that are not hidden, and the
    latest modification time of any of them or of a folder (an edit deep inside changes it, as does a file added,
    removed or renamed). Its own mtime alone would miss an edit in a subfolder."""
    top = os.stat(directory)
    size, latest = 0, top.st_mtime_ns
    for path, is_dir in _walk_bounded(directory, timeout_s, directory):
        if any(p.startswith(".") for p in os.path.relpath(path, directory).split(os.sep)):
            continue
        try:
            st = os.stat(path)
        except OSError:  # a dangling link: the reader quarantines it
            continue
        latest = max(latest, st.st_mtime_ns)
        size += 0 if is_dir else st.st_size
    return size, latest
