"""Stage completion markers: a stage whose marker matches its settings is skipped on rerun."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

MARKER = "_SUCCESS.json"


def done(stage_dir: str, config_hash: str) -> dict[str, Any] | None:
    """The marker's payload when the stage finished with these settings, else None."""
    path = os.path.join(stage_dir, MARKER)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        payload = json.load(f)
    return payload if payload.get("config_hash") == config_hash else None


def mark_done(stage_dir: str, config_hash: str, payload: dict[str, Any]) -> None:
    path = os.path.join(stage_dir, MARKER)
    with open(path + ".tmp", "w") as f:
        json.dump({"config_hash": config_hash, **payload}, f, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def reset(*dirs: str) -> None:
    """Remove a stage's earlier (partial or stale) outputs before it runs again."""
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, exist_ok=True)
