from collections import Counter

import pyarrow as pa
import pytest

from pipeline.text.batch_words import words
from pipeline.text.gopher_repetition import GopherRepetitionConfig, gopher_repetition

# Ten lines of a walking guide: what the rules should keep.
PARAS = [
    "The river trail starts at the old mill and follows the water for about six miles.",
    "In spring the path can be muddy, so bring boots and allow extra time for the climb.",
    "Most walkers stop at the wooden bridge, where a bench looks out over the falls.",
    "Dogs are welcome but should stay on a lead near the farm and its sheep.",
    "The cafe at the far end is open on weekends from April to October.",
    "Parking at the mill costs three pounds a day; the bus stops there hourly.",
    "Maps are sold in the village shop, which also rents out walking poles.",
    "After heavy rain the lower path floods, so take the upper route instead.",
    "Children enjoy the stepping stones, though they can be slippery in autumn.",
    "The trail is part of a longer route that runs all the way to the coast.",
]
PAGE = "\n\n".join(PARAS)
SHARE = "Share this walk with a friend"
NEWS = [f"{p} Updated on day {i}." for i, p in enumerate(PARAS)]
# One page per rule: it passes every rule checked before that one and fails it.
DOCS = {
    "empty": "",
    # the same footer paragraph after every other paragraph
    "dup_para_frac": "\n\n".join(p for para in PARAS[:5] for p in (para, SHARE)),
    # one long paragraph printed twice, the rest unique
    "dup_para_char_frac": "\n\n".join(PARAS[:8] + [" ".join(PARAS[8:] * 3)] * 2),
    # a menu repeated on lines inside one paragraph
    "dup_line_frac": "\n".join(p for para in PARAS[:5] for p in (para, "Home", "Walks")),
    # one long line printed twice inside one paragraph
    "dup_line_char_frac": "\n".join(PARAS[:8] + [" ".join(PARAS[8:] * 3)] * 2),
    # "click here" opens every line
    "top_2_gram": "\n".join(
        f"click here {w}"
        for w in [
            "maps",
            "for bus times",
            "to book",
            "to join us",
            "for photos",
            "for the weather",
            "to donate",
            "for more",
        ]
    ),
}
# Menu lines sharing a phrase, made long enough with unique words that only the n-gram of the
# phrase's length passes its threshold.
FILLER = [
    "from the harbour market",
    "near the old stone church",
    "by the river in the park",
    "at the village hall tonight",
    "on the green after lunch",
    "behind the railway station",
    "up at the castle gardens",
    "down by the boat yard",
]


def phrase_lines(phrase: str, pad: list[str]) -> str:
    return "\n".join(
        f"{i + 1}. Our {dish} {phrase} {FILLER[i]}" + pad[i]
        for i, dish in enumerate(
            ["fish pie", "lamb stew", "apple tart", "pea soup", "beef roast", "crab salad", "plum cake", "leek pasta"]
        )
    )


DOCS["top_3_gram"] = phrase_lines("serves twelve guests", [", booked early"] * 8)
DOCS["top_4_gram"] = phrase_lines(
    "serves twelve hungry guests",
    [
        ", with fresh bread and a glass of cider from the orchard",
        ", cooked slowly in a cast iron pot over a wood fire",
        ", baked each morning using apples picked on the estate",
        ", made with peas grown by the allotment society",
        ", carved at the table and served with roast potatoes",
        ", dressed with lemon juice and herbs from our garden",
        ", topped with sugared almonds and a dollop of cream",
        ", tossed in butter with crispy sage and black pepper",
    ],
)
PASSAGE = "bring a warm waterproof jacket because the weather up on the high hills changes quickly"
DOCS["duplicated_5_n_grams"] = f"{PARAS[0]} Always {PASSAGE}.\n{PARAS[2]} We say it again: {PASSAGE}!"


def reasons(texts: list[str], cfg: GopherRepetitionConfig | None = None) -> list[str | None]:
    table = pa.table({"text": pa.array(texts, pa.large_string())})
    return gopher_repetition(table, cfg or GopherRepetitionConfig())["drop_reason"].to_pylist()


def test_guide_is_kept():
    assert reasons([PAGE]) == [None]


@pytest.mark.parametrize("rule", list(DOCS))
def test_each_rule_drops_its_page(rule):
    assert reasons([PAGE, DOCS[rule]]) == [None, rule]


def test_rules_switch_off():
    cfg = GopherRepetitionConfig(
        dup_para_frac=None,
        dup_para_char_frac=None,
        dup_line_frac=None,
        dup_line_char_frac=None,
        top_n_grams={},
        dup_n_grams={},
    )
    assert reasons([DOCS[rule] for rule in DOCS if rule != "empty"], cfg) == [None] * (len(DOCS) - 1)


# datatrove's definitions, written out plainly (gopher_repetition_filter.py): the top n-gram is
# Counter.most_common's (the first seen among ties), counted with overlaps and joined by spaces;
# duplicated n-grams are walked left to right, jumping past each repeat, joined without spaces.
def _words(text: str) -> list[str]:
    w = words(pa.array([text]))
    return [w.distinct[i].as_py() for i in w.ids]


def _top(text: str, n: int) -> float:
    ws = _words(text)
    gram, count = Counter(" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)).most_common(1)[0]
    return len(gram) * count / len(text)


def _dup(text: str, n: int) -> float:
    ws, seen, i, chars = _words(text), set(), 0, 0
    while i < len(ws) - n + 1:
        gram = "".join(ws[i : i + n])
        if gram in seen:
            chars, i = chars + len(gram), i + n
        else:
            seen.add(gram)
            i += 1
    return chars / len(text)


TRICKY = [
    "la la la la la la la la la la la la la, said the chorus, la la la la la la la la la la la la",
    "Buy now. Buy now. Sale ends. Buy now, sale ends soon. Sale. Buy now. Buy now. Buy now. Sale ends.",
    # "ab c" and "a bc" join to the same "abc": datatrove counts them as one n-gram
    "x ab c d e f g h i j y z ab c d e f g h i j w a bc d e f g h i j v",
    DOCS["duplicated_5_n_grams"],
]


@pytest.mark.parametrize("n", range(2, 11))
def test_n_gram_fractions_are_datatroves_exactly(n):
    off = {"dup_para_frac": None, "dup_para_char_frac": None, "dup_line_frac": None, "dup_line_char_frac": None}
    for text in TRICKY:
        value = _top(text, n) if n <= 4 else _dup(text, n)
        for margin, expected in ((-1e-9, f"top_{n}_gram" if n <= 4 else f"duplicated_{n}_n_grams"), (1e-9, None)):
            rule = (
                {"top_n_grams": {n: value + margin}, "dup_n_grams": {}}
                if n <= 4
                else {"top_n_grams": {}, "dup_n_grams": {n: value + margin}}
            )
            assert reasons([text], GopherRepetitionConfig(**off, **rule)) == [expected], (text, n, value)
