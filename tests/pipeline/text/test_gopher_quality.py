import pyarrow as pa
import pytest

from pipeline.text.batch_words import words
from pipeline.text.gopher_quality import GopherQualityConfig, gopher_quality

# A short walking-guide paragraph: what the rules should keep.
PROSE = (
    "The river trail starts at the old mill and follows the water for about six miles. In spring the path "
    "can be muddy, so bring boots and allow extra time. Most walkers stop at the wooden bridge, where there "
    "is a bench with a view of the falls. Dogs are welcome but should stay on a lead near the farm, and "
    "the cafe at the far end is open on weekends from April to October."
)
# One page per rule: it passes every rule checked before that one and fails it.
DOCS = {
    "too_few_words": "Thanks for reading. See you next week!",
    "short_words": "Game 4, round 2:\n" + " ".join(f"{i}. e4 e5" if i % 2 else f"{i}. Nf3 Nc6" for i in range(1, 31)),
    "long_words": "SHA-256 checksums of the release files:\n"
    + "\n".join(f"{(str(i) * 64)[:64]} release-{i}.tar.gz" for i in range(1, 40)),
    "hash_ratio": PROSE + "\n#hiking #walks #nature #river #uk #spring #views #trail #outdoors #weekend #bridge "
    "#falls #mill #cafe #dogs #boots",
    "ellipsis_ratio": "Well... I guess... maybe... we could... try again... later... or not... who knows... "
    "the weather... the trains... the money... everything... " + PROSE,
    "bullet_lines": "\n".join(
        f"- {item} for the trip, packed in the blue bag"
        for item in ["boots", "socks", "map", "compass", "water", "snacks", "jacket", "hat", "gloves", "torch"]
    ),
    "ellipsis_lines": "\n".join(
        f"{title} and what the council said about it at the meeting on Tuesday evening…"
        if i % 2 == 0
        else f"{title}, reported by our local news desk with photos from the day."
        for i, title in enumerate(
            [
                "New bridge opens",
                "Mill to become museum",
                "Cafe wins award",
                "Trail closed for repairs",
                "Falls reach record level",
                "Farm shop expands",
                "School walk raises funds",
                "Spring fair returns",
            ]
        )
    ),
    "alpha_words": "Route 42 timetable\n"
    + "\n".join(
        f"{day} " + " ".join(f"{h:02d}:{m}" for h in range(7, 19, 2))
        for day, m in zip(
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Hol"], ["05", "15", "25", "35", "45", "10", "20", "30"]
        )
    ),
    "stop_words": "Walking boots\nWaterproof brown leather upper\nVibram rubber sole\nPadded ankle collar\n"
    "Gusseted tongue keeps water out\nBreathable mesh lining\nTwo pairs laces included\n"
    "Great for hill walking, muddy trails, river paths, farm tracks, moorland\n"
    "Suits winter hiking, summer rambles, day trips, long distance routes\n"
    "Free delivery\nFree returns\nFive year guarantee\nSizes 5 - 12\nColours brown, black, olive",
}
# The config field that turns each rule off.
SWITCH = {
    "too_few_words": "min_doc_words",
    "short_words": "min_avg_word_length",
    "long_words": "max_avg_word_length",
    "hash_ratio": "max_symbol_word_ratio",
    "ellipsis_ratio": "max_symbol_word_ratio",
    "bullet_lines": "max_bullet_lines_ratio",
    "ellipsis_lines": "max_ellipsis_lines_ratio",
    "alpha_words": "min_alpha_words_ratio",
    "stop_words": "min_stop_words",
}


def reasons(texts: list[str], cfg: GopherQualityConfig | None = None) -> list[str | None]:
    table = pa.table({"text": pa.array(texts, pa.large_string())})
    return gopher_quality(table, cfg or GopherQualityConfig())["drop_reason"].to_pylist()


def test_prose_is_kept():
    assert reasons([PROSE]) == [None]


@pytest.mark.parametrize("rule", list(DOCS))
def test_each_rule_drops_its_page_and_only_it(rule):
    assert reasons([DOCS[rule]]) == [rule]
    assert reasons([DOCS[rule]], GopherQualityConfig(**{SWITCH[rule]: None})) != [rule]


def test_too_many_words_with_a_tuned_limit():
    assert reasons([PROSE], GopherQualityConfig(max_doc_words=60)) == ["too_many_words"]
    assert reasons([PROSE], GopherQualityConfig(max_doc_words=None)) == [None]


def test_stop_words_are_case_sensitive_and_distinct():
    shouting = PROSE.replace(" the ", " THE ").replace(" and ", " AND ").replace("The ", "THE ")
    shouting = shouting.replace(" to ", " TO ").replace(" of ", " OF ").replace(" with ", " WITH ")
    assert reasons([shouting]) == ["stop_words"]


def test_a_script_spacy_does_not_list_splits_at_its_hyphens():
    # Real place names, Georgian script. spaCy's infix rule splits a hyphen only between letters of
    # the scripts it lists, and Georgian is not one of them: datatrove reads "თბილისი-ბათუმი" as one
    # symbol-free word, 49 in all, under Gopher's 50, and drops the page (gopher_short_doc). We take
    # letters from Python's Unicode tables, read two words and a hyphen, count 50 and keep it.
    page = (
        "The night train from Tbilisi to Batumi (თბილისი-ბათუმი) leaves at ten and reaches the coast "
        "in the morning. Book a sleeper if you can, since the seats are hard and the carriages "
        "are often full. Tickets can be bought at the station or online, and the staff speak English."
    )
    w = words(pa.array([page]))
    assert [w.distinct[i].as_py() for i in w.ids[7:12]] == ["(", "თბილისი", "-", "ბათუმი", ")"]
    assert reasons([page]) == [None]
