"""GPT-3's rule: per indexed n-gram the documents it is found in, summed over files in any order, and the
index without the n-grams found in more documents than the limit."""

from pipeline.decontam.common import common_grams, count_grams, merge_counts
from pipeline.decontam.eval_sets import EvalItem
from pipeline.decontam.index import build_index
from pipeline.decontam.scan import scan
from tests.pipeline.decontam.conftest import config

SHARED = "for i in range ( len ( numbers ) ) : for j in range ( i ) : total += numbers [ j ]"
RARE = "return sorted ( set ( zebra_words ) , key = lambda quokka : quokka . upper ( ) )"
ITEM = EvalItem("t", "7", (), (SHARED + "\n" + RARE,))


def _rows(counts):
    return [[k, h, *v] for (k, h), v in sorted(counts.items())]


def test_an_ngram_counts_each_document_once():
    cfg = config("datatrove", min_coverage=0)
    index = build_index([ITEM], cfg)
    counts = count_grams([SHARED + "\n" + SHARED, "unrelated text", SHARED], index, cfg, {})
    assert counts and all(docs == 2 for docs, _, _ in counts.values())
    assert all(item == 0 for _, item, _ in counts.values())
    assert any(gram.startswith("for i in range len numbers") for _, _, gram in counts.values())


def test_files_sum_in_any_order_and_only_the_common_leave_the_index():
    cfg = config("datatrove", min_coverage=0)
    index = build_index([ITEM], cfg)
    docs = [f"module {i}\n{SHARED}\nprint({i})" for i in range(5)] + [f"copy\n{SHARED}\n{RARE}\n"]
    parts = [_rows(count_grams(docs[:2], index, cfg, {})), _rows(count_grams(docs[2:], index, cfg, {}))]
    total = merge_counts(parts)
    assert total == merge_counts(parts[::-1]) == count_grams(docs, index, cfg, {})
    common = common_grams(total, limit=5)  # SHARED's n-grams are in 6 documents, RARE's in 1
    assert common and sum(map(len, common.values())) < sum(map(len, index.keys.values()))
    assert common_grams(total, limit=6) == {}
    kept = index.without(common)
    hits = scan(docs, kept, cfg)
    assert not any(hits[:5]) and hits[5]  # a shared loop is common text; the copy still holds RARE
    assert scan(docs, index, cfg)[0]  # without the rule every document is a hit
    assert not kept.entry_grams.sum() < 0 and kept.entry_grams.sum() < index.entry_grams.sum()
