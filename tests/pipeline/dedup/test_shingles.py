import random
import re
import unicodedata

import numpy as np
import opencc
import pytest

import pipeline.dedup.shingles as shingles_mod
from pipeline.dedup.shingles import (
    ShingleConfig,
    cut,
    jaccard,
    normalize,
    normalized_codepoints,
    sample,
    shingle_hashes,
    shingle_sets,
)
from tests.conftest import stdlib_sources

# Characters that stress normalization: every kind of space, controls, punctuation and symbols,
# compatibility forms NFKC folds (full-width, ligatures, superscripts, roman numerals, ¨ → space +
# combining mark), case pairs that change length when lowered, combining marks, other scripts.
POOL = (
    list("abcXYZ019 .,;:!?-'\"()[]{}<>/\\@#$%^&*_+=|~`")
    + list("\t\n\r\x0b\x0c\x1c\x1f\x85\x00\x01")
    + list("\xa0\u1680\u2003\u2028\u2029\u202f\u3000\u200b\u00ad")
    + list("ＡＢｃ１ﬁﬂﬀ²①Ⅻⅻẞİ™©€¨´")
    + list("\u0301\u0308éÉñßçøÆ")
    + list("汉字。、！")
    + list("नमस्ते")
    + list("😀👍🏽")
    + list("«»—–…•")
)


def _reference_normalize(text: str, cfg: ShingleConfig) -> str:
    """Normalization spelled out one character at a time: separators become one space between words."""
    if cfg.normalize != "none":
        text = unicodedata.normalize(cfg.normalize, text)
    if cfg.lowercase:
        text = text.lower()
    separators = "ZPS" if cfg.strip_punctuation else "Z"
    spaced = "".join(" " if c.isspace() or c == "\x00" or unicodedata.category(c)[0] in separators else c for c in text)
    return " ".join(w for w in spaced.split(" ") if w)


def _unit(text: str, cfg: ShingleConfig) -> tuple[str, int]:
    """Words, or characters for a text whose letters are a fifth or more Han, kana, Hangul, Thai."""
    if cfg.unit != "auto":
        return cfg.unit, cfg.n
    letters = [c for c in text if re.match(r"[^\W\d_]", c)]
    scripts = (
        ("\u0e00", "\u0e7f"),
        ("\u3040", "\u30ff"),
        ("\u3400", "\u4dbf"),
        ("\u4e00", "\u9fff"),
        ("\uac00", "\ud7af"),
    )
    unspaced = [c for c in letters if any(a <= c <= b for a, b in (*scripts, ("\uf900", "\ufaff")))]
    return ("char", cfg.char_n) if letters and len(unspaced) >= cfg.unspaced_share * len(letters) else ("word", cfg.n)


def _ngrams(text: str, cfg: ShingleConfig) -> list[tuple[str, ...]]:
    """The shingles as tuples of units, in document order (fewer units than n: one shingle of all)."""
    if cfg.chinese_key != "none" and re.search("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", text):
        text = opencc.OpenCC(cfg.chinese_key).convert(text)
    unit, n = _unit(text, cfg)
    norm = _reference_normalize(text, cfg)
    units = (norm.split(" ") if norm else []) if unit == "word" else list(norm)
    if not units:
        return []
    return [tuple(units[i : i + n]) for i in range(max(len(units) - n + 1, 1))]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return stdlib_sources("json/*.py") + stdlib_sources("textwrap.py") + stdlib_sources("html/__init__.py")


def test_normalize_known_answers():
    cfg = ShingleConfig()
    assert normalize("ÀÉÎ Ünïcode", cfg) == "àéî ünïcode"
    assert normalize("ＦＵＬＬ　ｗｉｄｔｈ ﬁne ﬂow oﬀ x² ① Ⅻ", cfg) == "full width fine flow off x2 1 xii"
    assert normalize("a+b=c; «quoted» — $5 © 😀 end", cfg) == "a b c quoted 5 end"
    assert normalize("\n\t  lead and\u00a0\u2003trail \r\n", cfg) == "lead and trail"
    assert normalize("", cfg) == "" and normalize(" \t\n ", cfg) == "" and normalize("…!?", cfg) == ""
    assert normalize("ＡＢ", ShingleConfig(normalize="none")) == "ａｂ"  # no folding without NFKC
    assert normalize("Some-Thing,  else!", ShingleConfig(strip_punctuation=False)) == "some-thing, else!"
    assert normalize("Some-Thing", ShingleConfig(lowercase=False)) == "Some Thing"


