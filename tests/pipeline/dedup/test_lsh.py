import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.dedup.components import both_directions, components_local, distinct, large_star, small_star
from pipeline.dedup.lsh import BAND_SCHEMA, candidate_sets, chain_edges, verify_sets
from pipeline.dedup.near import NearDedupConfig, dedup_in_memory
from pipeline.dedup.shingles import ShingleConfig, jaccard, shingle_sets
from pipeline.dedup.survivors import SurvivorConfig, ranks, vertex_files, vertex_groups, vertex_ids, vertices
from tests.conftest import stdlib_sources
from tests.pipeline.dedup.test_components import _union_find


def _bands(rows: list[tuple[int, int, str]]) -> pa.Table:
    return pa.Table.from_pylist([{"band": b, "bucket": k, "vertex": v} for b, k, v in rows], schema=BAND_SCHEMA)


def test_chain_edges_link_consecutive_members_only():
    t = _bands(
        [(0, 7, "1c"), (0, 7, "1a"), (0, 7, "1b"), (0, 8, "1d"), (1, 7, "1e"), (1, 7, "0z"), (2, 9, "0x"), (2, 9, "0y")]
    )
    edges = chain_edges(t).to_pylist()
    assert sorted((e["u"], e["v"]) for e in edges) == sorted([("1a", "1b"), ("1b", "1c"), ("0z", "1e"), ("0x", "0y")])
    incremental = chain_edges(t, incremental=True).to_pylist()  # two old documents need no edge
    assert sorted((e["u"], e["v"]) for e in incremental) == sorted([("1a", "1b"), ("1b", "1c"), ("0z", "1e")])


def _vertex(name: str) -> str:
    return f"1{name}\x1f0000000000000000"


def test_candidate_sets_merge_buckets_under_their_first_member_and_chunk_large_ones():
    members = [_vertex(c) for c in "abcdef"]
    t = _bands(
        [(0, 1, v) for v in members[:5]]
        + [(3, 5, v) for v in reversed(members[:5])]
        + [(4, 9, members[0]), (4, 9, members[5]), (1, 2, members[0]), (6, 3, members[1]), (6, 3, members[2])]
    )
    sets = candidate_sets(t, max_set_docs=2)
    by_set: dict[int, set] = {}
    for r in sets.to_pylist():
        by_set.setdefault(r["set_id"], set()).add((r["chunk"], r["pos"], r["vertex"][1]))
    assert len(by_set) == 2  # led by a (three buckets, one of them of a and f) and by b
    led_by_a = next(v for v in by_set.values() if (0, 0, "a") in v)
    assert {x for x in led_by_a if x[1] == 0} == {(0, 0, "a"), (1, 0, "a")}  # 4 members in chunks of 2
    assert sorted(x[2] for x in led_by_a if x[1] == 1) == ["b", "c", "d", "e", "f"]
    assert all(len({x[0] for x in led_by_a if x[2] == m}) == 1 for m in "bcde")  # same chunk in both bands
    assert next(v for v in by_set.values() if (0, 0, "b") in v) == {(0, 0, "b"), (0, 1, "c")}


def _set_rows(texts: dict[str, str]) -> pa.Table:
    names = sorted(_vertex(k) for k in texts)
    sets = shingle_sets([texts[n[1:-17]] for n in names], ShingleConfig())
    return pa.table(
        {
            "set_id": pa.array([1] * len(names), pa.uint64()),
            "chunk": pa.array([0] * len(names), pa.int32()),
            "pos": pa.array(range(len(names)), pa.int32()),
            "vertex": names,
            "shingles": pa.array([s.tolist() for s in sets], pa.large_list(pa.uint64())),
        }
    )


