import pyarrow as pa

from pipeline.text.clean import CleanConfig, LengthConfig, clean, clean_text, min_length


def test_clean_text_nfc_controls_whitespace():
    raw = "Cafe\u0301\x00 bar  \r\nline\x1b two\t \n\n\n\n\nend\ufeff  "
    assert clean_text(raw, CleanConfig()) == "Caf\u00e9 bar\nline two\n\n\nend"


def test_clean_keeps_indentation_and_tabs():
    code = "def f():\n\tif x:\n        return 1\n"
    assert clean_text(code, CleanConfig()) == code.strip()


def test_clean_and_min_length_on_a_table():
    table = pa.table({"text": pa.array(["  ok  ", "\x00\x01 ", "e\u0301"], pa.large_string())})
    cleaned = clean(table, CleanConfig())
    assert cleaned["text"].to_pylist() == ["ok", "", "\u00e9"]
    assert min_length(cleaned, LengthConfig(min_chars=1))["drop_reason"].to_pylist() == [None, "too_short", None]


def test_fullwidth_letters_and_digits_become_ascii_but_cjk_punctuation_stays():
    from pipeline.text.clean import CleanConfig, clean_text

    cfg = CleanConfig()
    text = "使用ＡＰＴ２．０版本，全角！（括号）ｶﾞｲﾄﾞ「引用」"
    assert clean_text(text, cfg) == "使用APT2．0版本，全角！（括号）ガイド「引用」"  # ． is punctuation: kept
    assert clean_text(text, cfg.model_copy(update={"fullwidth_to_ascii": False})) == text


def test_a_line_of_ideographic_spaces_is_an_empty_line():
    from pipeline.text.clean import CleanConfig, clean_text

    # the sample's 呐喊 separates paragraphs by lines holding only a paragraph indent
    text = "自序\n　　我在年青时候也曾经做过许多梦。\n \u3000\u3000\n　　所谓回忆者。\u00a0\n"
    assert clean_text(text, CleanConfig()) == "自序\n　　我在年青时候也曾经做过许多梦。\n\n　　所谓回忆者。"
