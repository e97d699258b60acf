import numpy as np
import pyarrow as pa

from pipeline.quality.config import QualityConfig
from pipeline.quality.select import (
    distribution,
    group_of,
    low_score_reasons,
    pareto_draw,
    tie_draw_limits,
    top_fraction_cuts,
)

TRAIN = {"positives": ["book"], "negatives": ["web"]}


def test_top_fraction_keeps_the_best_share_of_each_group_ties_included():
    scores = np.array([0.9, 0.8, 0.8, 0.7, 0.1, 0.5, 0.4, 0.3, 0.2, 0.1])
    groups = ["web/en"] * 5 + ["web/zh"] * 5
    # the same documents split over three files in another order: the same cuts
    parts = [distribution(groups[i::3], scores[i::3]) for i in (2, 0, 1)]
    shares = top_fraction_cuts(parts, 0.4)
    assert shares == {"web/en": (0.8, 0.5), "web/zh": (0.4, 1.0)}  # en: 2 wanted, 0.9 above, 0.8 twice
    cfg = QualityConfig(train=TRAIN, select="top_fraction", fraction=0.4)
    ids = [str(i) for i in range(10)]
    cuts = tie_draw_limits(shares, {"web/en": ["1", "2"]}, 1)
    reasons = low_score_reasons(ids, groups, scores, cfg, cuts, 1)
    kept = [i for i, r in zip(ids, reasons) if r is None]
    assert kept in (["0", "1", "5", "6"], ["0", "2", "5", "6"])  # 2 of en (one of the tied 0.8s), 2 of zh
    assert reasons[3] == "score 0.700000 < 0.800000, the top 0.4 of web/en"
    assert top_fraction_cuts(parts, 1.0) == {"web/en": (0.1, 1.0), "web/zh": (0.1, 1.0)}
    assert reasons[2 if "1" in kept else 1].startswith("score 0.800000 tied at the cut of web/en")
    assert top_fraction_cuts([distribution(["web/en"] * 3, np.array([0.2, 0.5, 0.9]))], 0.01) == {"web/en": (0.9, 1.0)}


def test_a_floor_of_tied_scores_still_gives_the_configured_fraction():
    """115 of 235 real Chinese pages tie at the model's floor: keeping every tie kept them all."""
    scores = np.array([1e-5] * 1150 + [0.5] * 1200)
    groups, ids = ["web/zh"] * len(scores), [f"zh-{i}" for i in range(len(scores))]
    cfg = QualityConfig(train=TRAIN, select="top_fraction", fraction=0.8)
    shares = top_fraction_cuts([distribution(groups, scores)], 0.8)
    assert shares["web/zh"][0] == 1e-5 and abs(shares["web/zh"][1] - (1880 - 1200) / 1150) < 1e-12
    cuts = tie_draw_limits(shares, {"web/zh": ids[:1150]}, 7)
    reasons = low_score_reasons(ids, groups, scores, cfg, cuts, 7)
    assert sum(r is None for r in reasons) == 1880  # exactly the fraction
    assert all(r is None for r in reasons[1150:])  # every page above the cut stays
    assert reasons == low_score_reasons(ids[::-1], groups, scores[::-1], cfg, cuts, 7)[::-1]  # order-free


def test_groups_are_sources_or_source_and_language():
    assert group_of("web", "zh", True) == "web/zh" and group_of("web", None, True) == "web/unknown"
    assert group_of("web", "zh", False) == "web"


def test_threshold_keeps_scores_at_or_above_it():
    cfg = QualityConfig(train=TRAIN, select="threshold", threshold=0.5)
    reasons = low_score_reasons(["a", "b", "c"], ["web"] * 3, np.array([0.5, 0.49, 0.9]), cfg, {}, 1)
    assert reasons == [None, "score 0.490000 < threshold 0.500000", None]


def test_pareto_keeps_with_gpt3s_probability_and_per_document():
    """GPT-3 keeps a document when np.random.pareto(9) > 1 - score: with probability (2 - score)^-9."""
    cfg = QualityConfig(train=TRAIN, select="pareto")
    ids = [f"doc-{i}" for i in range(20_000)]
    for score in (1.0, 0.9, 0.5):
        reasons = low_score_reasons(ids, ["web"] * len(ids), np.full(len(ids), score), cfg, {}, 42)
        kept = sum(r is None for r in reasons) / len(ids)
        expected = (2 - score) ** -9
        assert abs(kept - expected) < 4 * np.sqrt(expected * (1 - expected) / len(ids)) + 1e-9
    draws = [pareto_draw(42, i, 9.0) for i in ids[:1000]]
    numpy_draws = np.random.default_rng(0).pareto(9.0, 200_000)
    assert abs(np.mean(draws) - numpy_draws.mean()) < 0.02  # the same (Lomax) distribution as numpy's pareto
    assert pareto_draw(42, "doc-1", 9.0) == pareto_draw(42, "doc-1", 9.0) != pareto_draw(43, "doc-1", 9.0)


def test_the_distribution_counts_scores_in_millionths():
    t = distribution(["g", "g", "g"], np.array([0.1234564, 0.1234566, 0.1234566]))
    rows = sorted(zip(t["score"].to_pylist(), t["docs"].to_pylist()))
    assert rows == [(123456, 1), (123457, 2)]
    assert t.schema.field("docs").type == pa.int64()
