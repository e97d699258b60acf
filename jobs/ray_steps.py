"""Ray Data steps the passes share: Parquet files read in plain tasks, a hash shuffle with one call per
partition, connected components by star rounds, counts over materialized blocks, heap trimming in
long-lived workers."""

from __future__ import annotations

import ctypes
import ctypes.util
import heapq
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data
from ray.data.context import ShuffleStrategy

from pipeline.dedup.components import both_directions, large_star, small_star

_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None


def trim_heap() -> None:
    """Hand freed heap back to the OS: workers run many tasks, and glibc would keep each one's peak."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def per_item(items: list[dict[str, Any]], fn: Callable[..., Any], **kwargs: Any) -> ray.data.Dataset:
    """``fn(batch, **kwargs)`` in one Ray task per item (a one-row pyarrow batch of ``items``), lazily.

    How the passes spread a list of files over the cluster: one block per file, so a file is one
    retried task, a worker never holds two, and progress counts files."""
    return ray.data.from_items(items, override_num_blocks=max(1, len(items))).map_batches(
        partial(fn, **kwargs), batch_size=1, batch_format="pyarrow"
    )


TASKS_PER_CPU = 4  # file bundles per CPU: enough to balance, few enough that a task's fixed cost stays small


def text_bytes(path: str) -> int:
    """The uncompressed bytes of a curated file's text column, from its footer: the work of a step that reads
    the text (the bytes on disk are mostly images in one source and compressed code in another)."""
    meta = pq.ParquetFile(path).metadata
    return sum(
        meta.row_group(g).column(c).total_uncompressed_size
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
        if meta.row_group(g).column(c).path_in_schema == "text"
    )


def file_bundles(files: list[str], parts: int) -> list[list[str]]:
    """Curated files in at most ``parts`` bundles of about equal text, one task each: every CPU slot stays busy
    to the end while a task's fixed cost is paid per bundle, not per file. Largest first into the lightest
    bundle (LPT); each bundle keeps the files' order, bundles go by their first file (no output depends on
    the bundling)."""
    sizes = [text_bytes(f) for f in files]
    heap = [(0, b) for b in range(min(parts, len(files)))]  # (text held, bundle): the lightest on top
    members: list[list[int]] = [[] for _ in heap]
    for i in sorted(range(len(files)), key=lambda i: (-sizes[i], i)):
        held, lightest = heapq.heappop(heap)
        members[lightest].append(i)
        heapq.heappush(heap, (held + sizes[i], lightest))
    return [[files[i] for i in sorted(m)] for m in sorted(members, key=min)]


def per_bundle(items: list[dict[str, Any]], fn: Callable[..., Any], parts: int, **kwargs: Any) -> ray.data.Dataset:
    """``fn(batch, **kwargs)`` over ``parts`` consecutive bundles of ``items`` (a batch per bundle), lazily: for
    many small items whose fixed cost per task (a Ray task, a block) would exceed their work."""
    return ray.data.from_items(items, override_num_blocks=max(1, min(len(items), parts))).map_batches(
        partial(fn, **kwargs), batch_size=None, batch_format="pyarrow"
    )


def read_parquet_files(paths: list[str], columns: list[str] | None = None, batch_rows: int = 256) -> ray.data.Dataset:
    """Parquet files as a dataset read by plain tasks, one file per task, ``batch_rows`` rows per block.

    ``ray.data.read_parquet`` lists the files' footers in actors, and a node lost during that listing
    failed the job with no retry (the two-node test saw it); a task whose node dies is retried."""
    return per_item([{"path": p} for p in paths], _read_files, columns=columns, batch_rows=batch_rows)


def _read_files(batch: pa.Table, columns: list[str] | None, batch_rows: int):
    for path in batch["path"].to_pylist():
        f = pq.ParquetFile(path)
        if f.metadata.num_rows == 0:  # a file with no rows still gives its schema
            schema = f.schema_arrow
            yield (schema if columns is None else pa.schema([schema.field(c) for c in columns])).empty_table()
        for b in f.iter_batches(batch_size=batch_rows, columns=columns):
            yield pa.Table.from_batches([b])


@ray.remote
def _count(block: pa.Table, column: str) -> int:
    if block.num_rows == 0:  # an empty shuffle partition may come without the schema
        return 0
    return int(pc.sum(block[column].cast(pa.int64())).as_py() or 0)


def column_total(ds: ray.data.MaterializedDataset, column: str) -> int:
    """The sum of a boolean or integer column of a materialized dataset: plain tasks on its blocks."""
    return sum(ray.get([_count.remote(ref, column) for ref in ds.to_arrow_refs()]))


@contextmanager
def data_context(**settings: Any) -> Iterator[None]:
    """Ray Data's ``DataContext`` with ``settings`` while the block runs, restored after; the block's
    datasets must be made inside it (a dataset keeps a copy of the context it was made in)."""
    ctx = ray.data.DataContext.get_current()
    before = {name: getattr(ctx, name) for name in settings}
    for name, value in settings.items():
        setattr(ctx, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(ctx, name, value)


def _by_sort() -> bool:
    return ray.data.DataContext.get_current().shuffle_strategy == ShuffleStrategy.SORT_SHUFFLE_PULL_BASED


SORT_BLOCKS = 32  # input blocks a sort takes uncut: measured on 2 CPUs, sorting 32 blocks grew the driver 34 MB
SORT_PARTS = 64  # reducers a sort may have; a step that needs more takes the hash shuffle
# Ray Data's settings for each ``ray.shuffle`` (jobs/config.py): the sort shuffle is plain tasks, so nothing
# starves without slot reservation; the hash shuffle's aggregators need it
SHUFFLES: dict[str, dict[str, Any]] = {
    "sort": {"shuffle_strategy": ShuffleStrategy.SORT_SHUFFLE_PULL_BASED, "op_resource_reservation_enabled": False},
    "hash": {"shuffle_strategy": ShuffleStrategy.SHUFFLE_V2, "op_resource_reservation_enabled": True},
}


def _shuffled(ds: ray.data.Dataset, parts: int, by_sort: Callable, by_hash: Callable) -> ray.data.Dataset:
    """``by_hash(ds)`` under the hash shuffle (``ray.shuffle: hash``); under the sort shuffle ``by_sort`` of
    ``ds`` cut into ``parts`` blocks, or more where a block would pass Ray Data's ``target_max_block_size`` (a
    split, not a shuffle; a sort waits for all its input anyway).

    Ray Data's sort has a reducer per input block, and its driver holds a reference per map block and reducer.
    Measured on 2 CPUs, sorting blocks of 1,500 rows: 64 blocks +57 MB and 4.1 s, 128 +129 MB and 7.4 s, 384
    +761 MB and 36.5 s; those 384 cut into 2 first, +37 MB and 4.8 s (hash shuffle: +24 MB, 9.4 s); cut into
    64, +96 MB and 6.3 s (hash: +27 MB, 10.4 s); into 128, +219 MB and 8.2 s (hash: +28 MB, 9.9 s). So a
    dataset of at most SORT_BLOCKS blocks is sorted as it is (a cut moves blocks between nodes), and a step
    that needs more than SORT_PARTS reducers runs under the hash shuffle, whose driver does not grow so."""
    if not _by_sort():
        return by_hash(ds)
    ds = ds.materialize()
    largest = ray.data.DataContext.get_current().target_max_block_size or 128 << 20
    cut = max(parts, -(-ds.size_bytes() // largest))
    if cut <= SORT_PARTS:
        return by_sort(ds if ds.num_blocks() <= SORT_BLOCKS else ds.repartition(cut))
    with data_context(**SHUFFLES["hash"]):  # a dataset keeps the context it was made in: one made under it
        return by_hash(ray.data.from_arrow_refs(ds.to_arrow_refs())).materialize()


def grouped_map(ds: ray.data.Dataset, key: str, parts: int, fn: Callable) -> ray.data.Dataset:
    """``fn`` on each group of ``key`` (Ray Data's ``map_groups``), over ``parts`` partitions under either
    shuffle: its groupby takes ``num_partitions`` under the hash shuffle only, the cut makes it so under the
    sort shuffle (``_shuffled``)."""
    return _shuffled(
        ds,
        parts,
        lambda d: d.groupby(key).map_groups(fn, batch_format="pyarrow"),
        lambda d: d.groupby(key, num_partitions=parts).map_groups(fn, batch_format="pyarrow"),
    )


def shuffle_map(ds: ray.data.Dataset, keys: list[str], parts: int, fn, **kwargs) -> ray.data.Dataset:
    """Shuffle on ``keys`` and run ``fn`` once per partition (each holds whole groups): ``parts`` hash
    partitions under the hash shuffle; under the sort shuffle (``ray.shuffle``), the range partitions of a sort
    on ``keys`` (``parts``, or more where one would pass a block's size), as Ray Data's own groupby does (equal
    keys meet in one reducer)."""
    run = partial(fn, **kwargs)
    return _shuffled(
        ds,
        parts,
        lambda d: d.sort(keys).map_batches(run, batch_size=None, batch_format="pyarrow"),
        lambda d: d.repartition(parts, keys=keys).map_batches(run, batch_size=None, batch_format="pyarrow"),
    )


def connected_components(edges: ray.data.Dataset, parts: int, max_rounds: int) -> tuple[ray.data.Dataset, int]:
    """Star edges (u = the component's minimum vertex, v = a member) and the rounds it took."""
    for rounds in range(1, max_rounds + 1):
        directed = edges.map_batches(both_directions, batch_format="pyarrow", batch_size=None)
        stars = shuffle_map(directed, ["src"], parts, large_star)
        edges = shuffle_map(stars, ["v"], parts, small_star).materialize()
        if column_total(edges, "changed") == 0:
            return edges, rounds
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
