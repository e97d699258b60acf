import numpy as np
import pytest

from tests.tokenization.test_shards import _group
from tokenization.shards import PackConfig, build_rows, write_manifest, write_shard

torch = pytest.importorskip("torch")
from tokenization.loader import EpochSampler, make_loader  # noqa: E402


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory) -> str:
    """Two shards, 12 rows in all (one document per row)."""
    out = tmp_path_factory.mktemp("shards")
    cfg = PackConfig(seq_len=128, mask={"block_size": 16})
    entries = []
    for g in range(2):
        table, info = build_rows(_group([100 + g] * 6, seed=g), cfg)
        entry = write_shard(table, str(out / f"shard-{g:05d}.arrow"), batch_rows=4)
        entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
        entries.append(entry)
    write_manifest(str(out), entries, {"seq_len": 128})
    return str(out)


def _rows_seen(shard_dir: str, world: int, workers: int, **kw) -> list[list[int]]:
    per_rank = []
    for rank in range(world):
        loader = make_loader(shard_dir, batch_size=2, rank=rank, world_size=world, num_workers=workers, seed=7, **kw)
        per_rank.append([i for batch in loader for i in batch["index"].tolist()])
    return per_rank


def test_two_ranks_two_workers_see_every_row_once(shard_dir):
    per_rank = _rows_seen(shard_dir, world=2, workers=2)
    assert len(per_rank[0]) == len(per_rank[1]) == 6
    assert sorted(per_rank[0] + per_rank[1]) == list(range(12))


def test_remainder_drop_and_pad(shard_dir):
    dropped = _rows_seen(shard_dir, world=5, workers=0, remainder="drop")
    flat = [i for r in dropped for i in r]
    assert all(len(r) == 2 for r in dropped) and len(set(flat)) == 10
    padded = _rows_seen(shard_dir, world=5, workers=0, remainder="pad")
    flat = [i for r in padded for i in r]
    assert all(len(r) == 3 for r in padded) and set(flat) == set(range(12)) and len(flat) == 15


def test_epochs_reshuffle_deterministically():
    a = EpochSampler(100, seed=3)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == list(range(100))
    assert list(EpochSampler(100, seed=3)) == first


def test_batch_fields_and_varlen(shard_dir):
    batch = next(iter(make_loader(shard_dir, batch_size=3, shuffle=False)))
    assert batch["input_ids"].shape == (3, 128) and batch["input_ids"].dtype == torch.int64
    assert batch["labels"].shape == batch["position_ids"].shape == (3, 128)
    cu = batch["cu_seqlens"].numpy()
    assert cu[0] == 0 and cu[-1] == 3 * 128 and np.all(np.diff(cu) > 0)
    assert batch["max_seqlen"] == int(np.diff(cu).max())
    assert {100, 28}.issubset(set(np.diff(cu).tolist()))  # a document of 100 tokens, then its padding
