"""Words per language: Chinese through jieba as datatrove's FineWeb-2 tokenizer splits it, the
documented character fallback for Japanese, Korean and Thai, English as before."""

import os

import pytest

from pipeline.text.chinese_words import jieba_words
from pipeline.text.segmenters import (
    character_words,
    chinese_words,
    japanese_words,
    segmenter_for,
    space_delimited_words,
)

SAMPLE_BOOKS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "sample", "books", "books.jsonl.gz")


def test_chinese_is_split_into_jieba_words_without_whitespace():
    text = "我们在北京大学学习自然语言处理，这是一个很好的机会。"
    assert chinese_words(text) == [
        "我们", "在", "北京大学", "学习", "自然语言", "处理", "，", "这是", "一个", "很", "好", "的", "机会", "。",
    ]  # fmt: skip
    assert chinese_words("Debian 参考手册\n\n第 1 章  GNU/Linux 教程") == [
        "Debian", "参考手册", "第", "1", "章", "GNU", "/", "Linux", "教程",
    ]  # fmt: skip


def test_real_chinese_prose_splits_into_words_and_loses_only_whitespace():
    # the sample's Debian 参考手册 preface (debian-reference pr01.zh-cn.html), as curated
    text = (
        "本书的目标读者：愿意学习 shell 脚本，但是不准备为了理解 GNU/Linux 系统是如何运作的而阅读其所有 C 语言"
        "源代码的人。\n\nDebian 系统本身是一个变化的事物。这导致其文档难于及时更新并且正确。"
    )
    words = chinese_words(text)
    assert len(words) < 0.7 * sum(not c.isspace() for c in text)  # words of several characters, not one each
    assert "".join(words) == "".join(text.split())  # nothing lost or added but whitespace


def test_unspaced_scripts_without_their_segmenter_fall_back_to_characters():
    assert character_words("日本語のテキスト abc-def") == [
        "日",
        "本",
        "語",
        "の",
        "テ",
        "キ",
        "ス",
        "ト",
        "abc",
        "-",
        "def",
    ]
    assert character_words("한국어 (text)") == ["한", "국", "어", "(", "text", ")"]


def test_each_language_gets_its_segmenter():
    assert segmenter_for("zh") is chinese_words and segmenter_for("ja") is japanese_words
    assert segmenter_for("ko") is character_words and segmenter_for("th") is character_words
    assert segmenter_for("en") is space_delimited_words and segmenter_for(None) is space_delimited_words
    assert space_delimited_words("Don't stop.") == ["Do", "n't", "stop", "."]  # the English splitter, as before


def test_japanese_is_split_by_sudachi_mode_a_and_long_text_in_pieces():
    assert japanese_words("吾輩は猫である。 名前はまだ無い。\nどこで  生れたか") == [
        "吾輩", "は", "猫", "で", "ある", "。", "名前", "は", "まだ", "無い", "。", "どこ", "で", "生れ", "た", "か",
    ]  # fmt: skip
    long = "今日は良い天気です。\n" * 5000  # 150,000 UTF-8 bytes: Sudachi alone refuses input this long
    words = japanese_words(long)
    assert len(words) == 5000 * 6 and "".join(words) == "".join(long.split())


def test_japanese_numbers_stay_whole_as_spacy_gives_them():
    # Sudachi's numeric-joining plugin (spaCy's Japanese tokenizer has it): "2008", not 2/0/0/8
    assert japanese_words("2008年に10個の64ビット ISO-8859") == [
        "2008", "年", "に", "10", "個", "の", "64", "ビット", "ISO", "-", "8859",
    ]  # fmt: skip


def _sample_book(language: str) -> str:
    import gzip
    import json

    with gzip.open(SAMPLE_BOOKS, "rt", encoding="utf-8") as f:
        return next(d["text"] for d in map(json.loads, f) if d["language"] == language)


def test_chinese_words_equal_jiebas_on_a_real_book_and_mixed_text():
    # the sample's 呐喊 (Lu Xun), Traditional text, and blocks mixing Han with ASCII and C++
    text = _sample_book("zh")[:30_000] + "\n臺灣的資料與後來的發展為人所知。使用dh_make命令，版本3.14或50%的C++與AT&T"
    assert chinese_words(text) == jieba_words(text)
    assert chinese_words("使用dh_make命令 github.com") == ["使用", "dh", "_", "make", "命令", "github", ".", "com"]


def test_spacy_languages_split_as_spacy_does():
    """German keeps E-Mail whole, Russian its abbreviations, as spaCy's own rules do (not the
    English ones); the letters-only shortcut and the long-chunk rule give spaCy's words too."""
    import spacy

    cases = {
        "de": "Die E-Mail-Adresse, z.B. für Build-Depends: siehe Abschnitt 3.2 (usw.) und 10km.",
        "ru": "Т.е. см. раздел 5, т.д. и т.п.; г. Москва",
        "es": "¿Qué es esto? ¡Hola! EE.UU. y la Sra. García",
    }
    for language, text in cases.items():
        expected = [t.text for t in spacy.blank(language).tokenizer(text) if t.text.strip()]
        assert segmenter_for(language)(text) == expected, language
    assert segmenter_for("de")("E-Mail") == ["E-Mail"] and space_delimited_words("E-Mail") == ["E", "-", "Mail"]
    rule = "├" + "─" * 3000 + "┤"  # spaCy's affix search is quadratic on this: the English rules split it
    assert segmenter_for("ru")(rule) == ["├"] + ["─"] * 3000 + ["┤"]
    assert [t.text for t in spacy.blank("ru").tokenizer(rule[:300] + "┤")] == ["├"] + ["─"] * 299 + ["┤"]


@pytest.mark.slow  # spaCy's French rules take ~3 s to load
def test_french_splits_its_elisions_as_spacy_does_on_a_real_book():
    import spacy

    text = _sample_book("fr")[:40_000] + " l’image d’un outil aujourd'hui"
    assert segmenter_for("fr")(text) == [t.text for t in spacy.blank("fr").tokenizer(text) if t.text.strip()]
    assert "l’" in segmenter_for("fr")("l’image")
