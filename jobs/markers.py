"""Stage completion markers, ``<output_dir>/_markers/<stage>.json``: a stage whose marker holds the
hash of its current settings and inputs is skipped on rerun, but only while the outputs it recorded
are still as it wrote them. They live beside the outputs' root, not inside a stage's folder, so a
stage may write to an object store while its marker stays with the run.

The outputs are recorded by size and modification time (size alone on an object store): a file
removed, added, cut or edited since is seen at the next run by one ``stat`` per file, without
reading the outputs again, and the pass runs again."""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline.read.listing import is_under

log = logging.getLogger("corpusmill")


def _path(out_dir: str, stage: str) -> str:
    return os.path.join(out_dir, "_markers", f"{stage}.json")


def recorded_hash(out_dir: str, stage: str) -> str:
    """The settings hash a finished stage recorded: what the passes reading its outputs hash in turn."""
    with open(_path(out_dir, stage)) as f:
        return json.load(f)["config_hash"]


def outputs_state(out_dir: str, dirs: list[str]) -> dict[str, list[int]]:
    """``{file: [size, mtime_ns]}`` of every file below ``dirs`` (local, relative to ``out_dir``, or fsspec
    URLs; mtime 0 on object stores). Local names are kept relative to ``out_dir``: a moved run stays valid."""
    state: dict[str, list[int]] = {}
    for d in dirs:
        fs, root = fsspec.core.url_to_fs(d if "://" in d else os.path.join(out_dir, d))
        local = isinstance(fs, LocalFileSystem)
        for path, info in sorted(fs.find(root, detail=True).items()):
            if local:
                state[os.path.relpath(path, out_dir)] = [int(info.get("size") or 0), os.stat(path).st_mtime_ns]
            else:
                state[fs.unstrip_protocol(path)] = [int(info.get("size") or 0), 0]
    return state


def _changed(recorded: dict[str, list[int]], now: dict[str, list[int]]) -> str | None:
    """The first difference between two ``outputs_state`` results, in words."""
    for path, value in recorded.items():
        if path not in now:
            return f"{path} is gone"
        if now[path] != value:
            return f"{path} changed (size {value[0]} -> {now[path][0]})"
    extra = sorted(set(now) - set(recorded))
    return f"{extra[0]} was added" if extra else None


def done(out_dir: str, stage: str, config_hash: str) -> dict[str, Any] | None:
    """The marker's payload when the stage finished with these settings and its outputs are as it left
    them, else None (the stage runs again)."""
    path = _path(out_dir, stage)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        payload = json.load(f)
    if payload.get("config_hash") != config_hash:
        return None
    now = outputs_state(out_dir, payload.get("output_dirs", []))
    if (change := _changed(payload.get("outputs", {}), now)) is not None:
        log.warning("%s: outputs changed since it finished (%s); running it again", stage, change)
        return None
    return payload


def mark_done(
    out_dir: str, stage: str, config_hash: str, payload: dict[str, Any], output_dirs: list[str] | None = None
) -> None:
    """Record the stage as finished with ``config_hash``, and the state of what it wrote in ``output_dirs``."""
    dirs = [os.path.relpath(d, out_dir) if os.path.isabs(d) and is_under(d, out_dir) else d for d in output_dirs or []]
    write_json_atomic(
        _path(out_dir, stage),
        {"config_hash": config_hash, "output_dirs": dirs, "outputs": outputs_state(out_dir, dirs), **payload},
    )


def write_json_atomic(path: str, payload: dict[str, Any]) -> None:
    """Readers see the whole file or none: a receipt that exists is a finished piece of work."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def read_receipts(work_dir: str, pattern: str = "*.json") -> list[dict[str, Any]]:
    """The receipts ``write_json_atomic`` left in ``work_dir``, in file-name order."""
    receipts = []
    for path in sorted(glob.glob(os.path.join(work_dir, pattern))):
        with open(path) as f:
            receipts.append(json.load(f))
    return receipts


def reset(*dirs: str) -> None:
    """Remove a stage's earlier (partial or stale) local outputs before it runs again."""
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, exist_ok=True)


def resume_dir(work_dir: str, config_hash: str, force: bool) -> bool:
    """Keep the finished pieces in ``work_dir`` when an earlier attempt made them with these settings
    (and ``force`` is off); else empty it and record these settings. Returns whether pieces were kept."""
    settings = os.path.join(work_dir, "_settings")
    if not force and os.path.exists(settings):
        with open(settings) as f:
            if f.read() == config_hash:
                return True
    reset(work_dir)
    with open(settings, "w") as f:
        f.write(config_hash)
    return False
