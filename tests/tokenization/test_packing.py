import random

from tokenization.packing import pack_greedy, split_long


def test_pieces_cover_every_document_exactly():
    rng = random.Random(0)
    lengths = [rng.choice([1, 5, 100, 4095, 4096, 4097, 9000]) for _ in range(300)]
    rows = pack_greedy(lengths, 4096)
    assert all(0 < sum(p.length for p in row) <= 4096 for row in rows)
    covered: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        for p in row:
            covered.setdefault(p.doc, []).append((p.start, p.length))
    for doc, n in enumerate(lengths):
        spans = sorted(covered[doc])
        assert spans[0][0] == 0 and sum(s[1] for s in spans) == n
        assert all(a[0] + a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert all(length <= 4096 for _, length in spans)


def test_split_long_only_cuts_over_length_documents():
    assert [(p.doc, p.start, p.length) for p in split_long([3, 10], 4)] == [(0, 0, 3), (1, 0, 4), (1, 4, 4), (1, 8, 2)]
