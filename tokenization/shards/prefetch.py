"""A rank's next shards, fetched into the cache in the background while it trains on the current ones.

The sampler knows the whole epoch's order, so the shards are known in the order they will be
needed, with the batch that first needs each and the batch that last does. One thread per rank
(in the process that iterates the loader; its DataLoader workers share the cache folder and its
per-shard locks) downloads them in that order, as far ahead as the cache has room for beside the
shards still in use: never further, or it would evict one the workers are reading.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from tokenization.shards import storage
from tokenization.shards.reader import PackedShards
from tokenization.shards.shuffle import shards_in_use

log = logging.getLogger("corpusmill")


class Prefetcher:
    def __init__(self, shards: PackedShards, order: np.ndarray, batch_size: int) -> None:
        ids, first, last = shards_in_use(order, shards.offsets)
        self.plan = [(int(s), int(f) // batch_size, int(lst) // batch_size) for s, f, lst in zip(ids, first, last)]
        self.shards = shards
        self.batch = 0  # batches this pass has yielded
        self.fetched: list[int] = []
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="corpusmill-prefetch", daemon=True)
        self._thread.start()

    def advance(self, batch: int) -> None:
        with self._wake:
            self.batch = batch
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=60)

    def _url(self, shard: int) -> str:
        return storage.join(self.shards.shard_dir, self.shards.entries[shard]["file"])

    def _room_for(self, size: int) -> bool:
        """Room in the cache for ``size`` more bytes, made by removing shards this pass is done with
        (never one still to be read: the cache's own least-recently-used rule cannot tell)."""
        cache = self.shards.cache
        if cache.used_bytes() + size <= cache.max_bytes:
            return True
        done = {s for s, _, last in self.plan if last < self.batch}
        for shard in [s for s in self.fetched if s in done]:
            cache.evict(self._url(shard), self.shards.entries[shard]["sha256"])
            self.fetched.remove(shard)
        return cache.used_bytes() + size <= cache.max_bytes or not self.fetched

    def _run(self) -> None:
        for shard, _, _ in self.plan:
            entry = self.shards.entries[shard]
            with self._wake:
                while not self._stop and not self._room_for(entry["bytes"]):
                    self._wake.wait(timeout=1.0)
                if self._stop:
                    return
            try:
                self.shards.cache.get(self._url(shard), entry["bytes"], entry["sha256"])
            except Exception as e:  # the reader fetches (and reports) it itself when it needs it
                log.warning("prefetch of %s failed: %s", entry["file"], e)
            self.fetched.append(shard)
