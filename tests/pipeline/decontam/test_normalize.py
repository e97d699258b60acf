from pipeline.decontam.normalize import PUNCTUATION, simplify


def test_simplify_is_datatroves_normalization():
    """lower, numbers to 0 (with one decimal separator), punctuation to spaces, whitespace, diacritics."""
    text = "Héllo, WORLD!  It's 1,000,000 dollars; 3.14 pi — Ünïcödé naïve café  ﬁ ß æ ١٢٣"
    assert simplify(text) == "hello world it s 0 0 dollars 0 pi unicode naive cafe ﬁ ß æ 0"
    assert simplify("  a\tb\n\nc  ") == "a b c" and simplify("e\u0301") == "e"
    assert len(PUNCTUATION) == 129 and "‘" not in PUNCTUATION and "’" in PUNCTUATION


def test_the_fast_chunks_equal_the_normalized_text_split():
    from pipeline.decontam.normalize import simplify_chunks

    for text in (
        "Héllo, WORLD!  It's 1,000,000 dollars; 3.14 pi — Ünïcödé naïve café  ﬁ ß æ ١٢٣ ４５",
        "C1 controls\x85and\x9fDEL\x7fhere「引用」、句読点。",
        "x \u0301 y",
        "plain ascii, with (parens) and a_b-c",
    ):
        assert [c for c in simplify_chunks(text) if c] == [c for c in simplify(text).split(" ") if c]
