import numpy as np
import pytest

import pipeline.dedup.shingles as shingles_mod
from pipeline.dedup.minhash import EMPTY, MinHashConfig, band_keys, catch_probability, permutations, s_curve, signatures
from pipeline.dedup.shingles import ShingleConfig, cut, jaccard, normalize, sample, shingle_hashes, shingle_sets

M64 = 1 << 64


def _fmix64(h: int) -> int:
    h ^= h >> 33
    h = h * 0xFF51AFD7ED558CCD % M64
    h ^= h >> 33
    h = h * 0xC4CEB9FE1A85EC53 % M64
    return h ^ (h >> 33)


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = h * 0x85EBCA6B % (1 << 32)
    h ^= h >> 13
    h = h * 0xC2B2AE35 % (1 << 32)
    return h ^ (h >> 16)


def _reference_shingles(text: str, n: int) -> list[int]:
    """The documented hash, one shingle at a time in Python integers."""
    base, inv = shingles_mod._BASE, shingles_mod._BASE_INV
    words = normalize(text, ShingleConfig()).split()
    unit = [_fmix64((sum(ord(c) * pow(inv, k, M64) for k, c in enumerate(w)) + 1) % M64) for w in words]
    out = []
    for i in range(max(len(words) - n + 1, 1) if words else 0):
        group = unit[i : i + n]
        h = group[0]
        for u in group[1:]:
            h = (h * base + u) % M64
        out.append(_fmix64(h ^ len(group)))
    return out


def test_normalize_folds_case_punctuation_width_and_space():
    cfg = ShingleConfig()
    assert normalize("  ¡Hello,  World!\n\tＦｕｌｌ-width ﬁne…  ", cfg) == "hello world full width fine"
    assert normalize("a\x00b..c", cfg) == "a b c" and normalize("?!", cfg) == ""
    assert normalize("नमस्ते दुनिया", cfg) == "नमस्ते दुनिया"  # combining vowel signs stay inside words
    assert normalize("Hello, World", ShingleConfig(lowercase=False, strip_punctuation=False)) == "Hello, World"


def test_shingle_hashes_match_the_reference_and_ignore_position_and_spacing(stdlib_texts):
    texts = [
        "The quick brown fox jumps over the lazy dog",
        "",
        "two words",
        stdlib_texts[0][:3000],
        "the QUICK brown   fox, jumps over the lazy dog!",
    ]
    hashes, offsets = shingle_hashes(texts, ShingleConfig())
    for i, text in enumerate(texts):
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == _reference_shingles(text, 5), i
    assert offsets[2] - offsets[1] == 0 and offsets[3] - offsets[2] == 1  # empty: none; short: one shingle
    assert hashes[offsets[4] : offsets[5]].tolist() == hashes[offsets[0] : offsets[1]].tolist()
    alone, _ = shingle_hashes(["ab", "cd"], ShingleConfig(n=1))
    assert alone.tolist() == shingle_hashes(["ab cd"], ShingleConfig(n=1))[0].tolist()  # never across texts


def test_small_windows_and_batches_give_the_same_hashes(stdlib_texts, monkeypatch):
    texts = stdlib_texts + ["", "short"]
    big, offsets = shingle_hashes(texts, ShingleConfig())
    monkeypatch.setattr(shingles_mod, "WINDOW", 97)
    monkeypatch.setattr(shingles_mod, "BATCH_CHARS", 5000)
    small, small_offsets = shingle_hashes(texts, ShingleConfig())
    assert small.tolist() == big.tolist() and small_offsets.tolist() == offsets.tolist()


def test_char_shingles():
    hashes, offsets = shingle_hashes(["abcd", "ab", "a, b  c", "a b c"], ShingleConfig(unit="char", n=3))
    assert offsets.tolist() == [0, 2, 3, 6, 9]
    assert hashes[3:6].tolist() == hashes[6:9].tolist()


def test_signatures_equal_the_reference_minimum():
    texts = ["one two three four five six seven", "", "eight nine ten eleven twelve thirteen fourteen"]
    hashes, offsets = shingle_hashes(texts, ShingleConfig(n=2))
    a, b = permutations(42, 16)
    sig = signatures(hashes, offsets, (a, b))
    for i in (0, 2):
        xs = [_fmix32(int(h) & 0xFFFFFFFF) for h in hashes[offsets[i] : offsets[i + 1]]]
        assert sig[i].tolist() == [min((int(ak) * x + int(bk)) % (1 << 32) for x in xs) for ak, bk in zip(a, b)]
    assert (sig[1] == EMPTY).all()


def test_permutations_and_signatures_equal_datasketch(stdlib_texts):
    datasketch = pytest.importorskip("datasketch")
    hashes, offsets = shingle_hashes(stdlib_texts[:3], ShingleConfig())
    sig = signatures(hashes, offsets, permutations(7, 112))
    for i in range(3):
        m = datasketch.MinHash(num_perm=112, seed=7, hashfunc=lambda x: int(x) & 0xFFFFFFFF)
        m.update_batch(hashes[offsets[i] : offsets[i + 1]].tolist())
        assert m.hashvalues.tolist() == sig[i].tolist()


def test_signature_agreement_estimates_true_jaccard(stdlib_texts):
    words = stdlib_texts[0].split()[:1500]
    variants = [" ".join(words), " ".join(words[:1200]), " ".join(words[300:]), " ".join(words[:750])]
    cfg = ShingleConfig()
    sets = shingle_sets(variants, cfg)
    hashes, offsets = shingle_hashes(variants, cfg)
    sig = signatures(hashes, offsets, permutations(1, 448))
    for j in (1, 2, 3):
        true = jaccard(sets[0], sets[j])
        assert abs((sig[0] == sig[j]).mean() - true) < 0.08, (j, true)  # 448 permutations: sd <= 0.024


def test_band_keys_equal_exactly_when_a_band_is_equal():
    sig = np.arange(32, dtype=np.uint32).reshape(2, 16)
    sig[1, :4] = sig[0, :4]
    keys = band_keys(sig, 4, 4)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    assert len(set(band_keys(np.zeros((1, 8), np.uint32), 2, 4)[0].tolist())) == 2  # the band index counts


def test_s_curve_of_fineweb_setting():
    assert catch_probability(0.8, 14, 8) == pytest.approx(0.9235, abs=1e-4)
    assert catch_probability(0.5, 14, 8) == pytest.approx(0.0533, abs=1e-4)
    table = s_curve(MinHashConfig())
    assert "0.80  0.9235" in table and "0.719" in table and len(table.splitlines()) == 12
    with pytest.raises(ValueError):
        MinHashConfig(bands=20, rows=8, num_perm=112)


def test_large_sets_are_compared_on_one_consistent_cut_of_the_hash_space():
    rng = np.random.default_rng(0)
    a = np.unique(rng.integers(0, 1 << 64, 200_000, dtype=np.uint64))
    b = np.unique(np.r_[rng.choice(a, 150_000, replace=False), rng.integers(0, 1 << 64, 30_000, dtype=np.uint64)])
    (ka, sa), (kb, sb) = sample(a, 1 << 16), sample(b, 1 << 16)
    assert ka == kb == 2 and len(sa) <= 1 << 16 and len(sb) <= 1 << 16
    assert abs(jaccard(cut(a, 2), cut(b, 2)) - jaccard(a, b)) < 0.01
    shift, small = sample(a[:100], 1 << 16)
    assert shift == 0 and small.tolist() == a[:100].tolist()
