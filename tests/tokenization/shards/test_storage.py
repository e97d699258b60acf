import os

import fsspec
import numpy as np

from tests.tokenization.shards.test_shards import _group
from tokenization.shards.reader import PackedShards
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
