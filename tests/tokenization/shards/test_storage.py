import os

import fsspec
import numpy as np
import pytest

from tests.tokenization.shards.test_shards import _group
from tokenization.shards.reader import PackedShards, ShardError
from tokenization.shards.shards import PackConfig, build_rows, shard_counts, verify_shards, write_manifest, write_shard
from tokenization.shards.storage import ShardCache

CFG = PackConfig(seq_len=256, mask={"block_size": 16})


def _write(base: str, groups: int = 3) -> list:
    tables, entries = [], []
    for g in range(groups):
        table, _ = build_rows(_group([90, 200, 31, 250, 7, 120], seed=g), CFG, group_key=str(g))
        entry = write_shard(table, f"{base}/shard-{g:05d}-0000.arrow", batch_rows=2)
        entries.append({**entry, **shard_counts(table)})
        tables.append(table)
    write_manifest(base, entries, {"seq_len": 256, "mask": CFG.mask.model_dump()})
    return tables


def test_shards_on_an_object_store_read_through_a_bounded_cache(tmp_path):
    base = "memory://corpusmill-test/run/shards"
    tables = _write(base)
    fs = fsspec.filesystem("memory")
    assert not [p for p in fs.ls("/corpusmill-test/run/shards", detail=False) if "tmp" in p]
    assert verify_shards(base) == []
    one_shard = max(fs.size(p) for p in fs.ls("/corpusmill-test/run/shards", detail=False) if p.endswith(".arrow"))
    cache = ShardCache(str(tmp_path / "cache"), max_bytes=one_shard + 1)
    shards = PackedShards(base, cache)
    expected = [row for t in tables for row in t["input_ids"].to_pylist()]
    assert len(shards) == len(expected)
    for i, ids in enumerate(expected):
        assert np.array_equal(shards.rows([i])["input_ids"][0], ids)
        assert len([f for f in os.listdir(cache.dir) if f[0] != "."]) <= 1  # never more than the bound allows
    with fs.open("/corpusmill-test/run/shards/shard-00001-0000.arrow", "wb") as f:
        f.write(b"not the shard")
    assert [p.split(":")[0] for p in verify_shards(base)] == ["shard-00001-0000.arrow"]


def test_file_urls_work_like_paths(tmp_path):
    tables = _write(f"file://{tmp_path}/shards", groups=1)
    assert verify_shards(str(tmp_path / "shards")) == []
    assert len(PackedShards(f"file://{tmp_path}/shards")) == tables[0].num_rows


def test_a_process_forked_while_a_lock_is_held_does_not_keep_it(tmp_path):
    import threading

    cache = ShardCache(str(tmp_path / "cache"))
    path = cache.path_of("memory://x/shard-0.arrow", "ab" * 32)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cache._lock(path):
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(10)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait until the parent's thread let go, then the lock must be free
        os.close(write)
        os.read(read, 1)
        with cache._lock(path, wait=False) as mine:
            os._exit(0 if mine else 1)
    os.close(read)
    release.set()
    holder.join(10)
    os.write(write, b"x")
    assert os.waitpid(pid, 0)[1] == 0


def test_a_corrupt_cache_copy_is_fetched_again_and_a_corrupt_object_is_refused(tmp_path):
    base = "memory://corpusmill-test/corrupt/shards"
    tables = _write(base)
    fs = fsspec.filesystem("memory")
    cache = ShardCache(str(tmp_path / "cache"), max_bytes=1 << 30)
    first = tables[0]["input_ids"].to_pylist()[0]
    assert np.array_equal(PackedShards(base, cache).rows([0])["input_ids"][0], first)
    (copy,) = [p for p in (tmp_path / "cache").iterdir() if p.name.endswith("shard-00000-0000.arrow")]
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 1  # a copy of the right size, wrong bytes (a crash mid-copy)
    copy.write_bytes(bytes(data))
    assert np.array_equal(PackedShards(base, cache).rows([0])["input_ids"][0], first)  # fetched again
    remote = "/corpusmill-test/corrupt/shards/shard-00000-0000.arrow"
    with fs.open(remote, "wb") as f:
        f.write(bytes(data))  # now the object itself is wrong: refused, with both places named
    with pytest.raises(ShardError, match=r"xxh3-64 differs.*fetched twice from memory://.* into .*cache"):
        PackedShards(base, ShardCache(str(tmp_path / "other"), max_bytes=1 << 30)).rows([0])


def test_a_copy_fetched_again_after_eviction_is_verified_again(tmp_path):
    base = "memory://corpusmill-test/refetch/shards"
    _write(base)
    fs = fsspec.filesystem("memory")
    one_shard = max(fs.size(p) for p in fs.ls("/corpusmill-test/refetch/shards", detail=False) if p.endswith(".arrow"))
    cache = ShardCache(str(tmp_path / "cache"), max_bytes=one_shard + 1)
    shards = PackedShards(base, cache)
    assert shards.max_open == 1  # no more maps than the cache holds copies
    shards.rows([0])
    shards.rows([shards.offsets[1]])  # shard 1 takes the cache's room and the only map
    remote = "/corpusmill-test/refetch/shards/shard-00000-0000.arrow"
    data = bytearray(fs.cat_file(remote))
    data[len(data) // 2] ^= 1
    with fs.open(remote, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(ShardError, match="xxh3-64 differs"):
        shards.rows([0])