def test_verification_keeps_a_cluster_whole_behind_a_false_positive_leader(stdlib_texts):
    words = stdlib_texts[0].split()[:800]
    other = stdlib_texts[1].split()[:800]
    copy = " ".join(words)
    texts = {
        "a": " ".join(other[:400] + words[:60]),  # sorts first, unrelated: an LSH false positive
        "b": copy,
        "c": copy + " trailing words added here",
        "d": " ".join(words[:-10]),
    }
    checks = verify_sets(_set_rows(texts), threshold=0.8, max_leaders=4).to_pylist()
    ok = sorted((r["u"][1], r["v"][1]) for r in checks if r["ok"])
    assert ok == [("b", "c"), ("b", "d")]
    assert sum(not r["ok"] for r in checks) == 3  # b, c and d each checked against a first


def test_components_are_stars_on_the_minimum_whatever_the_partitioning():
    rng = random.Random(5)
    nodes = [f"n{i:03d}" for i in range(300)]
    pairs = {tuple(sorted(rng.sample(nodes, 2))) for _ in range(260)} | {
        (f"n{i:03d}", f"n{i + 1:03d}") for i in range(200, 240)
    }  # a long path
    edges = pa.table({"u": [p[0] for p in pairs], "v": [p[1] for p in pairs]})
    stars, rounds = components_local(edges)
    label = _union_find(sorted({x for p in pairs for x in p}), list(pairs))
    assert sorted((r["u"], r["v"]) for r in stars.to_pylist()) == sorted((m, x) for x, m in label.items() if x != m)

    def by(t: pa.Table, key: str, parts: int) -> list[pa.Table]:  # a hash shuffle, as the runner does
        h = np.array([hash(k) % parts for k in t[key].to_pylist()])
        return [t.filter(pa.array(h == p)) for p in range(parts)]

    t = edges
    for _ in range(rounds):
        t = pa.concat_tables([large_star(b) for b in by(both_directions(t), "src", 7)])
        t = pa.concat_tables([small_star(b) for b in by(t, "v", 3)])
    assert not pc.any(t["changed"]).as_py()
    assert distinct(t).equals(stars)


def _docs(rows: list[tuple[str, str, str, dict]]) -> pa.Table:
    return pa.table(
        {
            "id": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "text": pa.array([r[2] for r in rows], pa.large_string()),
            "meta": [json.dumps(r[3]) for r in rows],
        }
    )


