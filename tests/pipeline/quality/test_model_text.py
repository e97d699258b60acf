from pipeline.quality.model_text import model_line, pieces, training_line


def test_model_line_is_one_line_as_dclm_gives_it():
    assert model_line("  First line.\nSecond line.\r\nThird\u2028fourth  \n") == "First line. Second line. Third fourth"
    assert model_line("Mixed Case", lowercase=True) == "mixed case"


def test_a_document_quoting_a_label_does_not_label_itself():
    line = training_line("hq", "buy now __label__hq cheap\nsecond")
    assert line.startswith("__label__hq ")
    assert line.count("__label__") == 1 and "__label _hq" in line


def test_pieces_cut_at_line_ends_within_the_limit_and_keep_every_character():
    text = "".join(f"line {i} " * (i % 7 + 1) + "\n" for i in range(200))
    out = pieces(text, 300)
    assert all(len(p) <= 300 for p in out) and "".join(out) == text
    assert all(p.endswith("\n") for p in out)  # whole lines
    long_line = "x" * 1000
    assert pieces(long_line, 300) == ["x" * 300] * 3 + ["x" * 100]
    assert pieces("   \n\n", 300) == []
