import pyarrow as pa

from tokenization.mixing import MixConfig, apply_mix, copies, mixing_rates
from tokenization.tokenize import TOKENS_SCHEMA, pack_key


def test_rates_meet_budgets_and_cap_repetition():
    tokens = {"web": 1000, "book": 100, "code": 4000, "multimodal": 1}
    rates = mixing_rates(tokens, MixConfig(total_tokens=2000, max_repeat=4.0))
    assert rates["web"] == 2000 * 0.45 / 1000 and rates["code"] == 2000 * 0.15 / 4000
    assert rates["book"] == 4.0 and rates["multimodal"] == 4.0  # capped: not enough data for their share
    assert mixing_rates({"web": 10, "code": 10}, MixConfig(weights={"web": 1.0}))["code"] == 0.0


def test_copies_have_the_rates_mean_and_do_not_depend_on_order():
    ids = [f"web/x#{i}" for i in range(20000)]
    for rate in (0.3, 1.0, 2.6):
        n = [copies(i, rate, seed=5) for i in ids]
        assert abs(sum(n) / len(n) - rate) < 0.02
        assert set(n) <= {int(rate), int(rate) + 1}
    assert [copies(i, 0.5, 5) for i in ids[::-1]] == [copies(i, 0.5, 5) for i in ids][::-1]


def test_apply_mix_repeats_with_fresh_pack_keys():
    rows = [{"id": f"book/b#{i}", "source": "book", "token_ids": [0, 5, 1], "image_sha256": [],
             "pack_group": 0, "pack_key": pack_key(1, f"book/b#{i}")} for i in range(50)]
    mixed = apply_mix(pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA), {"book": 2.0}, 1, lambda s: pack_key(1, s))
    assert mixed.num_rows == 100
    keys = mixed["pack_key"].to_pylist()
    assert len(set(keys)) == 100 and pack_key(1, "book/b#0@1") in keys
