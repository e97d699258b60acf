"""FlexAttention with the BlockMask built from stored layouts computes what SDPA computes with the
dense reference mask, for every policy, on random rows and on real packed rows (CPU)."""

import warnings

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import stdlib_sources
from tokenization.shards.flex_mask import flex_block_mask
from tokenization.shards.masks import MaskConfig, block_layout, sdpa_mask, unpack_bits
from tokenization.shards.shards import PackConfig, build_rows
from tokenization.tokenizer.tokenize import TokenizeStage

torch = pytest.importorskip("torch")
from torch.nn.attention.flex_attention import flex_attention  # noqa: E402

POLICIES = ["causal", "document", "block_sparse"]


def _compare(cus: list[np.ndarray], layouts: np.ndarray, seq_len: int, block: int, policy: str) -> float:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(len(cus), 2, seq_len, 16, generator=gen) for _ in range(3))
    reference = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=sdpa_mask(cus, layouts, seq_len, block, policy)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention warns that it is not compiled
        out = flex_attention(q, k, v, block_mask=flex_block_mask(cus, layouts, seq_len, block, policy))
    return float((out - reference).abs().max())


@pytest.mark.parametrize("policy", POLICIES)
def test_flex_equals_sdpa_on_random_rows(policy):
    rng = np.random.default_rng(3)
    cfg = MaskConfig(policy=policy, block_size=32)
    cus = []
    for filled in (512, 300, 33):
        cuts = np.sort(rng.choice(np.arange(1, filled), size=min(filled - 1, 6), replace=False))
        cus.append(np.concatenate([[0], cuts, [filled]]).astype(np.int32))
    layouts = np.stack([block_layout(cu, 512, cfg, seed=1, row_key=str(i)) for i, cu in enumerate(cus)])
    assert _compare(cus, layouts, 512, 32, policy) < 1e-5


@pytest.mark.parametrize("policy", POLICIES)
def test_flex_equals_sdpa_on_real_packed_rows(policy, small_tokenizer):
    from pipeline.schema import DOCUMENT_SCHEMA

    texts = stdlib_sources("json/*.py") + stdlib_sources("textwrap.py") + ["short", "x = 1\n"]
    docs = pa.Table.from_pylist(
        [{"id": f"code/{i}", "source": "code", "text": t, "meta": "{}", "images": []} for i, t in enumerate(texts)],
        schema=DOCUMENT_SCHEMA,
    )
    tokens = TokenizeStage(small_tokenizer, seed=0, num_pack_groups=1)(docs)
    cfg = PackConfig(seq_len=1024, mask={"policy": policy, "block_size": 64})
    table, _ = build_rows(tokens, cfg, seed=0, group_key="00000")
    rows = table.slice(0, 4).to_pylist()
    cus = [np.array(r["cu_seqlens"], dtype=np.int32) for r in rows]
    layouts = np.stack([unpack_bits(r["block_layout"], (16, 16)) for r in rows])
    assert _compare(cus, layouts, 1024, 64, policy) < 1e-5


def test_flex_equals_sdpa_on_a_full_4096_row():
    cu = np.array([0, 700, 2100, 2200, 4000], dtype=np.int32)
    layouts = block_layout(cu, 4096, MaskConfig(), seed=2, row_key="r")[None]
    assert _compare([cu], layouts, 4096, 64, "block_sparse") < 1e-5
