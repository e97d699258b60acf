import numpy as np
import pytest

from tokenization.shards import masks
from tokenization.shards.masks import (
    MaskConfig,
    attention_segments,
    block_layout,
    block_layouts,
    dense_mask,
    document_layout,
    pack_bits,
    segment_ids,
    unpack_bits,
    varlen_kwargs,
)

POLICIES = ["causal", "document", "block_sparse"]


def _one_row_block_sparse(cu_seqlens: np.ndarray, seq_len: int, cfg: MaskConfig, seed: int, row_key: str) -> np.ndarray:
    """The block-sparse rule for one row, written out document by document: what the batched layouts of
    ``block_layouts`` must equal (it built the shards until they did, bit for bit)."""
    block = cfg.block_size
    nb = seq_len // block
    lo, hi = masks._doc_blocks(cu_seqlens, seq_len, block)
    doc = masks._layout_of(lo, hi)
    docs = np.arange(len(cu_seqlens) - 1)
    meets = (docs[:, None] >= lo[None, :]) & (docs[:, None] <= hi[None, :])  # [doc, block]
    offset = np.arange(nb)[None, :] - (np.asarray(cu_seqlens[:-1]) // block)[:, None]  # block - doc's first block
    is_global = (offset >= 0) & (offset < cfg.global_blocks)
    global_ = (meets.T.astype(np.float32) @ (is_global & meets).astype(np.float32)) > 0
    layout = doc & (masks._window(nb, cfg.window) | global_)
    if cfg.random_blocks:  # per query block, the candidates with the smallest seeded random keys
        keys = masks._row_rng(seed, row_key).random((nb, nb))
        keys[~(doc & ~layout)] = 2.0
        k = min(cfg.random_blocks, nb)
        picked = np.argpartition(keys, k - 1, axis=1)[:, :k]
        real = np.take_along_axis(keys, picked, axis=1) < 1.0
        layout[np.repeat(np.arange(nb), k)[real.ravel()], picked.ravel()[real.ravel()]] = True
    np.fill_diagonal(layout, True)
    return layout


def _random_cu(rng: np.random.Generator, seq_len: int, filled: int | None = None) -> np.ndarray:
    filled = filled or int(rng.integers(seq_len // 2, seq_len + 1))
    cuts = np.sort(rng.choice(np.arange(1, filled), size=int(rng.integers(0, 12)), replace=False))
    return np.concatenate([[0], cuts, [filled]]).astype(np.int32)


def _brute_document_layout(cu: np.ndarray, seq_len: int, block: int) -> np.ndarray:
    seg = segment_ids(cu, seq_len)
    nb = seq_len // block
    layout = np.eye(nb, dtype=bool)
    for q in range(seq_len):
        for k in range(q + 1):
            if seg[q] >= 0 and seg[q] == seg[k]:
                layout[q // block, k // block] = True
    return layout


def test_document_layout_matches_token_level_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cu = _random_cu(rng, 256)
        assert np.array_equal(document_layout(cu, 256, 16), _brute_document_layout(cu, 256, 16))


@pytest.mark.parametrize("policy", POLICIES)
def test_no_attention_across_documents_or_to_the_future_and_padding_to_itself(policy):
    rng = np.random.default_rng(1)
    for r in range(10):
        cu = _random_cu(rng, 512)
        cfg = MaskConfig(policy=policy, block_size=32)
        mask = dense_mask(cu, 512, block_layout(cu, 512, cfg, seed=5, row_key=str(r)), 32, policy)
        seg = segment_ids(cu, 512)
        q, k = np.nonzero(mask)
        assert np.all(k <= q)
        real = seg[q] >= 0
        if policy != "causal":
            assert np.all(seg[q][real] == seg[k][real])
        assert np.all(seg[k][real] >= 0)  # real tokens never attend padding
        assert np.all(q[~real] == k[~real])  # padding only to itself
        assert np.all(mask[np.arange(512), np.arange(512)])  # every token sees itself


def test_block_sparse_layout_rule():
    cfg = MaskConfig(block_size=16, window=2, global_blocks=1, random_blocks=3)
    cu = np.array([0, 40, 400, 500], dtype=np.int32)  # documents over blocks 0-2, 2-24, 25-31
    layout = block_layout(cu, 512, cfg, seed=7, row_key="g:0")
    doc = document_layout(cu, 512, 16)
    assert not (layout & ~doc).any()  # never outside the document layout
    for i in range(32):
        assert layout[i, max(0, i - 2) : i + 1][doc[i, max(0, i - 2) : i + 1]].all()  # the local window
    assert layout[24, 2]  # block 24 sees the first block of the document it lies in (starts in block 2)
    assert not layout[24, 0]  # but not the first block of a document it does not meet
    extra = layout & ~(np.tril(np.triu(np.ones((32, 32), bool), -2)))
    firsts = {0, 2, 25}  # the first block of each document: its global block
    for i in range(32):
        beyond = set(np.flatnonzero(extra[i])) - {j for j in firsts if doc[i, j]}
        assert len(beyond) <= 3  # at most 3 random blocks beyond window and globals
    assert np.array_equal(layout, block_layout(cu, 512, cfg, seed=7, row_key="g:0"))
    others = [block_layout(cu, 512, cfg, seed=s, row_key="g:0") for s in range(8, 12)]
    assert any(not np.array_equal(layout, o) for o in others)  # the random blocks follow the seed
    assert layout.sum() < doc.sum()


def test_varlen_cu_seqlens_match_dense_block_diagonal():
    rng = np.random.default_rng(2)
    rows = [_random_cu(rng, 256) for _ in range(4)]
    varlen = varlen_kwargs(rows, 256)
    cu_all = varlen["cu_seqlens"]
    assert cu_all[0] == 0 and cu_all[-1] == 4 * 256 and varlen["max_seqlen"] == int(np.diff(cu_all).max())
    seg_flat = np.repeat(np.arange(len(cu_all) - 1), np.diff(cu_all))
    for r, cu in enumerate(rows):
        filled = cu[-1]
        mask = dense_mask(cu, 256, document_layout(cu, 256, 16), 16, "document")[:filled, :filled]
        seg = seg_flat[r * 256 : r * 256 + filled]
        block_diag = (seg[:, None] == seg[None, :]) & np.tril(np.ones((filled, filled), bool))
        assert np.array_equal(mask, block_diag)


def test_attention_segments_for_causal_policy():
    seg = attention_segments(np.array([0, 3, 6], dtype=np.int32), 8, "causal")
    assert seg.tolist() == [0, 0, 0, 0, 0, 0, -7, -8]


def test_bit_packing_roundtrip():
    bits = np.random.default_rng(1).random((64, 64)) < 0.3
    packed = pack_bits(bits)
    assert len(packed) == 512 and np.array_equal(unpack_bits(packed, (64, 64)), bits)


@pytest.mark.parametrize("cfg", [MaskConfig(), MaskConfig(window=0, global_blocks=0), MaskConfig(random_blocks=70)])
def test_layouts_of_many_rows_equal_each_rows_own(cfg):
    """The batched block-sparse layouts (what build_rows uses) against the per-row definition: random rows of
    1 to 15 documents, full and padded, over more than one chunk."""
    rng = np.random.default_rng(3)
    cus = []
    for r in range(150):
        total = 4096 if r % 3 == 0 else int(rng.integers(1, 4097))
        cuts = rng.choice(np.arange(1, total), size=min(int(rng.integers(0, 15)), total - 1), replace=False)
        cus.append(np.concatenate([[0], np.sort(cuts), [total]]).astype(np.int32))
    cus.append(np.array([0, 64, 128, 4096], np.int32))  # documents on block boundaries
    keys = [f"7:{r}" for r in range(len(cus))]
    many = block_layouts(cus, 4096, cfg, 11, keys)
    assert many.shape == (len(cus), 64, 64)
    for r, (cu, key) in enumerate(zip(cus, keys)):
        assert np.array_equal(many[r], _one_row_block_sparse(cu, 4096, cfg, 11, key)), r
        assert np.array_equal(block_layout(cu, 4096, cfg, 11, key), many[r])
    causal = MaskConfig(policy="causal")
    assert np.array_equal(block_layouts(cus[:2], 4096, causal, 0, keys[:2])[1], block_layout(cus[1], 4096, causal))
    assert block_layouts([], 4096, cfg, 0, []).shape == (0, 64, 64)
    assert np.array_equal(block_layout(np.array([0]), 4096, cfg, 0, "empty"), np.eye(64, dtype=bool))
