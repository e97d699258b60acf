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
