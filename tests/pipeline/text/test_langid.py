import json
import re
import socket

import pyarrow as pa
import pytest
import zstandard

from pipeline.schema import IMAGE_MARKER
from pipeline.text import langid as langid_module
from pipeline.text.langid import UNKNOWN, LangIdConfig, langid, predict, prepare
from pipeline.web.html_extract import ExtractConfig, extract_html
from tests.conftest import REPO

# Article 1 of the Universal Declaration of Human Rights in its official translations.
UDHR = {
    "en": "All human beings are born free and equal in dignity and rights. They are endowed with reason and "
    "conscience and should act towards one another in a spirit of brotherhood.",
    "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen "
    "begabt und sollen einander im Geist der Brüderlichkeit begegnen.",
    "fr": "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison et "
    "de conscience et doivent agir les uns envers les autres dans un esprit de fraternité.",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью "
    "и должны поступать в отношении друг друга в духе братства.",
    "zh": "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。",
    "ja": "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。人間は、理性と良心とを"
    "授けられており、互いに同胞の精神をもって行動しなければならない。",
    "ar": "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. "
    "وقد وهبوا عقلاً وضميرًا وعليهم أن يعامل بعضهم بعضًا بروح الإخاء.",
}


def _table(texts: list[str], metas: list[str | None] | None = None) -> pa.Table:
    metas = metas or [json.dumps({"url": f"https://example.org/{i}"}) for i in range(len(texts))]
    return pa.table({"text": pa.array(texts, pa.large_string()), "meta": pa.array(metas, pa.string())})


def test_model_loads_from_the_package_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("language id tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    langid_module._model.cache_clear()
    assert predict([UDHR["de"]]) == [("de", pytest.approx(0.9992, abs=1e-3))]


@pytest.mark.parametrize("lang", sorted(UDHR))
def test_udhr_sentences(lang):
    ((found, score),) = predict([UDHR[lang]])
    assert found == lang and score > 0.9


def test_sample_pages_in_seven_languages():
    """The Debian Reference's index page in each of its translations in the sample, as the reader extracts it."""
    with open(f"{REPO}/data/sample/web/pages.jsonl.zst", "rb") as f:
        records = [json.loads(line) for line in zstandard.ZstdDecompressor().stream_reader(f).read().splitlines()]
    url_lang = re.compile(r"debian-reference/index\.([a-z]{2})(?:-[a-z]{2})?\.html$")
    pages = [(m[1], extract_html(r["html"], ExtractConfig())[0]) for r in records if (m := url_lang.search(r["url"]))]
    assert sorted(lang for lang, _ in pages) == ["de", "en", "es", "fr", "it", "ja", "zh"]
    assert [lang for lang, _ in predict([text for _, text in pages])] == [lang for lang, _ in pages]


def test_empty_and_marker_only_texts_are_unknown():
    assert predict(["", "  \n\t ", f"{IMAGE_MARKER}\n{IMAGE_MARKER}"]) == [(UNKNOWN, 0.0)] * 3
    assert predict([f"{IMAGE_MARKER} {UDHR['de']} {IMAGE_MARKER}"])[0][0] == "de"


def test_prepare_samples_windows_across_the_text():
    text = "a" * 1000 + "b" * 1000 + "c" * 1000
    line = prepare(text, max_chars=300, windows=3)
    assert line == "a" * 100 + " " + "b" * 100 + " " + "c" * 100
    assert prepare(text, max_chars=300, windows=1) == "a" * 300
    assert prepare("one\ntwo", max_chars=None) == "one two"


def test_windows_judge_the_body_not_only_the_head():
    text = "\n".join(["Navigation Home Download Search Contact"] * 60 + [UDHR["fr"]] * 60)
    assert predict([text], max_chars=2000, windows=1)[0][0] == "en"
    assert predict([text], max_chars=2000, windows=5)[0][0] == "fr"


def test_stage_records_language_and_keeps_other_meta():
    table = _table([UDHR["en"], UDHR["ru"]], ['{"title": "Ünïcode", "url": "u"}', None])
    out = langid(table, LangIdConfig())
    assert out["language"].to_pylist() == ["en", "ru"]
    assert out["drop_reason"].to_pylist() == [None, None]
    metas = [json.loads(m) for m in out["meta"].to_pylist()]
    assert metas[0]["title"] == "Ünïcode" and metas[0]["url"] == "u"
    assert [(m["language"], m["language_score"]) for m in metas] == predict([UDHR["en"], UDHR["ru"]])
    assert out["text"].equals(table["text"])


def test_existing_language_column_is_replaced():
    table = _table([UDHR["ja"]]).append_column("language", pa.array([None], pa.string()))
    out = langid(table, LangIdConfig())
    assert out.schema.names.count("language") == 1 and out["language"].to_pylist() == ["ja"]


def test_fineweb_setting_drops_with_reasons():
    # "ok" is English to the model, but only at 0.63: below FineWeb's 0.65.
    table = _table([UDHR["en"], UDHR["de"], "ok", ""])
    out = langid(table, LangIdConfig(languages=["en"], min_score=0.65))
    assert out["language"].to_pylist() == ["en", "de", "en", UNKNOWN]
    assert out["drop_reason"].to_pylist() == [None, "language_not_kept", "language_score", "language_not_kept"]
    only_score = langid(table, LangIdConfig(min_score=0.65))["drop_reason"].to_pylist()
    assert only_score == [None, None, "language_score", "language_score"]


def test_each_language_is_held_to_its_own_calibrated_minimum():
    table = langid_module.calibrated_min_scores()
    assert table["en"] == 0.65  # FineWeb's own value on this model
    assert {"zh", "ja", "de", "fr", "ru", "es"} <= set(table) and all(0.3 <= v <= 0.9 for v in table.values())
    texts = [
        "我们在北京大学学习自然语言处理，这是一个很好的机会。" * 3,  # plainly Chinese
        "使用 apt-get install 安装软件包，然后运行 make 命令编译 the program again and install it",  # mixed: unsure
    ]
    t = pa.table({"id": ["a", "b"], "text": texts, "meta": [None, None]})
    scores = [s for _, s in predict(texts)]
    out = langid(t, LangIdConfig(language_min_scores={"zh": 0.9})).to_pylist()
    assert out[0]["language"] == "zh" and out[0]["drop_reason"] is None and scores[0] >= 0.9
    assert out[1]["drop_reason"] == ("language_score" if out[1]["language"] == "zh" and scores[1] < 0.9 else None)
    assert out[1]["language"] == "zh" and scores[1] < 0.9  # the case this test is about
    lax = langid(t, LangIdConfig(language_min_scores=None)).to_pylist()
    assert [r["drop_reason"] for r in lax] == [None, None]  # without the table, scores are only recorded
    books = t.append_column("source", pa.array(["book", "book"]))
    assert langid(books, LangIdConfig(language_min_scores={"zh": 0.9}))["drop_reason"].to_pylist() == [None, None]
    web = t.append_column("source", pa.array(["web", "web"]))
    assert langid(web, LangIdConfig(language_min_scores={"zh": 0.9}))["drop_reason"].to_pylist()[1] == "language_score"
