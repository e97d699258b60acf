import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tokenization.mixing import MixConfig, apply_mix, mixing_rates, off_target, plan_mix
from tokenization.tokenizer.tokenize import TOKENS_SCHEMA, pack_key

# corpora skewed each way: one source scarce, one dominant, one empty
SKEWED = {
    "scarce": {"web": 30_000, "book": 900_000, "code": 60_000, "multimodal": 10_000},
    "dominant": {"web": 5_000_000, "book": 40_000, "code": 30_000, "multimodal": 20_000},
    "empty": {"web": 500_000, "book": 0, "code": 100_000, "multimodal": 50_000},
}


def _water_filling(tokens: dict[str, int], shares: dict[str, float], budget: float, cap: float) -> dict[str, float]:
    """An independent water-filling: cap the sources that overflow, share the rest, until none overflows."""
    alloc: dict[str, float] = {}
    free = dict(shares)
    left = budget
    while free:
        norm = sum(free.values())
        over = {s for s, p in free.items() if left * p / norm > cap * tokens[s]}
        if not over:
            return alloc | {s: left * p / norm for s, p in free.items()}
        for s in over:
            alloc[s] = cap * tokens[s]
            left -= alloc[s]
            del free[s]
    return alloc


def _present_shares(tokens: dict[str, int]) -> dict[str, float]:
    weights = {s: w for s, w in MixConfig().weights.items() if tokens.get(s)}
    return {s: w / sum(weights.values()) for s, w in weights.items()}


@pytest.mark.parametrize("corpus", list(SKEWED))
def test_exact_holds_every_share_within_the_caps(corpus):
    tokens = SKEWED[corpus]
    plan = plan_mix(tokens, MixConfig())
    shares = _present_shares(tokens)
    for source, share in shares.items():
        assert abs(plan.planned[source] - share) < 0.01
        assert plan.rates[source] <= 4.0 + 1e-9
    assert plan.total <= sum(tokens.values()) + 1e-6
    if corpus == "empty":
        assert plan.binding["book"] == "empty" and plan.planned["book"] == 0
    if corpus == "scarce":  # web, at 3 % of the corpus for a 45 % share, shrinks the whole mix
        assert plan.binding["web"] == "sets the total" and plan.binding["book"] == "total set by web"
        assert plan.total == pytest.approx(4 * 30_000 / shares["web"])


def test_an_optional_scarce_source_does_not_shrink_the_rest():
    tokens = {"web": 5_000_000, "book": 3_000_000, "code": 1_000_000, "multimodal": 20_000}
    plan = plan_mix(tokens, MixConfig(optional=["multimodal"], total_tokens=1_000_000))
    assert plan.rates["multimodal"] == 4.0 and plan.binding["multimodal"] == "cap"
    required = {s: w for s, w in MixConfig().weights.items() if s != "multimodal"}
    got = {s: plan.planned[s] for s in required}
    for source, weight in required.items():  # the others hold their proportions among themselves
        assert got[source] / sum(got.values()) == pytest.approx(weight / sum(required.values()), abs=1e-6)
    assert plan.total == pytest.approx(1_000_000)  # without it, multimodal's cap holds the mix to 800k
    assert plan_mix(tokens, MixConfig(total_tokens=1_000_000)).total == pytest.approx(800_000)


@pytest.mark.parametrize("corpus", list(SKEWED))
def test_fill_is_water_filling_under_the_budget(corpus):
    tokens = SKEWED[corpus]
    budget = sum(tokens.values())
    plan = plan_mix(tokens, MixConfig(policy="fill"))
    expected = _water_filling(tokens, _present_shares(tokens), budget, 4.0)
    for source, want in expected.items():
        assert abs(plan.planned[source] - want / sum(expected.values())) < 0.01
        assert plan.rates[source] * tokens[source] == pytest.approx(want, rel=1e-6)
    assert plan.total == pytest.approx(min(budget, 4.0 * budget), rel=1e-6)


def test_rates_meet_budgets_and_cap_repetition():
    tokens = {"web": 1000, "book": 100, "code": 4000, "multimodal": 1}
    rates = mixing_rates(tokens, MixConfig(policy="fill", total_tokens=2000, max_repeat=4.0))
    assert rates["book"] == 4.0 and rates["multimodal"] == 4.0  # capped: not enough data for their share
    assert rates["web"] * 1000 / (rates["code"] * 4000) == pytest.approx(0.45 / 0.15)
    assert sum(rates[s] * n for s, n in tokens.items()) == pytest.approx(2000)
    assert mixing_rates({"web": 10, "code": 10}, MixConfig(weights={"web": 1.0}))["code"] == 0.0


