import numpy as np
import torch

from tokenization.shards.batch_buffers import BatchBuffers


def test_an_array_is_handed_out_again_only_once_nothing_refers_to_it():
    pool = BatchBuffers(keep=4)
    first = pool.empty((2, 8), np.int64)
    assert pool.empty((2, 8), np.int64) is not first  # held by `first`
    tensor, view, address = torch.from_numpy(first), first[1:], first.ctypes.data
    del first
    fresh = [pool.empty((2, 8), np.int64) for _ in range(3)]
    assert address not in {a.ctypes.data for a in fresh}  # a tensor and a view still hold it
    del tensor, view, fresh
    assert pool.empty((2, 8), np.int64).ctypes.data in {a.ctypes.data for a in pool._arrays}
    assert pool.empty((2, 8), np.int32).dtype == np.int32 and pool.empty((3, 8), np.int64).shape == (3, 8)


def test_the_pool_is_bounded_and_a_pickled_copy_starts_empty():
    import pickle

    pool = BatchBuffers(keep=2)
    held = [pool.empty((4,), np.int64) for _ in range(5)]
    assert len(pool._arrays) == 2 and len({a.ctypes.data for a in held}) == 5
    assert pickle.loads(pickle.dumps(pool))._arrays == []
