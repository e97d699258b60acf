import numpy as np
import pytest

from tokenization.shards.shuffle import global_order, shard_aware_order, shards_in_use

SIZES = [50, 40, 60, 50, 45, 55, 50, 50, 30, 70]


def test_the_shard_aware_order_is_a_seeded_permutation_per_epoch():
    order = shard_aware_order(SIZES, seed=3, epoch=0, block_rows=100)
    assert sorted(order.tolist()) == list(range(sum(SIZES)))
    assert np.array_equal(order, shard_aware_order(SIZES, seed=3, epoch=0, block_rows=100))
    assert not np.array_equal(order, shard_aware_order(SIZES, seed=3, epoch=1, block_rows=100))
    assert not np.array_equal(order, shard_aware_order(SIZES, seed=4, epoch=0, block_rows=100))
    assert sorted(global_order(500, 3, 0).tolist()) == list(range(500))


@pytest.mark.parametrize("block", [50, 150])
def test_a_window_of_the_order_needs_few_shards_and_rows_still_mix(block):
    order = shard_aware_order(SIZES, seed=0, epoch=0, block_rows=block)
    offsets = np.cumsum([0, *SIZES])
    shard_of = np.searchsorted(offsets, order, side="right") - 1
    held = [len(set(shard_of[i : i + 50].tolist())) for i in range(0, len(order) - 50)]
    assert max(held) <= block // 50 + 2  # about block / rows per shard + 1 resident shards
    plain = np.concatenate([np.arange(a, b) for a, b in zip(offsets, offsets[1:])])
    assert not np.array_equal(order[:50], plain[:50])  # shards visited in a seeded order, rows shuffled
    if block > max(SIZES):  # a block wider than a shard spreads its rows among its neighbours'
        assert np.mean(held) >= 3


def test_shards_in_use_gives_first_and_last_need_in_order_of_first_use():
    order = np.array([12, 3, 14, 4, 25, 11])  # shards of 10 rows
    shards, first, last = shards_in_use(order, [0, 10, 20, 30])
    assert shards.tolist() == [1, 0, 2] and first.tolist() == [0, 1, 4] and last.tolist() == [5, 3, 4]
