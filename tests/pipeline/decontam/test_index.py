import numpy as np

from pipeline.decontam.grams import WordHashes, gram_hashes
from pipeline.decontam.index import build_index
from pipeline.decontam.scan import first_hits
from tests.pipeline.decontam.conftest import MATH_ITEM, config


def test_gram_hashes_are_per_window_and_order_sensitive():
    h = WordHashes()
    a = gram_hashes(h(["a", "b", "c", "d", "e"]), 3)
    assert len(a) == 3 and len(set(a.tolist())) == 3
    assert gram_hashes(h(["c", "d", "e"]), 3)[0] == a[2]
    assert gram_hashes(h(["e", "d", "c"]), 3)[0] != a[2]
    assert len(gram_hashes(h(["a", "b"]), 3)) == 0


def test_humaneval_gives_every_item_an_index_entry(humaneval_items):
    index = build_index(humaneval_items, config("deepseek_coder"))
    assert len(humaneval_items) == 164 and index.indexed == {"humaneval": 164}
    assert all(np.all(keys[1:] > keys[:-1]) for keys in index.keys.values())  # sorted, distinct
    assert 10 in index.keys and len(index.keys[10]) > 5000


def test_deepseek_rule_finds_a_pasted_solution_and_a_short_item_whole(humaneval_items):
    cfg = config("deepseek_coder")
    index = build_index(humaneval_items + [MATH_ITEM], cfg)
    item = humaneval_items[12]
    pasted = "# utils.py\nimport os\n\n" + item.labels[0] + "\n\nprint('done')\n"
    short = MATH_ITEM.__class__("short", "s1", (), ("return sorted(set(l)) + [0]",))  # 4 words: matched whole
    index_short = build_index([short], cfg)
    hits = first_hits([pasted, "def add(a, b):\n    return a + b\n"], index, cfg)
    assert hits[0].task == "humaneval" and hits[0].item_id == item.item_id and len(hits[0].gram.split()) == 10
    assert hits[1] is None
    found = first_hits(["x = 1\nreturn sorted(set(l)) + [0]\n", "return sorted(set(l )) + [0]"], index_short, cfg)
    assert found[0].item_id == "s1" and found[1] is None  # written otherwise: not the same string


def test_datatrove_rule_finds_a_near_copy_with_other_case_and_spacing(humaneval_items):
    """A GSM8K-style question in a web page, cased and spaced otherwise: found once questions are indexed
    (datatrove's find_query_ngrams); its answer is found by the default rule."""
    cfg = config("datatrove", query_ngrams=True)
    index = build_index([MATH_ITEM], cfg)
    page = (
        "<p>Forum post</p> janet's DUCKS lay 16 eggs per day.   She eats three for breakfast every morning and "
        "bakes muffins for her friends every day with four. Any ideas?"
    )
    clean = "Janet keeps ducks. They lay eggs every day, and she eats some of them for breakfast with friends."
    hits = first_hits([page, clean], index, cfg)
    assert hits[0] is not None and hits[0].task == "gsm8k_style" and hits[0].gram.startswith("janet s ducks lay 0")
    assert hits[1] is None


def test_datatrove_rule_indexes_answers_and_their_overlap_with_the_question_by_default():
    cfg = config("datatrove")
    index = build_index([MATH_ITEM], cfg)
    question_only = MATH_ITEM.queries[0]
    answer = "Solution: JANET sells 16 - 3 - 4 = 9 duck eggs a day.  She makes 9 * 2 = $18 every day at the market"
    overlap = "How much does she make every day at the farmers' market? Janet sells 16 - 3 - 4 = 9 duck eggs."
    hits = first_hits([question_only, answer, overlap], index, cfg)
    assert hits[0] is None  # find_query_ngrams is off in datatrove's defaults
    assert hits[1].gram == "janet sells 0 0 0 0 duck eggs a day she makes"
    assert (
        hits[2] is not None and "farmers market janet sells" in hits[2].gram
    )  # the question's end, the answer's start


def test_a_digit_table_matches_the_published_rule_and_not_with_min_alpha_words(humaneval_items):
    table = "static const uint8_t kDigits[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };"
    strict = config("deepseek_coder", min_alpha_words=0)  # as published
    assert first_hits([table], build_index(humaneval_items, strict), strict)[0].item_id == "HumanEval/78"
    lenient = config("deepseek_coder", min_alpha_words=2)
    index = build_index(humaneval_items, lenient)
    assert first_hits([table], index, lenient)[0] is None
    pasted = "\n".join(humaneval_items[78].labels)  # the solution itself is still found
    assert first_hits([pasted], index, lenient)[0].item_id == "HumanEval/78"
