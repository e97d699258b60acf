import random

import pytest

from tokenization.shards.packing import _FreeSpace, pack, split_long

MODES = ["best_fit", "concat", "greedy"]


def _lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.choice([1, 5, 100, 700, 2000, 4095, 4096, 4097, 9000]) for _ in range(n)]


@pytest.mark.parametrize("mode", MODES)
def test_pieces_cover_every_document_exactly(mode):
    lengths = _lengths(400)
    rows = pack(lengths, 4096, mode, window=100)
    assert all(0 < sum(p.length for p in row) <= 4096 for row in rows)
    covered: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        for p in row:
            covered.setdefault(p.doc, []).append((p.start, p.length))
    for doc, n in enumerate(lengths):
        spans = sorted(covered[doc])
        assert spans[0][0] == 0 and sum(s[1] for s in spans) == n
        assert all(a[0] + a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_best_fit_truncates_only_overlong_documents_and_fills_better():
    lengths = _lengths(3000, seed=1)
    fills = {}
    for mode in MODES:
        rows = pack(lengths, 4096, mode)
        fills[mode] = sum(lengths) / (len(rows) * 4096)
        cut = {p.doc for row in rows for p in row if p.start > 0 or p.length < lengths[p.doc]}
        if mode == "best_fit":
            assert cut == {d for d, n in enumerate(lengths) if n > 4096}
    assert fills["concat"] > 0.999 and fills["best_fit"] > fills["greedy"]


def test_best_fit_rows_close_with_their_window():
    lengths = [3000, 3000, 1000, 1000]
    rows = pack(lengths, 4096, "best_fit", window=2)
    assert [[p.doc for p in row] for row in rows] == [[0], [1], [2, 3]]
    rows = pack(lengths, 4096, "best_fit", window=4)
    assert len(rows) == 2 and all(sorted(p.length for p in row) == [1000, 3000] for row in rows)


def test_free_space_index_finds_tightest_fit():
    rng = random.Random(0)
    index, counts = _FreeSpace(64), [0] * 65
    for _ in range(5000):
        space = rng.randrange(65)
        if rng.random() < 0.6:
            index.add(space, 1)
            counts[space] += 1
        elif counts[space]:
            index.add(space, -1)
            counts[space] -= 1
        n = rng.randrange(66)
        assert index.smallest_at_least(n) == next((s for s in range(n, 65) if counts[s]), None)


def test_split_long_only_cuts_over_length_documents():
    assert [(p.doc, p.start, p.length) for p in split_long([3, 10], 4)] == [(0, 0, 3), (1, 0, 4), (1, 4, 4), (1, 8, 2)]


def _pieces(rows) -> list[list[tuple[int, int, int]]]:
    return [[(p.doc, p.start, p.length) for p in row] for row in rows]


def test_a_span_across_a_row_boundary_moves_whole_to_the_next_piece():
    spans = {0: [(120, 140)], 1: [(20, 40)]}
    assert [(p.doc, p.start, p.length) for p in split_long([300, 50], 128, spans)] == [
        (0, 0, 120),
        (0, 120, 128),
        (0, 248, 52),
        (1, 0, 50),
    ]
    # concat: the row closes before a span that does not fit what is left of it
    assert _pieces(pack([100, 50], 128, "concat", spans={1: [(20, 40)]})) == [[(0, 0, 100), (1, 0, 20)], [(1, 20, 30)]]
    assert _pieces(pack([100, 50], 128, "concat")) == [[(0, 0, 100), (1, 0, 28)], [(1, 28, 22)]]
    with pytest.raises(ValueError, match="longer than a row"):
        split_long([300], 128, {0: [(100, 229)]})
    with pytest.raises(ValueError, match="longer than a row"):
        pack([300], 128, "concat", spans={0: [(0, 129)]})


@pytest.mark.parametrize("mode", MODES)
def test_no_piece_cuts_a_span_and_packing_stays_deterministic(mode):
    rng = random.Random(2)
    lengths = _lengths(300, seed=2)
    spans = {}
    for d, n in enumerate(lengths):  # image-like spans of 2..66 tokens, anywhere in the document
        at, keep = rng.randrange(40), []
        while at + 66 < n:
            stop = at + rng.randrange(2, 67)
            keep.append((at, stop))
            at = stop + rng.randrange(200)
        spans[d] = keep
    rows = pack(lengths, 4096, mode, window=100, spans=spans)
    assert _pieces(rows) == _pieces(pack(lengths, 4096, mode, window=100, spans=spans))
    assert all(0 < sum(p.length for p in row) <= 4096 for row in rows)
    covered: dict[int, int] = {}
    for row in rows:
        for p in row:
            covered[p.doc] = covered.get(p.doc, 0) + p.length
            assert not any(a < p.start < b or a < p.start + p.length < b for a, b in spans[p.doc])
    assert covered == dict(enumerate(lengths))
    assert sum(1 for d, n in enumerate(lengths) for a, b in spans[d] if a < 4096 < b) > 0  # some had to move
