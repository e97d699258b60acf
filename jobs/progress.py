"""Progress a person can follow in ``ray job logs``: one plain line per running step every
``interval_s`` seconds (documents, MB, rate, ETA), one line when it ends, and each step's wall time.

Ray Data's own bars redraw in place and are unreadable in a log file, so tasks add their counts to a
small actor (fire and forget: a lost update costs a figure, never a task) and a driver thread prints.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

log = logging.getLogger("corpusmill")


@ray.remote(num_cpus=0)
class _Counts:
    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}

    def add(self, step: str, units: int, docs: int, nbytes: int) -> None:
        counts = self.steps.setdefault(step, [0, 0, 0])
        counts[0] += units
        counts[1] += docs
        counts[2] += nbytes

    def snapshot(self) -> dict[str, list[int]]:
        return self.steps


def text_bytes(table: Any) -> int:
    """UTF-8 bytes of a table's ``text`` column: the MB a progress line counts."""
    return int(pc.sum(pc.binary_length(table["text"].cast(pa.large_binary()))).as_py() or 0)


def report(counter: Any, step: str, units: int = 0, docs: int = 0, nbytes: int = 0) -> None:
    """Called in tasks; ``counter`` is None when a function runs outside a tracked run."""
    if counter is not None:
        with contextlib.suppress(Exception):  # progress must never fail the work it describes
            counter.add.remote(step, units, docs, nbytes)


@dataclass
class _Step:
    unit: str | None  # None: tasks report nothing, the line says how long it has run
    total_units: int | None
    total_bytes: int | None
    started: float


def fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def progress_line(name: str, step: _Step, counts: list[int], now: float) -> str:
    """``curate/read: 37/120 files (31%), 12,345 docs, 512.3 of 1,800.0 MB, 8.1 MB/s, ETA 2m39s``."""
    units, docs, nbytes = counts
    elapsed = max(now - step.started, 1e-6)
    if step.unit is None:
        return f"{name}: running for {fmt_seconds(elapsed)}"
    parts = [
        f"{units:,}/{step.total_units:,} {step.unit} ({units / max(step.total_units, 1):.0%})"
        if step.total_units
        else f"{units:,} {step.unit}"
    ]
    if docs:
        parts.append(f"{docs:,} docs")
    mb = nbytes / 1e6
    parts.append(f"{mb:,.1f} of {step.total_bytes / 1e6:,.1f} MB" if step.total_bytes else f"{mb:,.1f} MB")
    parts.append(f"{mb / elapsed:,.1f} MB/s")
    if step.total_bytes and nbytes:
        done = nbytes / step.total_bytes
    elif step.total_units and units:
        done = units / step.total_units
    else:
        done = 0.0
    if 0 < done < 1:
        parts.append(f"ETA {fmt_seconds(elapsed * (1 - done) / done)}")
    return f"{name}: " + ", ".join(parts)


class Progress:
    """One per run: the counter actor, the steps under way, the printing thread and the timings."""

    def __init__(self, interval_s: float = 30.0) -> None:
        # on the driver's node: the counts outlive any worker node the run loses
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.counter = _Counts.options(scheduling_strategy=here).remote()
        self.interval_s = interval_s
        self.active: dict[str, _Step] = {}
        self.timings: dict[str, float] = {}
        self._last: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="corpusmill-progress", daemon=True)
        self._thread.start()

    def _counts(self) -> dict[str, list[int]]:
        """The latest counts; while the counter does not answer (a cluster busy with a lost node),
        the last ones it gave, so that a line never goes back to zero."""
        with contextlib.suppress(Exception):  # a slow or lost counter repeats the last figures
            self._last = ray.get(self.counter.snapshot.remote(), timeout=10)
        return self._last

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            counts, now = self._counts(), time.time()
            for name, step in list(self.active.items()):
                log.info("progress %s", progress_line(name, step, counts.get(name, [0, 0, 0]), now))

    @contextmanager
    def step(
        self, name: str, unit: str | None = None, total_units: int | None = None, total_bytes: int | None = None
    ) -> Iterator[None]:
        """Track ``name`` while the block runs (tasks report to it by ``unit``, if given); its wall
        time goes to ``timings``."""
        step = _Step(unit, total_units, total_bytes, time.time())
        self.active[name] = step
        try:
            yield
        finally:
            self.active.pop(name, None)
            self.timings[name] = round(time.time() - step.started, 2)
            counts = self._counts().get(name) if unit else None
            done = progress_line(name, step, counts, time.time()) if counts else name
            log.info("done %s in %s", done, fmt_seconds(self.timings[name]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            ray.kill(self.counter)
