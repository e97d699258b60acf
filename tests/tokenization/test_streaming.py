"""Shards on an object store through a small cache: each shard downloaded about once per epoch,
ranks reading their own share, the next shards fetched in the background, resume still exact."""

import time
from functools import partial

import pytest

from benchmarks.streaming import BYTES_READ, write_synthetic_shards

torch = pytest.importorskip("torch")
from tokenization.loader import PackedLoader  # noqa: E402


@pytest.fixture(scope="module")
def remote() -> tuple[str, int]:
    base = "counted://corpusmill-streaming-test/shards"
    return base, write_synthetic_shards(base, shards=32, rows_per_shard=16, seq_len=256)


def _epoch(base: str, tmp_path, algo: str, world: int, cache_bytes: int, **kw) -> tuple[float, list[int]]:
    BYTES_READ.value, rows = 0, []
    for rank in range(world):
        loader = PackedLoader(
            base, 4, rank=rank, world_size=world, attention="dense", shuffle_algo=algo,
            cache_dir=str(tmp_path / f"{algo}-{world}-{rank}"), cache_bytes=cache_bytes, **kw,
        )  # fmt: skip
        rows += [i for b in loader for i in b["index"].tolist()]
    return BYTES_READ.value, rows


@pytest.mark.parametrize("world", [1, 2])
def test_a_quarter_of_the_data_in_cache_downloads_each_shard_about_once(remote, tmp_path, world):
    base, total = remote
    shards_read, rows = _epoch(base, tmp_path, "shards", world, total // 4)
    assert sorted(rows) == list(range(32 * 16))  # every row once over the ranks
    assert shards_read / total <= 1.1
    global_read, _ = _epoch(base, tmp_path, "global", world, total // 4)
    assert global_read / total > 2 * shards_read / total  # what the global permutation costs


def test_resume_is_exact_with_the_shard_aware_order(remote, tmp_path):
    base, total = remote
    make = partial(PackedLoader, base, 4, attention="dense", seed=2, cache_dir=str(tmp_path / "c"), cache_bytes=total)
    whole = [b["index"].tolist() for b in make()]
    first, seen = make(), []
    for batch in first:
        seen.append(batch["index"].tolist())
        if len(seen) == 37:
            break
    resumed = make(num_workers=2)
    resumed.load_state_dict(first.state_dict())
    assert seen + [b["index"].tolist() for b in resumed] == whole


def test_the_next_shards_arrive_before_the_reader_asks(remote, tmp_path):
    base, total = remote
    loader = PackedLoader(base, 4, attention="dense", cache_dir=str(tmp_path / "c"), cache_bytes=total // 4)
    it = iter(loader)
    next(it)  # the first batch needs a few shards; the prefetcher runs ahead of it
    cache, entries = loader.dataset.shards.cache, loader.dataset.shards.entries
    deadline = time.time() + 10
    while time.time() < deadline and sum(cache.has(e["file"], e["bytes"], e["sha256"]) for e in entries) < 6:
        time.sleep(0.05)
    held = sum(cache.has(e["file"], e["bytes"], e["sha256"]) for e in entries)
    assert 6 <= held <= 8  # as many as the cache holds (a quarter: 8 shards), beyond what one batch needs
    it.close()


def test_a_cache_too_small_for_the_window_is_named(remote, tmp_path, caplog):
    base, total = remote
    with caplog.at_level("WARNING", logger="corpusmill"):
        PackedLoader(base, 4, attention="dense", cache_dir=str(tmp_path / "c"), cache_bytes=total // 16)
    assert "shards will be downloaded again and again (raise cache_bytes or lower shuffle_block)" in caplog.text
