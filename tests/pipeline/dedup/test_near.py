import json
import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.dedup.lsh import candidate_sets
from pipeline.dedup.minhash import permutations
from pipeline.dedup.near import (
    NearDedupConfig,
    dedup_in_memory,
    distinct_set_rows,
    shingled_slices,
    sign,
    signed_band_rows,
    with_shingles,
)
from pipeline.dedup.shingles import ShingleConfig, jaccard, shingle_sets
from pipeline.dedup.survivors import SurvivorConfig
from tests.conftest import stdlib_sources

SEED = 1


def _edit(text: str, every: int) -> str:
    """Every ``every``-th word replaced: each replacement changes the 5 shingles that cover it."""
    return " ".join("EDITED" if i % every == every // 2 else w for i, w in enumerate(text.split()))


def _docs(rows: list[tuple[str, str, str, dict]]) -> pa.Table:
    return pa.table(
        {
            "id": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "text": pa.array([r[2] for r in rows], pa.large_string()),
            "meta": [json.dumps(r[3]) for r in rows],
        }
    )


@pytest.fixture(scope="module")
def corpus() -> tuple[pa.Table, dict[str, str]]:
    """Real documents (the stdlib's email package) with known near-duplicates; and the texts by id."""
    t = stdlib_sources("email/*.py")
    extra = " ".join(stdlib_sources("textwrap.py")[0].split()[:120])  # in no other document
    rows = [(f"web/{i:02d}", "web", t[i], {}) for i in (0, 2, 5, 7, 8, 9, 12, 13, 14, 16)]
    rows += [(f"book/{i:02d}", "book", t[i], {}) for i in (15, 17, 18, 19)]
    rows += [
        ("web/a-orig", "web", t[1], {}),
        ("web/a-edit", "web", _edit(t[1], 100), {}),
        ("web/a-long", "web", t[1] + "\n" + extra, {}),  # the most complete copy
        ("web/b", "web", t[3], {}),
        ("book/b", "book", _edit(t[3], 120), {}),
        ("code/b", "code", t[3] + "\n# end of module\n", {}),
        ("web/c", "web", t[6], {}),
        ("web/c-edit", "web", _edit(t[6], 80), {}),  # true Jaccard about 0.89
        ("code/d-mit", "code", t[10], {"license": "MIT"}),
        ("code/d-none", "code", t[10] + "\n# local changes\n" * 3, {}),
        ("code/e-star", "code", t[11], {"max_stars_count": 50}),
        ("code/e-long", "code", t[11] + "\n\n# patched\n", {"max_stars_count": 2}),
        ("web/f2", "web", "Table of Contents", {}),
        ("web/f1", "web", "table of contents", {}),
        ("web/empty1", "web", "", {}),
        ("web/empty2", "web", "", {}),
        ("web/punct1", "web", "?!", {}),
        ("web/punct2", "web", "?! —", {}),
    ]
    docs = _docs(rows)
    texts = dict(zip(docs["id"].to_pylist(), docs["text"].to_pylist()))
    longer = [
        ("web/a-long", "web/a-orig"),
        ("web/a-orig", "web/a-edit"),
        ("code/b", "web/b"),
        ("code/b", "book/b"),
        ("web/c", "web/c-edit"),
        ("code/d-none", "code/d-mit"),
        ("code/e-long", "code/e-star"),
    ]
    assert all(len(texts[a]) > len(texts[b]) for a, b in longer)  # what the expected survivors rely on
    return docs, texts


def _true(texts: dict[str, str], a: str, b: str) -> float:
    sa, sb = shingle_sets([texts[a], texts[b]], ShingleConfig())
    return jaccard(sa, sb)


# the survivor order this corpus was built to check: licence, stars, then the most complete copy
LONGEST = SurvivorConfig(priority=["permissive_licence", "stars", "longest"])


def _dropped(
    docs: pa.Table, cfg: NearDedupConfig, old: pa.Table | None = None, survivor: SurvivorConfig = LONGEST
) -> dict[str, str]:
    result = dedup_in_memory(docs, cfg, SEED, old=old, survivor=survivor)
    return dict(zip(result["id"].to_pylist(), result["survivor"].to_pylist()))


# with LONGEST: in one web cluster the longest copy survives; across sources one member of three survives (the
# longest); a permissive licence outranks length, and stars outrank length; equal texts fall to the id
EXPECTED = {
    "web/a-orig": "web/a-long",
    "web/a-edit": "web/a-long",
    "web/b": "code/b",
    "book/b": "code/b",
    "web/c-edit": "web/c",
    "code/d-none": "code/d-mit",
    "code/e-long": "code/e-star",
    "web/f2": "web/f1",
}


def test_near_duplicates_go_to_the_right_survivor_and_distinct_documents_stay(corpus):
    docs, texts = corpus
    for a, b in [
        ("web/a-orig", "web/a-edit"),
        ("web/a-orig", "web/a-long"),
        ("web/b", "book/b"),
        ("web/b", "code/b"),
        ("web/c", "web/c-edit"),
    ]:
        assert _true(texts, a, b) > 0.8, (a, b)
    assert _dropped(docs, NearDedupConfig()) == EXPECTED


@pytest.mark.parametrize(
    "cfg", [NearDedupConfig(verify_max_shingles=300), NearDedupConfig(max_set_docs=1, max_leaders=1)]
)
def test_sampled_verification_and_small_chunks_find_the_same_pairs(corpus, cfg):
    """Verification on a 1/2^k cut of large shingle sets, and candidate sets split into chunks of one
    member each, still confirm every pair of the corpus (all far from the threshold)."""
    docs, _ = corpus
    assert _dropped(docs, cfg) == EXPECTED


def test_a_cluster_across_sources_keeps_exactly_one_member(corpus):
    docs, _ = corpus
    dropped = _dropped(docs, NearDedupConfig())
    cluster = {"web/b", "book/b", "code/b"}
    assert len(cluster - set(dropped)) == 1 and {dropped[k] for k in cluster & set(dropped)} == cluster - set(dropped)


def test_source_scope_keeps_copies_in_other_sources(corpus):
    docs, texts = corpus
    dropped = _dropped(docs, NearDedupConfig(scope="source"))
    assert dropped == {k: v for k, v in EXPECTED.items() if k not in ("web/b", "book/b")}
    copies = _docs([("web/x", "web", texts["web/00"], {}), ("book/x", "book", texts["web/00"], {})])
    assert _dropped(copies, NearDedupConfig(scope="source")) == {}
    assert _dropped(copies, NearDedupConfig()) == {"web/x": "book/x"}  # equal texts: the smaller id survives


def test_verification_rejects_candidates_below_the_threshold(corpus):
    docs, texts = corpus
    assert 0.85 < _true(texts, "web/c", "web/c-edit") < 0.93  # LSH misses such a pair with p < 0.002
    strict = _dropped(docs, NearDedupConfig(threshold=0.95))
    assert "web/c-edit" not in strict and strict["web/f2"] == "web/f1"
    unverified = _dropped(docs, NearDedupConfig(threshold=0.95, verify=False))
    assert unverified["web/c-edit"] == "web/c"  # LSH did make the pair a candidate
    assert unverified == EXPECTED  # and made no false candidate among the distinct documents


def test_licence_and_stars_rank_before_length_unless_configured_otherwise(corpus):
    docs, texts = corpus
    code = docs.filter(pc.equal(docs["source"], "code"))
    assert _dropped(code, NearDedupConfig()) == {"code/d-none": "code/d-mit", "code/e-long": "code/e-star"}
    length_only = SurvivorConfig(priority=["longest"])
    assert _dropped(code, NearDedupConfig(), survivor=length_only) == {
        "code/d-mit": "code/d-none",
        "code/e-star": "code/e-long",
    }
    web_copy = _docs([("web/d", "web", texts["code/d-none"] + " and a longer web copy", {})])
    assert _dropped(pa.concat_tables([code, web_copy]), NearDedupConfig()) == {
        "code/d-none": "code/d-mit",
        "web/d": "code/d-mit",
        "code/e-long": "code/e-star",
    }


def test_documents_without_shingles_are_never_linked(corpus):
    docs, _ = corpus
    dropped = _dropped(docs, NearDedupConfig(verify=False))
    assert not {"web/empty1", "web/empty2", "web/punct1", "web/punct2"} & set(dropped)
    assert not {"web/empty1", "web/empty2", "web/punct1", "web/punct2"} & set(dropped.values())


@pytest.mark.parametrize("split", [0, 1, 2, 3])
def test_incremental_matches_a_full_run_for_the_new_documents(corpus, split):
    """Old documents are what an earlier run published (survivors only): the new ones must be
    dropped exactly as a full run on the union drops them, with the same survivors."""
    docs, _ = corpus
    full = _dropped(docs, NearDedupConfig())
    survivors = sorted(set(docs["id"].to_pylist()) - set(full))
    old_ids = set(random.Random(split).sample(survivors, len(survivors) // 2))
    is_old = pc.is_in(docs["id"], pa.array(sorted(old_ids)))
    old, new = docs.filter(is_old), docs.filter(pc.invert(is_old))
    incremental = _dropped(new, NearDedupConfig(), old=old)
    assert incremental == {k: v for k, v in full.items() if k not in old_ids}


def test_incremental_never_drops_a_published_document(corpus):
    docs, _ = corpus
    ids = docs["id"].to_pylist()
    old = docs.take([ids.index("web/a-orig"), ids.index("web/a-edit"), ids.index("web/c-edit")])
    new = docs.take([ids.index("web/a-long"), ids.index("web/c"), ids.index("web/00")])
    # a full run would keep a-long and c; published, the shorter copies stay and the new ones go
    assert _dropped(new, NearDedupConfig(), old=old) == {"web/a-long": "web/a-orig", "web/c": "web/c-edit"}
    assert _dropped(new, NearDedupConfig(verify=False), old=old) == {"web/a-long": "web/a-orig", "web/c": "web/c-edit"}


def test_shingled_slices_cut_on_bytes_between_documents_and_lose_no_row(corpus):
    """The attach step's slices: whole documents, about the byte budget each, together the same rows
    as one ``with_shingles`` call."""
    docs, texts = corpus
    cfg = NearDedupConfig()
    band = signed_band_rows(sign(docs, cfg, permutations(SEED, cfg.minhash.num_perm), LONGEST), cfg, 0, 0, False)
    sets = distinct_set_rows(candidate_sets(band, cfg.max_set_docs)).sort_by("vertex")
    whole = with_shingles(sets, texts, cfg)
    budget = 64 << 10
    slices = list(shingled_slices(sets, texts, cfg, budget))
    assert len(slices) > 2 and pa.concat_tables(slices).equals(whole)
    names = [set(s["vertex"].to_pylist()) for s in slices]
    assert all(a.isdisjoint(b) for i, a in enumerate(names) for b in names[i + 1 :])  # a document is never split
    for s in slices:  # over the budget only by the document that crossed it
        last = s.filter(pc.equal(s["vertex"], s["vertex"][-1]))
        assert s["shingles"].combine_chunks().values.nbytes - last["shingles"].combine_chunks().values.nbytes < budget


def test_the_default_order_keeps_originals_and_the_declared_language(corpus):
    """A vendored copy loses to its original, a translation to the declared language; else the earliest id."""
    _, texts = corpus
    rows = [
        ("code/scipy.tar#scipy/_lib/_vendor/pep440.py", "code", texts["code/d-mit"], {"license": "MIT"}),
        ("code/numpy.tar#numpy/pep440.py", "code", texts["code/d-none"], {}),
        ("web/doc/el-GR/guide.html", "web", texts["web/a-long"], {"language": "el"}),
        ("web/doc/en-US/guide.html", "web", texts["web/a-orig"], {"language": "en"}),
        ("web/doc/zz/guide.html", "web", texts["web/a-edit"], {"language": "en"}),
        ("web/x/b", "web", texts["web/c-edit"], {}),
        ("web/x/a", "web", texts["web/c"], {}),
    ]
    dropped = _dropped(_docs(rows), NearDedupConfig(), survivor=SurvivorConfig())
    assert dropped == {
        "code/scipy.tar#scipy/_lib/_vendor/pep440.py": "code/numpy.tar#numpy/pep440.py",
        "web/doc/el-GR/guide.html": "web/doc/en-US/guide.html",
        "web/doc/zz/guide.html": "web/doc/en-US/guide.html",
        "web/x/b": "web/x/a",
    }
