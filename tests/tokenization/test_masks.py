import numpy as np

from tokenization.masks import dense_mask, document_layout, pack_bits, segment_ids, unpack_bits


def _brute_layout(cu: np.ndarray, seq_len: int, block: int) -> np.ndarray:
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
        seq_len, block = 256, 16
        cuts = np.sort(rng.choice(np.arange(1, 250), size=rng.integers(1, 8), replace=False))
        cu = np.concatenate([[0], cuts]).astype(np.int32)
        assert np.array_equal(document_layout(cu, seq_len, block), _brute_layout(cu, seq_len, block))


def test_dense_mask_is_causal_within_documents_and_padding_attends_itself():
    cu = np.array([0, 5, 12, 20], dtype=np.int32)
    seq_len, block = 32, 8
    mask = dense_mask(cu, seq_len, document_layout(cu, seq_len, block), block)
    seg = segment_ids(cu, seq_len)
    q, k = np.nonzero(mask)
    assert np.all(k <= q)
    real = seg[q] >= 0
    assert np.all(seg[q][real] == seg[k][real])
    assert np.all(q[~real] == k[~real])
    assert mask[4, 0] and not mask[5, 4] and mask[19, 12]
    assert mask.sum() == 15 + 28 + 36 + (seq_len - 20)


def test_bit_packing_roundtrip():
    bits = np.random.default_rng(1).random((64, 64)) < 0.3
    packed = pack_bits(bits)
    assert len(packed) == 512 and np.array_equal(unpack_bits(packed, (64, 64)), bits)