def _edit(text: str, every: int) -> str:
    words = text.split()
    return " ".join("CHANGED" if i % every == every // 2 else w for i, w in enumerate(words))


def _corpus() -> tuple[pa.Table, dict[str, float]]:
    texts = stdlib_sources("*.py", limit=12)
    rows = [(f"web/{i:02d}", "web", t, {}) for i, t in enumerate(texts)]
    rows += [
        ("web/50", "web", _edit(texts[0], 60), {}),
        ("book/00", "book", _edit(texts[1], 80), {}),
        ("web/51", "web", " ".join(texts[2].split()[: len(texts[2].split()) // 2]), {}),
        ("code/0", "code", texts[3], {"license": "MIT"}),
        ("code/1", "code", texts[3] + "\n# x", {"license": "gpl-3.0"}),
    ]
    docs = _docs(rows)
    sets = dict(zip(docs["id"].to_pylist(), shingle_sets(docs["text"].to_pylist(), ShingleConfig())))
    truth = {
        k: jaccard(sets[a], sets[b])
        for k, (a, b) in {
            "edit": ("web/00", "web/50"),
            "book": ("web/01", "book/00"),
            "half": ("web/02", "web/51"),
            "code": ("web/03", "code/0"),
            "code1": ("code/0", "code/1"),
        }.items()
    }
    return docs, truth


def test_in_memory_pass_drops_near_duplicates_and_keeps_distinct_documents():
    docs, truth = _corpus()
    assert truth["edit"] > 0.8 and truth["book"] > 0.8 and truth["half"] < 0.6  # what the corpus is made of
    dropped = {r["id"]: r["survivor"] for r in dedup_in_memory(docs, NearDedupConfig(), seed=1).to_pylist()}
    # the original (earliest id) survives an edit; a book copy of a web page is one cluster across sources (the
    # earliest id, the book's, survives); the MIT code file outranks the web copy and the GPL copy
    assert dropped == {"web/50": "web/00", "web/01": "book/00", "web/03": "code/0", "code/1": "code/0"}
    per_source = dedup_in_memory(docs, NearDedupConfig(scope="source"), seed=1).to_pylist()
    assert {r["id"] for r in per_source} == {"web/50", "code/1"}
    unverified = dedup_in_memory(docs, NearDedupConfig(verify=False), seed=1)
    assert set(unverified["id"].to_pylist()) >= set(dropped)


def test_incremental_matches_a_full_run_for_the_new_documents():
    docs, _ = _corpus()
    new_ids = {"web/50", "web/01", "web/51", "code/1", "web/05"}
    is_new = pc.is_in(docs["id"], pa.array(sorted(new_ids)))
    old, new = docs.filter(pc.invert(is_new)), docs.filter(is_new)
    cfg = NearDedupConfig()
    full = {r["id"]: r["survivor"] for r in dedup_in_memory(docs, cfg, seed=1).to_pylist()}
    incremental = {r["id"]: r["survivor"] for r in dedup_in_memory(new, cfg, seed=1, old=old).to_pylist()}
    assert incremental == {k: v for k, v in full.items() if k in new_ids}
    # where the rule would pick the new copy (an earlier id), the published old one stays and the new one goes
    earlier = _docs([("web/0", "web", docs["text"][0].as_py() + " one more line", {})])
    assert dedup_in_memory(pa.concat_tables([docs.slice(0, 1), earlier]), cfg, seed=1)["id"].to_pylist() == ["web/00"]
    assert dedup_in_memory(earlier, cfg, seed=1, old=docs.slice(0, 1)).to_pylist() == [
        {"id": "web/0", "survivor": "web/00"}
    ]


def test_vertex_order_is_survivor_order():
    cfg = SurvivorConfig(priority=["permissive_licence", "stars", "longest"])
    ids, metas = ["b", "a", "c", "d"], ["{}", "{}", "{}", '{"license": "mit", "stars": 3}']
    t = pa.table({"id": ids, "rank": ranks(ids, metas, [10, 10, 99, 5], cfg)})
    names = vertices(t, [1, 2, 3, 4], [0, 0, 5, 0], old=False)
    ordered = pa.array(sorted(names.to_pylist()))
    assert vertex_ids(ordered).to_pylist() == ["d", "c", "a", "b"]
    assert vertex_files(ordered).to_pylist() == [4, 3, 2, 1] and vertex_groups(ordered).to_pylist() == [0, 5, 0, 0]
    assert vertices(t.slice(0, 1), [0], [0], old=True)[0].as_py() < min(names.to_pylist())


def _sample_chinese_book() -> str:
    import gzip
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "sample", "books", "books.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return next(d["text"] for d in map(json.loads, f) if d["language"] == "zh")


def test_a_traditional_copy_of_a_simplified_page_is_a_near_duplicate():
    """Real Chinese prose (the sample's 呐喊) and a Traditional copy made as mirror sites make them
    (OpenCC s2twp: characters and Taiwan's vocabulary): found with the default shingles (character
    5-grams on the tw2sp key), missed without the key, by characters or by words."""
    import opencc

    book = _sample_chinese_book()
    original, other = book[10_000:16_000], book[40_000:46_000]
    copy = opencc.OpenCC("s2twp").convert(original)
    assert copy != original and sum(a != b for a, b in zip(copy, original)) > 100  # really another script
    docs = _docs([("web/00", "web", original, {}), ("web/01", "web", other, {}), ("web/02", "web", copy, {})])
    dropped = {r["id"]: r["survivor"] for r in dedup_in_memory(docs, NearDedupConfig(), seed=1).to_pylist()}
    assert dropped == {"web/02": "web/00"}
    for shingles in (ShingleConfig(chinese_key="none"), ShingleConfig(unit="word", chinese_key="none")):
        cfg = NearDedupConfig(shingles=shingles)
        assert dedup_in_memory(docs, cfg, seed=1).num_rows == 0
    sets = shingle_sets([original, copy, other], ShingleConfig())
    assert jaccard(sets[0], sets[1]) > 0.9 and jaccard(sets[0], sets[2]) < 0.1
