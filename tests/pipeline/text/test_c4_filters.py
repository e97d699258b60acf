import pyarrow as pa
import pytest

from pipeline.text.c4_filters import C4Config, c4_document, c4_lines

GUIDE = (
    "The river trail starts at the old mill and follows the water for about six miles.\n"
    "In spring the path can be muddy, so bring boots and allow extra time. It is worth it.\n"
    "Most walkers stop at the wooden bridge, where a bench looks out over the falls.\n"
    "Dogs are welcome but should stay on a lead near the farm and its sheep!\n"
    "The cafe at the far end is open on weekends from April to October."
)
# The guide as a crawled page: chrome, a script notice, a cookie banner, citations, indentation.
PAGE = "\n".join(
    [
        "Menu",
        "Please enable JavaScript to view the comments on this page.",
        "The river trail starts at the old mill and follows the water for about six miles.[1]",
        "In spring the path can be muddy, so bring boots and allow extra time. It is worth it.",
        "Most walkers stop at the wooden bridge, where a bench looks out over the falls.[edit]",
        "Dogs are welcome but should stay on a lead near the farm and its sheep!",
        "   The cafe at the far end is open on weekends from April to October.   ",
        "",
        "This site uses cookies to improve your experience. Read our cookie policy.",
        "Download the map: " + "x" * 1001,
        "Share this walk",
    ]
)


def table(*texts: str) -> pa.Table:
    return pa.table({"text": pa.array(list(texts), pa.large_string())})


def test_c4_lines_removes_and_tags_lines_as_datatrove_does():
    out = c4_lines(table(PAGE, GUIDE), C4Config())
    # "Share this walk" has three words and no end mark: kept, as FineWeb keeps unpunctuated lines
    assert out["text"].to_pylist() == [GUIDE.replace("[1]", "") + "\nShare this walk", GUIDE]
    assert out["rewrite_tags"].to_pylist() == [["too_few_words", "javascript", "policy", "too_long_word"], []]


def test_terminal_punctuation_rule_is_off_by_default_and_switchable():
    out = c4_lines(table(PAGE), C4Config(filter_no_terminal_punct=True))
    assert out["text"].to_pylist() == [GUIDE]
    assert out["rewrite_tags"].to_pylist() == [
        ["no_terminal_punct", "javascript", "policy", "too_long_word", "no_terminal_punct"]
    ]


def test_line_rules_switch_off():
    cfg = C4Config(
        min_words_per_line=None,
        max_word_length=None,
        remove_citations=False,
        filter_javascript=False,
        filter_policy=False,
    )
    out = c4_lines(table(PAGE), cfg)
    assert out["text"].to_pylist() == ["\n".join(line.strip() for line in PAGE.split("\n"))]
    assert out["rewrite_tags"].to_pylist() == [[]]


PAGES = {
    "lorem_ipsum": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" + GUIDE,
    "curly_bracket": GUIDE + '\nUse the config {"walks": 3} to list them.',
    # datatrove checks "{" before the policy phrases: the line stays and takes the page with it
    "curly_bracket ": GUIDE + "\nSee our privacy policy {updated May}.",
    "too_few_sentences": "It is a fine walk. Go early. Take water.\nThe falls are best in spring.",
}


def reasons(*texts: str, cfg: C4Config | None = None) -> list[str | None]:
    cfg = cfg or C4Config()
    return c4_document(c4_lines(table(*texts), cfg), cfg)["drop_reason"].to_pylist()


@pytest.mark.parametrize("case", list(PAGES))
def test_document_rules(case):
    assert reasons(GUIDE, PAGES[case]) == [None, case.strip()]


def test_javascript_line_goes_before_its_bracket_counts():
    # datatrove checks "javascript" before "{": the line is removed and the page kept
    assert reasons("Please enable JavaScript to use the map {interactive}.\n" + GUIDE) == [None]


def test_sentences_are_counted_as_spacys_sentencizer_does():
    # four sentences on the first line ("e.g." and "3.5" end none), one on the second; four are too few
    five = "We walked 3.5 miles, e.g. past the mill. Then we rested! Why? It rained.\nThe end came soon."
    assert reasons(five) == [None]
    assert reasons(five.replace(" Why?", "")) == ["too_few_sentences"]
    assert reasons(five.replace(" Why?", ""), cfg=C4Config(min_num_sentences=4)) == [None]


def test_cjk_sentence_ends_end_a_line_for_the_terminal_punctuation_rule():
    text = "他说：「我们明天再来。」\n这是真的吗？\n事情就这样结束了……\n没有结尾的一行\nAn English line."
    table = pa.table({"text": [text]})
    out = c4_lines(table, C4Config(filter_no_terminal_punct=True, min_words_per_line=None))
    assert out["text"][0].as_py().split("\n") == [
        "他说：「我们明天再来。」",
        "这是真的吗？",
        "事情就这样结束了……",
        "An English line.",
    ]