def _group(docs: dict[str, list[int]]) -> pa.Table:
    rows = [
        {
            "id": f"{s}/f#{i}",
            "source": s,
            "token_ids": [7] * n,
            "image_sha256": [],
            "pack_group": 0,
            "pack_key": pack_key(1, f"{s}/f#{i}"),
        }
        for s, sizes in docs.items()
        for i, n in enumerate(sizes)
    ]
    return pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA)


def _shares(mixed: pa.Table) -> dict[str, float]:
    tokens: dict[str, int] = {}
    for source, n in zip(mixed["source"].to_pylist(), pc.list_value_length(mixed["token_ids"]).to_pylist()):
        tokens[source] = tokens.get(source, 0) + n
    return {s: n / sum(tokens.values()) for s, n in tokens.items()}


def test_mixed_documents_land_within_a_point_of_the_plan():
    """Real-sized document sets, and a source of a few very long documents (15 repositories), meet the plan."""
    rng = random.Random(4)
    docs = {
        "web": [rng.randrange(200, 3000) for _ in range(3000)],
        "book": [rng.randrange(20_000, 200_000) for _ in range(40)],
        "code": [rng.randrange(30_000, 150_000) for _ in range(15)],
        "multimodal": [300] * 500,
    }
    plan = plan_mix({s: sum(v) for s, v in docs.items()}, MixConfig())
    mixed = apply_mix(_group(docs), plan.rates, 3, lambda s: pack_key(3, s))
    assert off_target(plan.planned, _shares(mixed), tolerance_pts=1.0) == {}


def test_off_target_names_the_sources_past_the_tolerance():
    target = {"web": 0.45, "book": 0.30, "code": 0.15, "multimodal": 0.10}
    achieved = {"web": 0.10, "book": 0.667, "code": 0.143, "multimodal": 0.09}
    assert off_target(target, achieved, 2.0) == {"web": -35.0, "book": 36.7}


def test_the_copies_do_not_depend_on_row_order_and_meet_the_fraction():
    sizes = {"web": [100 + 37 * i % 900 for i in range(2000)]}
    table = _group(sizes)
    rates = {"web": 2.3}
    a = apply_mix(table, rates, 5, lambda s: pack_key(5, s))
    b = apply_mix(table.take(list(range(table.num_rows))[::-1]), rates, 5, lambda s: pack_key(5, s))
    assert sorted(a["pack_key"].to_pylist()) == sorted(b["pack_key"].to_pylist())
    tokens = sum(pc.list_value_length(a["token_ids"]).to_pylist())
    assert abs(tokens - 2.3 * sum(sizes["web"])) <= max(sizes["web"]) / 2


def test_apply_mix_repeats_with_fresh_pack_keys():
    rows = [
        {
            "id": f"book/b#{i}",
            "source": "book",
            "token_ids": [0, 5, 1],
            "image_sha256": [],
            "pack_group": 0,
            "pack_key": pack_key(1, f"book/b#{i}"),
        }
        for i in range(50)
    ]
    mixed = apply_mix(pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA), {"book": 2.0}, 1, lambda s: pack_key(1, s))
    assert mixed.num_rows == 100
    keys = mixed["pack_key"].to_pylist()
    assert len(set(keys)) == 100 and pack_key(1, "book/b#0@1") in keys


def test_the_plan_does_not_depend_on_the_order_of_the_weights():
    """A config written back by yaml.safe_dump lists the weights sorted: the rates must be the same bits."""
    tokens = {"book": 853_076, "code": 1_272_449, "multimodal": 9_895, "web": 311_514}
    listed = MixConfig(optional=["multimodal"])
    reordered = MixConfig(optional=["multimodal"], weights=dict(sorted(listed.weights.items())))
    assert list(listed.weights) != list(reordered.weights)
    assert plan_mix(tokens, listed) == plan_mix(tokens, reordered)
    assert plan_mix(dict(reversed(list(tokens.items()))), listed).rates == plan_mix(tokens, listed).rates
