"""Batch arrays that are reused once nothing refers to them any more.

Why: a batch of 8 × 4096 int64 ids, labels and positions is 768 KiB. Allocated fresh each
time, those are new pages, and faulting them in costs about three times the copies that fill
them (measured: 125 µs against 28 µs per batch). A trainer drops a batch's tensors before long
(or the DataLoader copies them into pinned or shared memory), so the same arrays can be filled
again: an array is handed out only when the pool's own reference is the last one left.
"""

from __future__ import annotations

import sys

import numpy as np

# References to a pooled array while the pool looks at it: the pool's list, the local name, and
# getrefcount's argument. Any tensor, view or memoryview of it adds one.
_UNUSED = 3


class BatchBuffers:
    """Arrays by (shape, dtype), reused when unreferenced; at most ``keep`` are held."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self._arrays: list[np.ndarray] = []

    def empty(self, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
        """An array like ``np.empty(shape, dtype)``: its contents are stale, write all of it."""
        dtype = np.dtype(dtype)
        for i in range(len(self._arrays)):
            array = self._arrays[i]
            if array.shape == shape and array.dtype == dtype and sys.getrefcount(array) <= _UNUSED:
                return array
        array = np.empty(shape, dtype)
        if len(self._arrays) < self.keep:
            self._arrays.append(array)
        return array

    def __getstate__(self) -> dict:
        return {"keep": self.keep, "_arrays": []}  # a pickled copy starts empty
