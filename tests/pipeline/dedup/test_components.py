import random

import pyarrow as pa
import pytest

from pipeline.dedup.components import GRAPH_SCHEMA, components_local


def _union_find(vertices: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Each vertex's component, labelled by its minimum vertex."""
    parent = {v: v for v in vertices}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        a, b = find(u), find(v)
        parent[max(a, b)] = min(a, b)
    return {v: find(v) for v in vertices}


def _expected_stars(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    vertices = sorted({x for e in edges for x in e})
    return sorted((m, v) for v, m in _union_find(vertices, edges).items() if v != m)


def _table(edges: list[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {"u": pa.array([e[0] for e in edges], pa.string()), "v": pa.array([e[1] for e in edges], pa.string())}
    )


def _stars(edges: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    t, rounds = components_local(_table(edges))
    return list(zip(t["u"].to_pylist(), t["v"].to_pylist())), rounds


def _names(rng: random.Random, n: int) -> list[str]:
    """Vertex names in a random order, of varying length and script (string order, not numeric)."""
    names = [f"{rng.choice(['', 'x', 'é', 'doc/'])}{i}" for i in range(n)]
    rng.shuffle(names)
    return names


def _graph(kind: str, rng: random.Random) -> list[tuple[str, str]]:
    """Edges with u < v, as LSH produces them."""
    n = {"path": 400, "star": 60, "cliques": 90, "random": 300, "mixed": 250}[kind]
    v = _names(rng, n)
    if kind == "path":  # one long path through randomly ordered names: several rounds to converge
        pairs = [(v[i], v[i + 1]) for i in range(n - 1)]
    elif kind == "star":  # centred on the largest name: every edge has to move to the minimum
        pairs = [(max(v), x) for x in v if x != max(v)]
    elif kind == "cliques":  # disjoint cliques of 1 to 6 members
        pairs, i = [], 0
        while i < n:
            size = rng.randint(1, 6)
            pairs += [(a, b) for j, a in enumerate(v[i : i + size]) for b in v[i + j + 1 : i + size]]
            i += size
    elif kind == "random":
        pairs = [tuple(rng.sample(v, 2)) for _ in range(n)]
    else:  # paths, stars and isolated edges side by side
        pairs = [(v[i], v[i + 1]) for i in range(0, 80)] + [(v[100], x) for x in v[101:140]]
        pairs += [(v[i], v[i + 1]) for i in range(150, n - 1, 2)]
    return [(min(p), max(p)) for p in pairs]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["path", "star", "cliques", "random", "mixed"])
def test_one_star_per_component_centred_on_its_minimum(kind, seed):
    edges = _graph(kind, random.Random(seed))
    stars, rounds = _stars(edges)
    assert stars == _expected_stars(edges)
    centres, leaves = {u for u, _ in stars}, [v for _, v in stars]
    assert len(leaves) == len(set(leaves)) and not centres & set(leaves)  # stars: each leaf once, no chains
    assert all(u < v for u, v in stars)
    if kind == "path":
        assert rounds >= 3  # the last round changes nothing; a long path needs more than one that does


@pytest.mark.parametrize("seed", [3, 4])
def test_the_result_depends_only_on_the_edge_set(seed):
    rng = random.Random(seed)
    edges = _graph("mixed", rng) + _graph("random", rng)
    stars, _ = components_local(_table(edges))
    shuffled = rng.sample(edges, len(edges))
    duplicated = shuffled + rng.sample(edges, len(edges) // 3) + edges[:5] * 4
    flipped = [(v, u) if rng.random() < 0.5 else (u, v) for u, v in duplicated]
    for variant in (shuffled, duplicated, flipped, [(v, u) for u, v in edges]):
        t, _ = components_local(_table(variant))
        assert t.equals(stars)
    chunked = pa.concat_tables([_table(edges[:10]), _table(edges[10:])])
    assert components_local(chunked)[0].equals(stars)


def test_small_graphs():
    assert _stars([("b", "a")]) == ([("a", "b")], 1)  # already a star: the first round changes nothing
    assert _stars([("a", "b"), ("c", "d")])[0] == [("a", "b"), ("c", "d")]
    assert _stars([("c", "d"), ("b", "c"), ("a", "b")])[0] == [("a", "b"), ("a", "c"), ("a", "d")]
    assert _stars([("a", "b"), ("a", "b"), ("b", "a")])[0] == [("a", "b")]
    assert _stars([("a", "a"), ("a", "b")])[0] == [("a", "b")]  # a self-loop adds nothing
    empty, rounds = components_local(_table([]))
    assert empty.num_rows == 0 and rounds == 0
    assert components_local(_table([("a", "b")]))[0].schema == GRAPH_SCHEMA.remove(2)


def test_gives_up_after_max_rounds():
    edges = _graph("path", random.Random(0))
    _, rounds = components_local(_table(edges))
    with pytest.raises(RuntimeError, match="did not converge"):
        components_local(_table(edges), max_rounds=rounds - 1)
    assert components_local(_table(edges), max_rounds=rounds)[1] == rounds
