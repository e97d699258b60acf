import numpy as np
import pyarrow as pa

from pipeline.text.batch_words import duplicates, split_lines, words
from pipeline.text.spacy_words import chunk_words

# What spaCy 3.8's blank English tokenizer gives for these lines (datatrove's word split).
SPACY = {
    "Hello, world!": ["Hello", ",", "world", "!"],
    "It's a well-known fact (really).": ["It", "'s", "a", "well", "-", "known", "fact", "(", "really", ")", "."],
    "Don't stop: e.g. U.S.A. costs $3.50 at 10am...": [
        "Do",
        "n't",
        "stop",
        ":",
        "e.g.",
        "U.S.A.",
        "costs",
        "$",
        "3.50",
        "at",
        "10",
        "am",
        "...",
    ],
    "See https://example.com/a-b?x=1.": ["See", "https://example.com/a-b?x=1", "."],
    "Call me at foo@bar.com; ok?": ["Call", "me", "at", "foo@bar.com", ";", "ok", "?"],
    "os.path.join(a, b)": ["os.path.join(a", ",", "b", ")"],
    "Mr. Smith earned 5km/h in 1999-2000.": ["Mr.", "Smith", "earned", "5", "km/h", "in", "1999", "-", "2000", "."],
}


def _words_of(texts: list[str]) -> list[list[str]]:
    w = words(pa.array(texts, pa.large_string()))
    distinct = w.distinct.to_pylist()
    out: list[list[str]] = [[] for _ in texts]
    for r, i in zip(w.row.tolist(), w.ids.tolist()):
        out[r].append(distinct[i])
    return out


def test_words_are_spacys():
    assert _words_of(list(SPACY)) == list(SPACY.values())


def test_words_keep_rows_apart_and_skip_empty_texts():
    assert _words_of(["one two", "", "three\n\nfour."]) == [["one", "two"], [], ["three", "four", "."]]


def test_chunk_words_special_cases():
    assert chunk_words("'d'") == ("'d", "'")  # spaCy's special-case matcher rejoins "'" + "d"
    assert chunk_words("id.") == ("i", "d.")
    assert chunk_words("Co.,Inc.") == ("Co.", ",Inc", ".")


def test_split_lines_is_str_splitlines():
    texts = ["a\nb\r\nc\rd\u2028e", "", "tail\n", "x\n\n"]
    lines, row = split_lines(pa.array(texts, pa.large_string()))
    got: list[list[str]] = [[] for _ in texts]
    for r, line in zip(row.tolist(), lines.to_pylist()):
        got[r].append(line)
    assert got == [t.splitlines() for t in texts]


def test_duplicates_count_every_later_occurrence_with_its_length():
    values = pa.array(["Home", "News", "Home", "Home", "Home", "Contact"])
    count, chars = duplicates(values, np.array([0, 0, 0, 0, 1, 1]), 3)
    assert count.tolist() == [2, 0, 0]  # row 1's "Home" is its first
    assert chars.tolist() == [8, 0, 0]


def test_words_of_texts_seen_in_the_last_call_are_reused_correctly():
    first = ["It's late.", "Walk on."]
    assert _words_of(first) == [["It", "'s", "late", "."], ["Walk", "on", "."]]
    assert _words_of(["Walk on.", "New text here!", "It's late."]) == [
        ["Walk", "on", "."],
        ["New", "text", "here", "!"],
        ["It", "'s", "late", "."],
    ]


def test_stages_of_one_batch_share_its_words_only_inside_shared_words(monkeypatch):
    from pipeline.text import batch_words

    texts = pa.array(["the cat sat on the mat", "a dog"])
    splits = []
    real = batch_words._split_words
    monkeypatch.setattr(batch_words, "_split_words", lambda t, lang=None: splits.append(len(t)) or real(t, lang))
    with batch_words.shared_words():
        first, again = words(texts), words(texts)
    assert splits == [2]  # the second stage reuses the first one's words
    assert again.ids.tolist() == first.ids.tolist() and again.distinct.equals(first.distinct)
    words(texts)  # outside a batch nothing is remembered
    assert splits == [2, 2]
