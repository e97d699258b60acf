from pipeline.decontam.eval_sets import EvalItem
from pipeline.decontam.index import build_index
from pipeline.decontam.scan import redact, scan, word_spans
from tests.pipeline.decontam.conftest import MATH_ITEM, config

ITEM = EvalItem("t", "1", (), ("the quick brown fox jumps over the lazy dog near the river bank today",))


def test_redaction_cuts_the_matching_words_and_keeps_the_rest():
    cfg = config("deepseek_coder")
    index = build_index([ITEM], cfg)
    text = "Intro line.\nthe quick brown fox jumps over the lazy dog near the river bank today\nOutro line."
    hits = scan([text], index, cfg)[0]
    assert hits and all(k == 10 for _, k, _ in hits)
    cut, n = redact(text, hits, cfg)
    assert cut == "Intro line.\n\nOutro line." and n == 1  # overlapping windows: one cut


def test_datatrove_words_map_back_to_the_pieces_they_came_from():
    cfg = config("datatrove", query_ngrams=True)
    index = build_index([MATH_ITEM], cfg)
    question = MATH_ITEM.queries[0]
    text = "Before: " + question.upper() + " After, unrelated words."
    spans = word_spans(text, cfg)
    assert spans is not None and text[spans[0][0] : spans[0][1]] == "Before:"
    cut, n = redact(text, scan([text], index, cfg)[0], cfg)
    assert cut.startswith("Before: ") and cut.endswith(" After, unrelated words.") and "DUCKS" not in cut


def test_chinese_counts_characters_as_words():
    item = EvalItem("zh", "1", (), ("小明有五个苹果他吃了两个还剩几个苹果",))
    cfg = config("deepseek_coder")
    index = build_index([item], cfg)
    assert 10 in index.keys  # 18 characters: 9 ten-grams
    text = "题目：小明有五个苹果他吃了两个还剩几个苹果？答案是三个。"
    hits = scan([text, "小明有五个梨"], index, cfg)
    assert hits[0] and not hits[1]
    cut, _ = redact(text, hits[0], cfg)
    assert cut == "题目：？答案是三个。"
