"""Random access to packed rows: memory-mapped Arrow shards viewed as numpy arrays, no copies.

Kept free of torch so that tools and tests can read shards without it. Each process opens
its own memory maps on first use (DataLoader workers fork after construction).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import xxhash

from tokenization.shards import storage as storage
from tokenization.shards.batch_buffers import BatchBuffers
from tokenization.shards.shards import SCHEMA_VERSION, read_manifest
from tokenization.shards.storage import ShardCache

IGNORE_INDEX = -100  # PyTorch's cross-entropy ignore_index


class ShardError(RuntimeError):
    """A shard that is missing, truncated or does not match its manifest."""


@dataclass
class _Chunk:
    start: int  # first global row of this record batch
    input_ids: np.ndarray  # [rows, seq_len] uint32
    loss_mask: np.ndarray  # [rows, seq_len // 8] uint8, bit-packed
    block_layout: np.ndarray  # [rows, nb * nb / 8] uint8, bit-packed
    cu_offsets: np.ndarray
    cu_values: np.ndarray
    bounds: list[list[int]]  # per row: cu_seqlens as Python ints, then seq_len when the row is padded
    filled: list[int]  # per row: tokens before the padding
    gaps: list[bool]  # per row: its loss mask is not simply "every token before the padding"
    batch: pa.RecordBatch


def _fixed_binary(arr: pa.FixedSizeBinaryArray) -> np.ndarray:
    width = arr.type.byte_width
    buf = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
    return buf[arr.offset * width : (arr.offset + len(arr)) * width].reshape(len(arr), width)


class PackedShards:
    """All rows of a shard directory (local or an fsspec URL), addressed by a global index in
    manifest order. Shards open on first use; remote ones are copied into a bounded local cache.

    With ``verify`` (the default) each process checks a shard when it first opens it: its size
    and xxh3-64 (sha256 for manifests written before it had one), its rows of ``seq_len`` tokens,
    its row count, and every token id below the vocabulary size. A shard that fails raises
    ShardError naming it; nothing wrong is read silently."""

    def __init__(
        self, shard_dir: str, cache: ShardCache | None = None, verify: bool = True, max_open: int = 16
    ) -> None:
        self.shard_dir = shard_dir
        self.manifest: dict[str, Any] = read_manifest(shard_dir)
        version = self.manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ShardError(f"{shard_dir}: shard schema v{version}; this loader reads v{SCHEMA_VERSION} (re-pack)")
        self.seq_len: int = self.manifest["seq_len"]
        self.verify = verify
        self.vocab_size: int | None = self.manifest.get("tokenizer", {}).get("vocab_size")
        self.entries = self.manifest["shards"]
        self.offsets: list[int] = np.cumsum([0] + [s["rows"] for s in self.entries]).tolist()
        self.cache = cache if cache is not None or storage.is_local(shard_dir) else ShardCache()
        self._open: dict[int, tuple[list[int], list[_Chunk]]] = {}  # shard -> (chunk starts, chunks)
        self._pid = -1
        # remote shards mapped at once in a process, the least recent released first: a map keeps
        # an evicted copy's disk, so no more than the cache holds
        biggest = max((e["bytes"] for e in self.entries), default=1)
        self.max_open = max_open if self.cache is None else max(1, min(max_open, self.cache.max_bytes // biggest))
        self._verified: set[int] = set()  # local shards checked in this process
        self._touched: dict[int, tuple[str, float]] = {}  # remote shard -> (cache copy, when last marked used)
        self._positions = np.arange(self.seq_len, dtype=np.int32)  # int32: see ``rows``
        self._buffers = BatchBuffers()  # batch arrays refilled once the trainer has let go of them

    def __len__(self) -> int:
        return self.offsets[-1]

    def _local_file(self, shard: int) -> str:
        entry = self.entries[shard]
        url = storage.join(self.shard_dir, entry["file"])
        if not storage.is_local(url) and len(self._open) >= self.max_open:  # a map holds the cache's disk
            del self._open[next(iter(self._open))]
        in_use = [self._touched[s][0] for s in self._open if s in self._touched]  # least recent first
        return storage.readable(url, entry["bytes"], entry["sha256"], self.cache, in_use)

    def _chunks(self, shard: int) -> tuple[np.ndarray, list[_Chunk]]:
        if self._pid != os.getpid():  # a forked DataLoader worker maps the files itself
            self._open, self._pid, self._verified = {}, os.getpid(), set()
        found = self._open.get(shard)
        if found is not None and self.cache is None:  # local: every map stays, no recency to keep
            return found
        if found is None:
            reader = self._open_shard(shard)
            chunks, start = [], self.offsets[shard]
            for b in range(reader.num_record_batches):
                batch = reader.get_batch(b)
                ids = batch.column("input_ids").flatten().to_numpy(zero_copy_only=False)
                if self.verify and self.vocab_size and len(ids) and int(ids.max()) >= self.vocab_size:
                    raise self._error(shard, f"token id {int(ids.max())} >= vocab_size {self.vocab_size}")
                cu = batch.column("cu_seqlens")
                offsets, values = cu.offsets.to_numpy(), cu.values.to_numpy()
                flat, at = values.tolist(), offsets.tolist()
                bounds = [
                    flat[a:b] + ([self.seq_len] if flat[b - 1] < self.seq_len else []) for a, b in zip(at, at[1:])
                ]
                filled = [flat[b - 1] for b in at[1:]]
                loss_mask = _fixed_binary(batch.column("loss_mask"))
                counted = np.unpackbits(loss_mask, axis=1, count=self.seq_len).view(bool)
                gaps = (counted != (self._positions < np.array(filled)[:, None])).any(axis=1).tolist()
                chunks.append(
                    _Chunk(
                        start,
                        ids.reshape(batch.num_rows, self.seq_len),
                        loss_mask,
                        _fixed_binary(batch.column("block_layout")),
                        offsets,
                        values,
                        bounds,
                        filled,
                        gaps,
                        batch,
                    )
                )
                start += batch.num_rows
            self._open[shard] = ([c.start for c in chunks], chunks)
        else:
            self._open[shard] = self._open.pop(shard)  # most recently used last
            self._mark_used(shard)
        return self._open[shard]

    def _mark_used(self, shard: int) -> None:
        """Keep a cache copy in use recent (at most once a second): the cache evicts the least
        recently used, and a shard read for a long stretch must not look older than a finished one."""
        if (touched := self._touched.get(shard)) is not None and time.monotonic() - touched[1] > 1.0:
            with contextlib.suppress(OSError):  # evicted meanwhile: still mapped, still readable
                os.utime(touched[0])
            self._touched[shard] = (touched[0], time.monotonic())

    def _error(self, shard: int, what: str) -> ShardError:
        return ShardError(f"{self.entries[shard]['file']} in {self.shard_dir}: {what}; run `corpusmill verify`")

    def _mapped(self, shard: int) -> pa.MemoryMappedFile:
        """The shard's local file, memory-mapped; a cache copy that another process evicted
        between fetching and mapping it is fetched again."""
        for attempt in range(3):
            path = self._local_file(shard)
            try:
                source = pa.memory_map(path)
            except FileNotFoundError:
                if self.cache is None or attempt == 2:
                    raise self._error(shard, f"{path} is missing") from None
                continue
            if self.cache is not None:
                self._touched[shard] = (path, time.monotonic())
            return source
        raise AssertionError("unreachable")

    def _open_shard(self, shard: int) -> ipc.RecordBatchFileReader:
        source = self._mapped(shard)
        if self.verify and (self.cache is not None or shard not in self._verified):
            # a local file once per process; a cache copy each time it is mapped (a new download
            # may reuse a freed inode, so nothing about the file says it was checked)
            source = self._checked(shard, source)
            self._verified.add(shard)
        try:
            reader = ipc.open_file(source)
        except (OSError, pa.ArrowInvalid) as e:
            raise self._error(shard, f"not a readable Arrow IPC file ({e})") from e
        self._check_layout(shard, reader)
        return reader

    def _checked(self, shard: int, source: pa.MemoryMappedFile) -> pa.MemoryMappedFile:
        """``source`` when it matches the manifest; a cache copy that does not is evicted and
        fetched once more (a crash mid-copy can leave a file of the right size), then refused."""
        try:
            self._check_file(shard, source.read_buffer())
        except ShardError as first:
            if self.cache is None:
                raise
            url = storage.join(self.shard_dir, self.entries[shard]["file"])
            self.cache.evict(url, self.entries[shard]["sha256"])
            source = self._mapped(shard)
            try:
                self._check_file(shard, source.read_buffer())
            except ShardError as again:
                path = self.cache.path_of(url, self.entries[shard]["sha256"])
                raise ShardError(f"{again} (fetched twice from {url} into {path})") from first
        source.seek(0)
        return source

    def _check_file(self, shard: int, data: pa.Buffer) -> None:
        """Size and checksum of the mapped bytes against the manifest: a flipped byte must not
        become a wrong token."""
        entry = self.entries[shard]
        if data.size != entry["bytes"]:
            raise self._error(shard, f"{data.size} bytes, the manifest says {entry['bytes']}")
        if "xxh3_64" in entry:
            if xxhash.xxh3_64(data).hexdigest() != entry["xxh3_64"]:
                raise self._error(shard, "xxh3-64 differs from the manifest's: the file is corrupt")
        elif hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise self._error(shard, "sha256 differs from the manifest's: the file is corrupt")

    def _check_layout(self, shard: int, reader: ipc.RecordBatchFileReader) -> None:
        """Rows of ``seq_len`` tokens, as many as the manifest says: else indices would shift."""
        width = reader.schema.field("input_ids").type.list_size
        if width != self.seq_len:
            raise self._error(shard, f"rows of {width} tokens, the manifest says seq_len {self.seq_len}")
        rows = sum(reader.get_batch(b).num_rows for b in range(reader.num_record_batches))
        if rows != self.entries[shard]["rows"]:
            raise self._error(shard, f"{rows} rows, the manifest says {self.entries[shard]['rows']}")

    def _locate(self, index: int) -> tuple[_Chunk, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} out of range [0, {len(self)})")
        shard = bisect_right(self.offsets, index) - 1  # on lists: a batch locates each of its rows
        starts, chunks = self._chunks(shard)
        k = bisect_right(starts, index) - 1
        return chunks[k], index - chunks[k].start

    def block_layout(self, index: int) -> np.ndarray:
        """The row's stored ``[nb, nb]`` block layout."""
        chunk, r = self._locate(index)
        nb = self.seq_len // self.manifest["mask"]["block_size"]
        return np.unpackbits(chunk.block_layout[r], count=nb * nb).reshape(nb, nb).astype(bool)

    def rows(self, indices: list[int], cu_seqlens: bool = True, positions: str = "documents") -> dict[str, Any]:
        """A batch: ``input_ids``, ``labels``, ``position_ids`` (int64) and ``loss_mask`` (bool), each
        ``[B, seq_len]``; ``cu_seqlens`` a list of int32 arrays (when asked). Positions restart at
        each document (``positions="documents"``) or run over the whole row (``"row"``, for
        attention across documents). Whole-batch array operations, and per row only its few
        segment boundaries: this runs once per training batch.

        The arrays come from a pool and are refilled once nothing refers to them (fresh pages
        cost more than the copies). Every copy reads the uint32 memory map or an int32 ``arange``,
        never another int64 array of the batch: an int64 copy shifted by one token between two
        arrays 16 bytes apart modulo 4 KiB runs ~10x slower on x86 (4K aliasing)."""
        if positions not in ("documents", "row"):
            raise ValueError(f"positions={positions!r}: 'documents' or 'row'")
        located = [self._locate(int(i)) for i in indices]
        shape = (len(located), self.seq_len)
        ids, labels = self._buffers.empty(shape, np.int64), self._buffers.empty(shape, np.int64)
        position_ids = self._buffers.empty(shape, np.int64)
        packed = np.empty((len(located), located[0][0].loss_mask.shape[1] if located else 0), dtype=np.uint8)
        ends: list[int] = []
        position_ids[:] = self._positions  # every segment after a row's first then restarts at 0
        for k, (chunk, r) in enumerate(located):
            row = chunk.input_ids[r]
            ids[k] = row
            # A target is the next token when it is counted in the loss (not padding, not an image)
            # and continues the same document: the last token of each document has none.
            labels[k, :-1] = row[1:]
            packed[k] = chunk.loss_mask[r]
            bounds = chunk.bounds[r]  # documents, then the padding as a segment of its own
            if positions == "documents":
                for a, b in zip(bounds[1:], bounds[2:]):
                    position_ids[k, a:b] -= a
            ends += [k * self.seq_len + e - 1 for e in bounds[1:-1]]
        labels[:, -1] = IGNORE_INDEX
        loss = np.unpackbits(packed, axis=1, count=self.seq_len).view(bool)
        for k, (chunk, r) in enumerate(located):  # most rows count every token up to their padding
            if chunk.gaps[r]:
                labels[k, :-1][~loss[k, 1:]] = IGNORE_INDEX
            else:
                labels[k, max(chunk.filled[r] - 1, 0) :] = IGNORE_INDEX
        labels.reshape(-1)[ends] = IGNORE_INDEX
        out = {"input_ids": ids, "labels": labels, "position_ids": position_ids, "loss_mask": loss}
        if cu_seqlens:
            out["cu_seqlens"] = [
                c.cu_values[c.cu_offsets[r] : c.cu_offsets[r + 1]].astype(np.int32) for c, r in located
            ]
        return out

    def row(self, index: int) -> dict[str, np.ndarray]:
        """One row as ``rows`` gives it, without the batch dimension."""
        batch = self.rows([index])
        return {k: v[0] for k, v in batch.items()}

    def provenance(self, index: int) -> dict[str, Any]:
        chunk, r = self._locate(index)
        return {k: chunk.batch.column(k)[r].as_py() for k in ("doc_ids", "sources", "images")}
