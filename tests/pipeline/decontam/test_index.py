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
    index_short = build_index([short], config("deepseek_coder", min_alpha_words=2))  # two of its words have letters
    hits = first_hits([pasted, "def add(a, b):\n    return a + b\n"], index, cfg)
    assert hits[0].task == "humaneval" and hits[0].item_id == item.item_id and len(hits[0].gram.split()) == 10
    assert hits[1] is None
    found = first_hits(["x = 1\nreturn sorted(set(l)) + [0]\n", "return sorted(set(l )) + [0]"], index_short, cfg)
    assert found[0].item_id == "s1" and found[1] is None  # written otherwise: not the same string


def test_datatrove_rule_finds_a_near_copy_with_other_case_and_spacing(humaneval_items):
    """A GSM8K-style question in a web page, cased and spaced otherwise: found once questions are indexed
    (datatrove's find_query_ngrams); its answer is found by the default rule."""
    cfg = config("datatrove", query_ngrams=True, min_coverage=0)  # the page holds part of the question
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
    cfg = config("datatrove", min_coverage=0)  # as published: any n-gram
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
    strict = config("deepseek_coder", min_alpha_words=0, min_coverage=0)  # as published
    assert first_hits([table], build_index(humaneval_items, strict), strict)[0].item_id == "HumanEval/78"
    lenient = config("deepseek_coder", min_alpha_words=2)
    index = build_index(humaneval_items, lenient)
    assert first_hits([table], index, lenient)[0] is None
    pasted = "\n".join(humaneval_items[78].labels)  # the solution itself is still found
    assert first_hits([pasted], index, lenient)[0].item_id == "HumanEval/78"


def test_coverage_counts_a_field_only_when_most_of_its_ngrams_are_there(humaneval_items):
    """PaLM's rule: the real corpus's library code shares a loop with HumanEval/40's solution (11 of its 23
    12-grams); the pasted solution holds all of them."""
    item = humaneval_items[40]
    lib = (
        "def triples(l):\n    out = []\n    for i in range(len(l)):\n        for j in range(i + 1, len(l)):\n"
        "            for k in range(j + 1, len(l)):\n                out.append((i, j, k))\n    return out\n"
    )
    pasted = "def check(l):\n" + item.labels[0] + "\nprint(check([1, 2, -3]))\n"
    published, default = config("datatrove", min_coverage=0), config("datatrove")
    assert default.min_coverage == 0.7
    assert all(h is not None for h in first_hits([lib, pasted], build_index(humaneval_items, published), published))
    index = build_index(humaneval_items, default)
    hits = first_hits([lib, pasted], index, default)
    assert hits[0] is None and hits[1].item_id == "HumanEval/40"
    label, overlap = np.flatnonzero(index.entry_item == 40)  # the solution's own 12-grams, the prompt's tail + it
    assert index.entry_grams[label] == 23 and index.entry_grams[overlap] == 11


def test_an_ngram_two_fields_share_counts_for_the_first_and_coverage_uses_what_each_owns():
    a = MATH_ITEM.__class__("t", "a", (), ("one two three four five six seven eight nine ten eleven twelve thirteen",))
    b = MATH_ITEM.__class__("t", "b", (), ("one two three four five six seven eight nine ten eleven twelve zebra",))
    index = build_index([a, b], config("datatrove"))
    assert index.entry_grams.tolist() == [2, 1]  # b's first 12-gram is a's
    assert first_hits(["x " + b.labels[0]], index, config("datatrove"))[0].item_id == "b"


def test_an_ngram_needs_three_words_with_a_letter_by_default():
    """HumanEval/116's test field on the real corpus and in numpy: "array 0 0 0 0 0 0 0 0 0 0 def" was the only
    n-gram of a field with two words in it, so any `array([...])` of ten numbers held the whole field."""
    label = "sort array " + " ".join(str(i) for i in range(1, 21)) + " def"
    item = MATH_ITEM.__class__("t", "116", (), (label,))
    library = "np.sort(array([5, 4, 3, 2, 1, 0, 9, 8, 7, 6]))\ndef f(): pass"
    two = config("datatrove", min_alpha_words=2)
    assert first_hits([library], build_index([item], two), two)[0].item_id == "116"
    default = config("datatrove")
    assert default.min_alpha_words == 3 and build_index([item], default).indexed == {"t": 0}
    worded = MATH_ITEM.__class__("t", "w", (), ("sort the array by the number of ones " + label,))
    assert first_hits(["x\n" + worded.labels[0]], build_index([worded], default), default)[0].item_id == "w"
