import pyarrow as pa
import pytest

from pipeline.text.fineweb_filters import FineWebQualityConfig, fineweb_quality

# Five lines of a walking guide: what the rules should keep.
GUIDE = (
    "The river trail starts at the old mill and follows the water for about six miles.\n"
    "In spring the path can be muddy, so bring boots and allow extra time for the climb.\n"
    "Most walkers stop at the wooden bridge, where a bench looks out over the falls.\n"
    "Dogs are welcome but should stay on a lead near the farm and its sheep.\n"
    "The cafe at the far end is open on weekends from April to October."
)
# One page per rule: it passes every rule checked before that one and fails it.
DOCS = {
    "empty": " \n\t\n",
    "line_punct_ratio": "\n".join(
        [
            "Walking club home page and news for members",
            "Upcoming walks this season in the valley",
            "River trail and waterfall circuit details",
            "Hill routes for experienced walkers only",
            "Membership fees and how to join the club",
            "Photo gallery from the spring weekend away",
            "Contact the committee about club business",
            "Privacy notice and cookie settings page",
            "Everyone is welcome on our Sunday walks.",
        ]
    ),
    "short_line_ratio": "\n".join(
        [
            "The mill wheel turns,",
            "the river keeps its time;",
            "we climb the hill",
            "in boots still wet",
            "and stop to hear",
            "the falls below.",
            "A heron lifts,",
            "the light goes gold,",
            "and home is near",
            "across the field.",
        ]
    ),
    "char_dup_ratio": GUIDE
    + "\nRead the full route description.\n"
    + GUIDE.replace("six", "seven")
    + "\nRead the full route description.",
    "list_ratio": "\n".join(
        f"https://walks.example.org/routes/{name}/map.pdf."
        for name in [
            "river-trail",
            "mill-loop",
            "falls-circuit",
            "farm-track",
            "castle-ridge",
            "coast-path",
            "moor-crossing",
            "village-round",
        ]
    ),
}


def reasons(texts: list[str], cfg: FineWebQualityConfig | None = None) -> list[str | None]:
    table = pa.table({"text": pa.array(texts, pa.large_string())})
    return fineweb_quality(table, cfg or FineWebQualityConfig())["drop_reason"].to_pylist()


def test_guide_is_kept():
    assert reasons([GUIDE]) == [None]


@pytest.mark.parametrize("rule", list(DOCS))
def test_each_rule_drops_its_page(rule):
    assert reasons([GUIDE, DOCS[rule]]) == [None, rule]


def test_rules_switch_off():
    cfg = FineWebQualityConfig(
        line_punct_thr=None, short_line_thr=None, char_duplicates_ratio=None, new_line_ratio=None
    )
    assert reasons([DOCS[rule] for rule in DOCS if rule != "empty"], cfg) == [None] * (len(DOCS) - 1)


def test_line_punct_exclude_zero_spares_pages_without_any_end_mark():
    menu = "\n".join(line.rstrip(".") for line in DOCS["line_punct_ratio"].split("\n"))
    assert reasons([menu, DOCS["line_punct_ratio"]], FineWebQualityConfig(line_punct_exclude_zero=True)) == [
        None,
        "line_punct_ratio",
    ]


def test_custom_stop_chars():
    colon = GUIDE.replace(".", ":")
    assert reasons([colon]) == ["line_punct_ratio"]
    assert reasons([colon], FineWebQualityConfig(stop_chars=[":", "."])) == [None]


def test_chinese_lines_ending_in_a_closing_quote_or_ellipsis_count_as_punctuated():
    """FineWeb-2's Chinese settings, with CJK sentence ends: 。」 and … end a line as 。 does (datatrove's set
    has neither, and the same settings without them drop the page)."""
    lines = ["他说：「我们明天再来讨论这个问题吧。」", "事情就这样结束了……"]
    lines += [
        f"第{n}章 {title}" for n, title in enumerate(["起源", "发展", "变化", "结果", "影响", "评价", "附录", "索引"])
    ]
    zh = pa.table({"text": ["\n".join(lines)], "language": ["zh"]})  # 2 of 10 lines end a sentence
    assert fineweb_quality(zh, FineWebQualityConfig())["drop_reason"].to_pylist() == [None]
    fw2_zh = FineWebQualityConfig(
        fineweb2_languages=False,
        line_punct_thr=0.106,
        short_line_thr=None,
        char_duplicates_ratio=0.1,
        new_line_ratio=0.178,
    )
    assert fineweb_quality(zh, fw2_zh)["drop_reason"].to_pylist() == ["line_punct_ratio"]
