"""How the passes spread work over Ray: file bundles, bundled items, and shuffles that keep groups whole
under both of Ray Data's shuffle strategies."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ray.data.context import ShuffleStrategy

import jobs.ray_steps
from jobs.ray_steps import SORT_BLOCKS, data_context, file_bundles, grouped_map, per_bundle, shuffle_map, text_bytes


def _curated(tmp_path, chars: list[int]) -> list[str]:
    paths = []
    for i, n in enumerate(chars):
        path = str(tmp_path / f"part-{i:05d}.parquet")
        pq.write_table(pa.table({"id": [f"d{i}"], "text": ["x" * n]}), path, compression="none")
        paths.append(path)
    return paths


def test_file_bundles_keep_order_and_balance_the_text(tmp_path):
    files = _curated(tmp_path, [1000, 1000, 1000, 1000, 4000, 100, 100, 3800])
    sizes = dict(zip(files, map(text_bytes, files)))
    bundles = file_bundles(files, 4)
    assert sorted(f for b in bundles for f in b) == files and all(b == sorted(b) for b in bundles)
    held = [sum(sizes[f] for f in b) for b in bundles]
    # by text, not by count: each large file alone, the small ones together
    assert len(bundles) == 4 and max(held) == sizes[files[4]], held
    assert bundles == sorted(bundles) and file_bundles(files, 4) == bundles  # the same bundles every time
    assert file_bundles(files, 100) == [[f] for f in files]


def _files_seen(batch: pa.Table) -> pa.Table:
    return pa.table({"seen": [",".join(batch["name"].to_pylist())]})


def test_per_bundle_runs_each_item_once_in_few_tasks(ray_local):
    items = [{"name": f"f{i}"} for i in range(10)]
    rows = per_bundle(items, _files_seen, parts=3).take_all()
    assert len(rows) == 3  # (in no particular order: Ray Data does not preserve it)
    assert sorted(n for r in rows for n in r["seen"].split(",")) == sorted(i["name"] for i in items)


def _groups_whole(batch: pa.Table) -> pa.Table:
    keys = batch["key"].to_pylist()
    return pa.table({"key": sorted(set(keys)), "count": [keys.count(k) for k in sorted(set(keys))]})


@pytest.mark.parametrize("strategy", ["sort_shuffle_pull_based", "shuffle_v2"])
def test_shuffle_map_gives_each_group_to_one_call(ray_local, strategy):
    import ray.data

    keys = [f"k{i % 7}" for i in range(700)]
    with data_context(shuffle_strategy=ShuffleStrategy(strategy)):
        ds = ray.data.from_items([{"key": k} for k in keys], override_num_blocks=10)
        rows = shuffle_map(ds, ["key"], 3, _groups_whole).take_all()
    # a group split over two calls would show up twice, each time with part of its 100 rows
    assert sorted((r["key"], r["count"]) for r in rows) == [(f"k{i}", 100) for i in range(7)]


def _rows_in_call(batch: pa.Table) -> pa.Table:
    return pa.table({"rows": [batch.num_rows]})


def _group_size(group: pa.Table) -> pa.Table:
    return pa.table({"key": [group["key"][0].as_py()], "rows": [group.num_rows]})


@pytest.mark.parametrize("strategy", ["sort_shuffle_pull_based", "shuffle_v2"])
def test_a_shuffle_has_the_steps_partitions_not_one_per_input_block(ray_local, strategy):
    """Ray Data's sort has a reducer per input block (the driver then holds blocks x blocks references): input
    in more than SORT_BLOCKS blocks is cut into the step's partitions first, so 40 blocks shuffled into 3
    partitions make 3 calls."""
    import ray.data

    keys = [f"k{i % 70}" for i in range(700)]
    with data_context(shuffle_strategy=ShuffleStrategy(strategy)):
        ds = ray.data.from_items([{"key": k} for k in keys], override_num_blocks=SORT_BLOCKS + 8)
        calls = shuffle_map(ds, ["key"], 3, _rows_in_call).take_all()
        groups = grouped_map(ds, "key", 3, _group_size).take_all()
    assert len(calls) == 3 and sum(c["rows"] for c in calls) == 700
    assert sorted((g["key"], g["rows"]) for g in groups) == sorted((f"k{i}", 10) for i in range(70))


def test_a_step_needing_more_sort_reducers_than_allowed_takes_the_hash_shuffle(ray_local, monkeypatch):
    """Past SORT_PARTS reducers the sort's driver references grow as their square: the step runs under the hash
    shuffle instead, with the same whole groups, and the configured strategy is back afterwards."""
    import ray.data

    monkeypatch.setattr(jobs.ray_steps, "SORT_PARTS", 2)
    keys = [f"k{i % 70}" for i in range(700)]
    with data_context(shuffle_strategy=ShuffleStrategy.SORT_SHUFFLE_PULL_BASED):
        ds = ray.data.from_items([{"key": k} for k in keys], override_num_blocks=SORT_BLOCKS + 8)
        calls = shuffle_map(ds, ["key"], 3, _rows_in_call).take_all()
        groups = grouped_map(ds, "key", 3, _group_size).take_all()
        assert ray.data.DataContext.get_current().shuffle_strategy == ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    assert len(calls) == 3 and sum(c["rows"] for c in calls) == 700
    assert sorted((g["key"], g["rows"]) for g in groups) == sorted((f"k{i}", 10) for i in range(70))


def test_the_sort_shuffle_is_the_default_and_turns_slot_reservation_off(ray_local):
    import ray.data

    ctx = ray.data.DataContext.get_current()
    assert ctx.shuffle_strategy == ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    assert ctx.op_resource_reservation_enabled is False


def test_data_context_restores_the_settings_it_changed():
    import ray.data

    ctx = ray.data.DataContext.get_current()
    before = ctx.shuffle_strategy, ctx.op_resource_reservation_enabled
    with pytest.raises(RuntimeError), data_context(shuffle_strategy=ShuffleStrategy.SHUFFLE_V2):
        assert ctx.shuffle_strategy == ShuffleStrategy.SHUFFLE_V2
        raise RuntimeError("a failing step")
    assert (ctx.shuffle_strategy, ctx.op_resource_reservation_enabled) == before
