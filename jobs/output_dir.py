"""The run's output directory: checked before anything is written, and held by one run at a time.

Two runs writing one ``output_dir`` empty each other's folders mid-pass, so a run holds an exclusive
``flock`` on ``<output_dir>/.lock`` for its whole life. The kernel drops the lock when the holder
exits, however it exits, so a lock left by a dead run is simply taken; the file only says who holds
it (host, pid, start time) for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from jobs.usage import UsageError
from pipeline.read.listing import is_under, pattern_root
from pipeline.read.readers import SourceSpec, local_pattern
from pipeline.read.remote import is_remote

LOCK_FILE = ".lock"


def check_output_dir(out_dir: str, sources: list[SourceSpec], base_dir: str) -> None:
    """Refuse an output directory that is a file, cannot be written, or lies inside a source's input
    folders (the next run would read its own outputs as input)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"output_dir {out_dir} is a file, not a directory; choose another output_dir or --output")
    for i, spec in enumerate(sources):
        for pattern in spec.paths:
            if is_remote(pattern):
                continue
            root = pattern_root(local_pattern(pattern, base_dir))
            if os.path.isdir(root) and is_under(out_dir, root):
                raise UsageError(
                    f"output_dir {out_dir} is inside the input folder {root} of sources[{i}] "
                    f"({spec.name}): its outputs would be read as input; choose an output_dir outside it"
                )
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise UsageError(f"output_dir {out_dir} cannot be created ({e.strerror}); choose another output_dir") from e
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"output_dir {out_dir} is not writable by this user; choose another output_dir")


def _holder(f: IO[str]) -> str:
    f.seek(0)
    try:
        info = json.loads(f.read() or "{}")
    except ValueError:
        return "another run"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid')} on {info.get('host')} (since {started})"


@contextmanager
def locked(out_dir: str) -> Iterator[None]:
    """Hold ``out_dir`` for this run; raise ``UsageError`` naming the holder when another run has it."""
    path = os.path.join(out_dir, LOCK_FILE)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"output_dir {out_dir} is in use by {_holder(f)}; wait for that run to end or choose another output_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
