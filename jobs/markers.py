"""Stage completion markers, ``<output_dir>/_markers/<stage>.json``: a stage whose marker holds the
hash of its current settings is skipped on rerun. They live beside the outputs' root, not inside a
stage's folder, so a stage may write to an object store while its marker stays with the run."""

from __future__ import annotations

import glob
import json
import os
import shutil
from typing import Any


def _path(out_dir: str, stage: str) -> str:
    return os.path.join(out_dir, "_markers", f"{stage}.json")


def done(out_dir: str, stage: str, config_hash: str) -> dict[str, Any] | None:
    """The marker's payload when the stage finished with these settings, else None."""
    path = _path(out_dir, stage)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        payload = json.load(f)
    return payload if payload.get("config_hash") == config_hash else None


def mark_done(out_dir: str, stage: str, config_hash: str, payload: dict[str, Any]) -> None:
    write_json_atomic(_path(out_dir, stage), {"config_hash": config_hash, **payload})


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
