"""Code repositories as records: a directory, or an archive holding one (see ``code_archives``).

One record per file: ``{repo, path, content, language, license}``; its position, and so its
id, is the file's path in the repository. A file that is not text (a NUL byte in its first
8 KiB, as git decides, or not UTF-8) or is over ``max_file_bytes`` becomes a quarantine row of
its own, unread past the cap, so every file is accounted for; ``.git``/``.hg``/``.svn`` hold
no repository files and are skipped. A directory is a local checkout: a symlink or special
file in it is quarantined alone (never followed, never opened). The licence is the file's
SPDX tag, else the one the licence files at the repository root grant.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from pipeline.code.language import code_language
from pipeline.code.licenses import is_license_file, repo_license, spdx_header
from pipeline.read.archives import ARCHIVE_SUFFIXES, Entry, archive_entries
from pipeline.read.records import Item, RecordError
from pipeline.read.safety import ReadLimits, too_large

VCS_DIRS = frozenset({".git", ".hg", ".svn"})


def repo_name(rel: str) -> str:
    """The repository a directory or archive holds, from its path below the source root, less the archive suffix.

    ``acme/widgets.tar.gz`` -> ``acme/widgets``, as The Stack names repositories ``owner/name``.
    """
    rel = rel.replace(os.sep, "/").strip("/")
    suffix = next((s for s in ARCHIVE_SUFFIXES if rel.lower().endswith(s)), "")
    return rel[: len(rel) - len(suffix)] if suffix else rel


def _record(repo: str, path: str, data: bytes, license: str | None) -> dict | RecordError:
    if b"\0" in data[:8192]:
        return RecordError("binary_file", f"{path}: NUL byte in the first 8 KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return RecordError("not_utf8", f"{path}: {e.reason} at byte {e.start}")
    record = {
        "repo": repo,
        "path": path,
        "content": text,
        "language": code_language(path, text[:256].partition("\n")[0]),
    }
    if lic := spdx_header(text) or license:
        record["license"] = lic
    return record


def _dir_entries(root: str, rel: str, cfg: ReadLimits) -> Iterator[Entry]:
    with os.scandir(os.path.join(root, rel)) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            yield path, RecordError("symlink", f"{path}: symbolic link, not followed")
        elif entry.is_dir(follow_symlinks=False):
            if entry.name not in VCS_DIRS:
                yield from _dir_entries(root, path, cfg)
        elif not entry.is_file(follow_symlinks=False):
            yield path, RecordError("special_file", f"{path}: not a regular file")
        elif (size := entry.stat(follow_symlinks=False).st_size) > cfg.max_file_bytes:
            yield path, too_large(path, size, cfg)
        else:
            try:
                with open(entry.path, "rb") as f:
                    data: bytes | RecordError = f.read(cfg.max_file_bytes + 1)
            except OSError as e:  # unreadable file: quarantined alone, the repository goes on
                data = RecordError("unreadable", f"{path}: {e}")
            yield path, data


def _root_license_texts(root: str, cfg: ReadLimits) -> Iterator[tuple[str, str]]:
    for name in sorted(os.listdir(root)):
        full = os.path.join(root, name)
        if is_license_file(name) and os.path.isfile(full) and not os.path.islink(full):
            with open(full, "rb") as f:
                yield name, f.read(cfg.max_file_bytes).decode("utf-8", "replace")


def repo_items(path: str, cfg: ReadLimits, repo: str | None = None) -> Iterator[Item]:
    """Reader items for one repository (directory or archive): position = the file's path in the repository.

    ``repo`` defaults to the directory's or archive's own name; the reader passes ``repo_name(rel)``.
    """
    repo = repo or repo_name(os.path.basename(os.path.normpath(path)))
    entries: Iterator[Entry] | list[Entry]
    if os.path.isdir(path):
        entries, license = _dir_entries(path, "", cfg), repo_license(_root_license_texts(path, cfg))
    else:
        entries = [(n, d) for n, d in archive_entries(path, cfg) if VCS_DIRS.isdisjoint(n.split("/")[:-1])]
        license = repo_license(
            (n, d.decode("utf-8", "replace")) for n, d in entries if isinstance(d, bytes) and is_license_file(n)
        )
    for name, data in entries:
        if isinstance(data, bytes) and len(data) > cfg.max_file_bytes:  # grew after it was sized
            data = too_large(name, len(data), cfg)
        item = data if isinstance(data, RecordError) else _record(repo, name, data, license)
        yield name, item, name if isinstance(item, RecordError) else None
