import random

import numpy as np
import pytest

from pipeline.images.hash import hamming, phash
from pipeline.images.lsh import ImageLshConfig, bit_positions, bucket_edges, catch_probability, lsh_keys, near_edges
from tests.pipeline.images.test_hash import PHOTOS, degraded, samples


def test_catch_probability_of_the_defaults():
    cfg = ImageLshConfig()
    assert catch_probability(0, cfg) == 1.0
    assert catch_probability(10, cfg) > 0.96  # near duplicates are found
    assert catch_probability(32, cfg) < 0.01  # random pictures rarely share a bucket


def test_keys_agree_exactly_when_the_sampled_bits_agree():
    cfg = ImageLshConfig(tables=3, bits=4, seed=5)
    h = np.array([0, 1 << 63, (1 << 64) - 1], dtype=np.uint64)
    keys = lsh_keys(h, cfg)
    assert (keys[:, 0] >> np.uint64(4)).tolist() == [0, 0, 0] and (keys[:, 2] >> np.uint64(4)).tolist() == [2, 2, 2]
    assert (keys[0] != keys[2]).all()  # every table samples some bit, so all-0 and all-1 never meet
    flipped = h[0] ^ np.uint64(1 << 17)  # one bit: keys change in exactly the tables that sample bit 17
    changed = lsh_keys(np.array([flipped]), cfg)[0] != keys[0]
    assert changed.tolist() == [17 in row for row in bit_positions(cfg).tolist()]


def test_degraded_copies_are_found_and_different_pictures_are_not():
    images = samples()
    names, hashes = [], []
    for key in PHOTOS:
        names += [f"a/{key}", f"b/{key}"]
        hashes += [phash(images[key]), phash(degraded(images[key]))]
    edges = near_edges(names, np.array(hashes, dtype=np.uint64), ImageLshConfig())
    assert edges == sorted((f"a/{k}", f"b/{k}") for k in PHOTOS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edges_only_join_close_hashes_and_do_not_depend_on_input_order(seed):
    rng = random.Random(seed)
    base = [rng.getrandbits(64) for _ in range(60)]
    hashes = base + [b ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for b in base[:30]]  # 30 near copies
    names = [f"v{i:03d}" for i in range(len(hashes))]
    cfg = ImageLshConfig(seed=seed)
    edges = near_edges(names, np.array(hashes, dtype=np.uint64), cfg)
    index = dict(zip(names, hashes))
    assert all(hamming(np.uint64(index[u]), np.uint64(index[v])) <= cfg.max_distance for u, v in edges)
    assert {(f"v{i:03d}", f"v{i + 60:03d}") for i in range(30)} <= set(edges)
    order = list(range(len(names)))
    rng.shuffle(order)
    shuffled = near_edges([names[i] for i in order], np.array([hashes[i] for i in order], dtype=np.uint64), cfg)
    assert shuffled == edges


def test_a_bucket_joins_each_member_to_every_close_leader():
    cfg = ImageLshConfig(max_distance=2)
    names, hashes = ["a", "b", "c", "d"], np.array([0b0, 0b1, 0b111111, 0b111110], dtype=np.uint64)
    assert bucket_edges(names, hashes, cfg) == [("a", "b"), ("c", "d")]
    # "m" is close to two leaders: both edges are candidates, since the pixel check may refuse either
    names, hashes = ["a", "b", "m"], np.array([0b0000, 0b1111, 0b0011], dtype=np.uint64)
    assert bucket_edges(names, hashes, cfg) == [("a", "m"), ("b", "m")]
    assert bucket_edges(["a", "a"], np.array([5, 5], dtype=np.uint64), cfg) == []  # one image in two documents
