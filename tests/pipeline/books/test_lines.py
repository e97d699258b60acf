from pipeline.books.lines import blocks, drop_lines, width


def test_drop_lines_joins_a_paragraph_split_by_a_page_break():
    lines = ["she went down the", "", "12", "", "hole after the Rabbit.", "", "", "13", "", "", "Then she fell."]
    assert drop_lines(lines, {2, 7}) == ["she went down the", "hole after the Rabbit.", "", "Then she fell."]


def test_blocks_are_runs_of_non_blank_lines():
    assert blocks(["a", "b", "", "  ", "c", ""]) == [(0, 2), (4, 5)]


def test_width_counts_wide_characters_twice():
    assert [width(s) for s in ("abc", "caf\u00e9", "日本語", "ｆｕｌｌ", "A日")] == [3, 4, 6, 8, 3]