@pytest.mark.parametrize(
    "cfg",
    [
        ShingleConfig(),
        ShingleConfig(normalize="NFC", strip_punctuation=False),
        ShingleConfig(normalize="none", lowercase=False),
    ],
)
def test_normalize_equals_the_reference_on_random_and_real_text(cfg, texts):
    rng = random.Random(3)
    fuzz = ["".join(rng.choice(POOL) for _ in range(rng.randrange(0, 24))) for _ in range(400)]
    batch = fuzz + [t[:4000] for t in texts]
    cp, bounds = normalized_codepoints(batch, cfg)
    for i, text in enumerate(batch):  # normalized in one batch: no space or word leaks between texts
        got = cp[bounds[i] : bounds[i + 1]].tobytes().decode("utf-32-le")
        assert got == _reference_normalize(text, cfg), repr(text)
        assert not got.startswith(" ") and not got.endswith(" ") and "  " not in got


@pytest.mark.parametrize(
    "cfg",
    [
        ShingleConfig(),
        ShingleConfig(n=1),
        ShingleConfig(n=3, strip_punctuation=False),
        ShingleConfig(unit="char", n=5),
        ShingleConfig(unit="char", n=1),
    ],
)
def test_one_hash_per_shingle_and_equal_hashes_exactly_for_equal_ngrams(cfg, texts):
    """Across documents: two shingles hash alike iff they are the same n-gram (no 64-bit collision
    expected in a few hundred thousand), wherever each sits in its document or in the batch."""
    rng = random.Random(5)
    fuzz = ["".join(rng.choice(POOL) for _ in range(rng.randrange(0, 40))) for _ in range(300)]
    batch = ["", "?! …", "Two words.", "x"] + fuzz + texts
    hashes, offsets = shingle_hashes(batch, cfg)
    seen: dict[int, tuple[str, ...]] = {}
    for i, text in enumerate(batch):
        grams = _ngrams(text, cfg)
        assert offsets[i + 1] - offsets[i] == len(grams), i
        for h, g in zip(hashes[offsets[i] : offsets[i + 1]].tolist(), grams):
            assert seen.setdefault(h, g) == g
    assert len(set(seen.values())) == len(seen)


def test_a_word_ngram_hashes_the_same_in_another_document(texts):
    words = normalize(texts[0], ShingleConfig()).split()
    gram = words[200:205]
    host = "Some unrelated preamble here. " + " ".join(words[200:230])
    other = "...and  THEN: " + ", ".join(w.upper() for w in gram) + "; fin"
    (a, b, c) = shingle_sets([texts[0], host, other], ShingleConfig())
    alone = shingle_hashes([" ".join(gram)], ShingleConfig())[0]
    assert len(alone) == 1 and alone[0] in a and alone[0] in b and alone[0] in c
    assert len(np.intersect1d(a, b)) == 26  # the 30 shared words: 26 shared 5-grams


@pytest.mark.parametrize("unit", ["word", "char"])
def test_hashes_do_not_depend_on_batching_or_windows(unit, texts, monkeypatch):
    cfg = ShingleConfig(unit=unit, n=5 if unit == "word" else 7)
    batch = ["", texts[0], "short", "", "?!", *texts[1:], "x" * 50 + " y" * 30, ""]
    whole, offsets = shingle_hashes(batch, cfg)
    for i, text in enumerate(batch):  # alone, each text gives what it gives in the batch
        assert shingle_hashes([text], cfg)[0].tolist() == whole[offsets[i] : offsets[i + 1]].tolist()
    lengths = np.cumsum([len(t) for t in batch])
    for batch_chars, window in [(1, 12), (int(lengths[1]), 1 << 20), (int(lengths[2]) + 1, 64), (7919, 1000)]:
        monkeypatch.setattr(shingles_mod, "BATCH_CHARS", batch_chars)
        monkeypatch.setattr(shingles_mod, "WINDOW", window)
        monkeypatch.setattr(shingles_mod, "_POWERS", [])  # grown again from windows this small
        split, split_offsets = shingle_hashes(batch, cfg)
        assert split_offsets.tolist() == offsets.tolist(), batch_chars
        assert split.tolist() == whole.tolist(), batch_chars


def test_empty_inputs():
    for cfg in (ShingleConfig(), ShingleConfig(unit="char")):
        hashes, offsets = shingle_hashes([], cfg)
        assert len(hashes) == 0 and offsets.tolist() == [0]
        hashes, offsets = shingle_hashes(["", " ", "¿?"], cfg)
        assert len(hashes) == 0 and offsets.tolist() == [0, 0, 0, 0]
    assert [len(s) for s in shingle_sets(["", "a b c d e f"], ShingleConfig())] == [0, 2]


def test_a_document_shorter_than_n_is_one_shingle_of_all_its_units():
    hashes, offsets = shingle_hashes(["Two words.", "two, WORDS", "two words three"], ShingleConfig())
    assert np.diff(offsets).tolist() == [1, 1, 1] and hashes[0] == hashes[1] != hashes[2]
    hashes, offsets = shingle_hashes(["abc", "a b", "abcdefgh"], ShingleConfig(unit="char", n=6))
    assert np.diff(offsets).tolist() == [1, 1, 3] and len(set(hashes.tolist())) == 5


