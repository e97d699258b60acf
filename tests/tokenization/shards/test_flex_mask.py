"""The FlexAttention BlockMask built from stored layouts: the same tensors as the construction it
replaced (argsort, and ``from_kv_blocks`` deriving the q lists the backward pass reads), and its
'full' blocks exactly the tiles the reference mask sets entirely."""

import numpy as np
import pytest

from tokenization.shards.masks import MaskConfig, attention_segments, block_layout, dense_mask

torch = pytest.importorskip("torch")
from benchmarks.mask_build import make_batch, old_flex_block_mask_from, same_block_mask  # noqa: E402
from tokenization.shards.flex_mask import _ordered, flex_block_mask, flex_block_mask_from  # noqa: E402

POLICIES = ["causal", "document", "block_sparse"]


def _batch(policy: str, seq_len: int, block: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows of several documents: two wholly filled (one cut on block boundaries), three ending in padding."""
    rng = np.random.default_rng(seed)
    cfg = MaskConfig(policy=policy, block_size=block, window=1, global_blocks=1, random_blocks=2)
    cus = []
    for filled in (seq_len, seq_len - 1, seq_len // 2 + 7, block + 3):
        cuts = np.sort(rng.choice(np.arange(1, filled), size=min(filled - 1, 5), replace=False))
        cus.append(np.concatenate([[0], cuts, [filled]]).astype(np.int32))
    cus.append(np.array([0, block, 2 * block, seq_len], dtype=np.int32))  # documents on block boundaries
    return cus, np.stack([block_layout(cu, seq_len, cfg, seed=1, row_key=str(r)) for r, cu in enumerate(cus)])


def _tensors(cus: list[np.ndarray], layouts: np.ndarray, seq_len: int, policy: str) -> tuple:
    segs = np.stack([attention_segments(cu, seq_len, policy) for cu in cus])
    return torch.from_numpy(segs), torch.from_numpy(layouts)


@pytest.mark.parametrize("policy", POLICIES)
def test_block_mask_equals_the_previous_construction(policy):
    for seq_len, block in ((512, 32), (256, 16)):
        cus, layouts = _batch(policy, seq_len, block)
        segs, lays = _tensors(cus, layouts, seq_len, policy)
        old, new = old_flex_block_mask_from(segs, lays, block), flex_block_mask_from(segs, lays, block)
        assert same_block_mask(old, new)  # kv and q lists, partial and full: what forward and backward read
        assert torch.equal(old.to_dense(), new.to_dense())
        assert np.array_equal(new.to_dense()[:, 0].numpy().astype(bool), layouts)
        assert same_block_mask(new, flex_block_mask(cus, layouts, seq_len, block, policy))


def test_block_mask_equals_the_previous_construction_on_stored_4096_rows():
    cus, layouts = make_batch(np.random.default_rng(5), "block_sparse")  # MaskConfig() defaults, 8 rows
    segs, lays = _tensors(cus, layouts, 4096, "block_sparse")
    assert any(cu[-1] < 4096 for cu in cus) and all(len(cu) > 2 for cu in cus)
    assert same_block_mask(old_flex_block_mask_from(segs, lays, 64), flex_block_mask_from(segs, lays, 64))


@pytest.mark.parametrize("policy", POLICIES)
def test_full_blocks_are_exactly_the_tiles_the_reference_sets_entirely(policy):
    seq_len, block = 256, 16
    nb = seq_len // block
    cus, layouts = _batch(policy, seq_len, block, seed=2)
    mask = flex_block_mask(cus, layouts, seq_len, block, policy)
    full = np.zeros((len(cus), nb, nb), dtype=bool)
    for r in range(len(cus)):
        for q in range(nb):
            full[r, q, mask.full_kv_indices[r, 0, q, : mask.full_kv_num_blocks[r, 0, q]].numpy()] = True
    for r, cu in enumerate(cus):
        tiles = dense_mask(cu, seq_len, layouts[r], block, policy).reshape(nb, block, nb, block)
        assert np.array_equal(full[r], tiles.all(axis=(1, 3)))
        assert not (tiles.any(axis=(1, 3)) & ~layouts[r]).any()  # nothing attends outside the layout
    assert full.any()


def test_ordered_lists_set_columns_first_like_a_stable_argsort():
    gen = torch.Generator().manual_seed(0)
    blocks = torch.rand(3, 2, 9, 9, generator=gen) < 0.4
    blocks[0, 0, 0] = False  # an empty row
    blocks[0, 0, 1] = True  # a full one
    num, order = _ordered(blocks)
    assert torch.equal(num, blocks.sum(-1, dtype=torch.int32))
    assert torch.equal(order, torch.argsort((~blocks).to(torch.int8), dim=-1, stable=True).to(torch.int32))
    assert num.dtype == order.dtype == torch.int32 and order.is_contiguous()