def _set_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _edit(text: str, every: int) -> str:
    return " ".join("EDITED" if i % every == 0 else w for i, w in enumerate(text.split()))


def test_jaccard_equals_python_set_jaccard_on_real_text(texts):
    cfg = ShingleConfig()
    words = texts[0].split()
    docs = [
        texts[0],
        _edit(texts[0], 40),
        _edit(texts[0], 7),
        " ".join(words[: len(words) // 2]),
        texts[1],
        texts[2],
        texts[0] + texts[1],
        "",
        "too short",
    ]
    sets = shingle_sets(docs, cfg)
    grams = [set(_ngrams(d, cfg)) for d in docs]
    for i in range(len(docs)):
        assert len(sets[i]) == len(grams[i]) and (np.diff(sets[i].astype(np.float64)) > 0).all()
        for j in range(len(docs)):
            assert jaccard(sets[i], sets[j]) == _set_jaccard(grams[i], grams[j]), (i, j)
    assert 0.8 < jaccard(sets[0], sets[1]) < 0.9 and jaccard(sets[0], sets[2]) < 0.5
    assert jaccard(sets[0], sets[3]) == len(sets[3]) / len(sets[0])  # a prefix: its shingles are a subset


def test_jaccard_on_random_sets_including_the_extremes():
    rng = np.random.default_rng(11)
    top = np.uint64((1 << 64) - 1)
    for size_a, size_b, shared in [
        (0, 0, 0),
        (0, 5, 0),
        (1, 1, 1),
        (1, 1, 0),
        (50, 3000, 20),
        (400, 400, 400),
        (1000, 10, 10),
    ]:
        common = rng.integers(0, 1 << 63, shared, dtype=np.uint64)
        a = np.unique(np.r_[common, rng.integers(0, 1 << 63, size_a - shared, dtype=np.uint64) | np.uint64(1 << 63)])
        b = np.unique(np.r_[common, rng.integers(0, 1 << 63, size_b - shared, dtype=np.uint64)])
        if size_a > shared:  # the largest hash, present in one set only
            a = np.unique(np.r_[a[:-1], top])
        want = _set_jaccard(set(a.tolist()), set(b.tolist()))
        assert jaccard(a, b) == jaccard(b, a) == want, (size_a, size_b, shared)


def test_cut_keeps_the_lowest_part_of_the_hash_space():
    h = np.array([0, 5, (1 << 62) - 1, 1 << 62, 1 << 63, (1 << 64) - 1], dtype=np.uint64)
    assert cut(h, 0).tolist() == h.tolist()
    assert cut(h, 1).tolist() == [0, 5, (1 << 62) - 1, 1 << 62]  # below 2^63
    assert cut(h, 2).tolist() == [0, 5, (1 << 62) - 1]  # below 2^62
    assert cut(h, 61).tolist() == [0, 5] and cut(h, 64).tolist() == [0]
    assert len(cut(np.zeros(0, np.uint64), 5)) == 0


def test_cut_commutes_with_intersection_so_the_sampled_jaccard_is_consistent():
    rng = np.random.default_rng(2)
    a = np.unique(rng.integers(0, 1 << 64, 5000, dtype=np.uint64))
    b = np.unique(np.r_[a[::2], rng.integers(0, 1 << 64, 3000, dtype=np.uint64)])
    for k in range(0, 6):
        assert np.intersect1d(cut(a, k), cut(b, k)).tolist() == cut(np.intersect1d(a, b), k).tolist()
        assert cut(cut(a, k), k + 1).tolist() == cut(a, k + 1).tolist()


def test_sample_picks_the_smallest_sufficient_shift():
    h = np.array([0, 5, (1 << 62) - 1, 1 << 62, 1 << 63, (1 << 64) - 1], dtype=np.uint64)
    assert sample(h, 6)[0] == 0 and sample(h, 100)[1].tolist() == h.tolist()
    for cap, shift in [(5, 1), (4, 1), (3, 2), (2, 3), (1, 62)]:
        got, kept = sample(h, cap)
        assert got == shift and kept.tolist() == cut(h, shift).tolist(), cap
    assert sample(h, 3)[1].tolist() == [0, 5, (1 << 62) - 1]
    empty = sample(np.zeros(0, np.uint64), 1)
    assert empty[0] == 0 and len(empty[1]) == 0
    rng = np.random.default_rng(4)
    big = np.unique(rng.integers(0, 1 << 64, 10_000, dtype=np.uint64))
    for cap in (1, 10, 999, 5000, 10_000):
        shift, kept = sample(big, cap)
        assert len(kept) <= cap and (shift == 0 or len(cut(big, shift - 1)) > cap)
        assert kept.tolist() == cut(big, shift).tolist()
