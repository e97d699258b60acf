"""tiktoken as the tokenize stage's engine: the same ids as ``tokenizers`` on real and hostile text, the checks
that refuse a vocabulary or pattern where it could differ, and the per-document and sampled guards."""

import json

import pyarrow as pa
import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers

from tests.conftest import stdlib_sources
from tokenization.tokenizer.fast_encode import (
    FastEncoder,
    _matched_by_fancy_regex,
    _matched_by_oniguruma,
    class_differences,
    model_differences,
    sample_head,
    unsupported,
)
from tokenization.tokenizer.tokenize import TokenizeStage
from tokenization.tokenizer.train import pretokenize_pattern

HOSTILE = [
    "It'S, it'ſ, they'RE, we'Ve\r\nI'LL don'T; it'd",  # contractions, cased and case-folded
    "<|eos|> <|bos|>text<|image|>",  # special tokens' strings are plain text
    "1234567 ١٢٣٤٥ 二〇二六 ⅷ ¾",  # digit runs, other scripts' numbers
    "e\u0301 n\u0303 \u200b\u200d\ufeff \u3000full width\u3000",  # combining marks, zero-width, ideographic space
    "表情😀👩‍👩‍👧 ok\t\t\n\n  \n x",  # emoji sequences, whitespace runs
    "中文文本，混合English与数字123。日本語のテキスト、한국어 텍스트",
    "tab\tafter\x00nul\x1fcontrol",
]


def _docs(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"d{i}" for i in range(n)],
            "source": ["web"] * n,
            "text": texts,
            "meta": [None] * n,
            "images": pa.array(
                [[]] * n, pa.list_(pa.struct([("sha256", pa.string()), ("width", pa.int32()), ("height", pa.int32())]))
            ),
        }
    )


def test_the_trained_tokenizer_passes_and_both_engines_give_the_same_ids(small_tokenizer):
    assert model_differences(small_tokenizer) == []
    docs = _docs(stdlib_sources(limit=40) + HOSTILE)
    fast = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=2, engine="tiktoken")
    reference = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=2, engine="tokenizers")
    assert fast.fast is not None and reference.fast is None
    assert fast(docs).equals(reference(docs))
    assert fast.fast.compared == 1  # one document per call is also encoded by tokenizers


def _handmade(path, merges: list[tuple[str, str]], pattern: str | None = None) -> str:
    """A byte-level BPE over bytes, with these merges in this order (ids in merge order)."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern or pretokenize_pattern(3)), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.save(str(path))
    return str(path)


def test_a_vocabulary_where_tiktoken_would_differ_is_refused(tmp_path):
    """ "abc" is made from "ab" + "c", but "bc" is merged first: tokenizers leaves "a", "bc" where tiktoken,
    merging by id, would make "abc" (and takes the whole pre-token "abc" as it is)."""
    path = _handmade(tmp_path / "t.json", [("b", "c"), ("a", "b"), ("ab", "c")])
    hf = Tokenizer.from_file(path)
    assert [hf.id_to_token(i) for i in hf.encode("abc").ids] == ["a", "bc"]
    (reason,) = model_differences(path)
    assert "do not rebuild" in reason
    consistent = _handmade(tmp_path / "ok.json", [("a", "b"), ("b", "c"), ("ab", "c")])
    assert model_differences(consistent) == []


def test_another_pattern_or_a_normalizer_is_refused(tmp_path):
    assert "pattern" in unsupported(_handmade(tmp_path / "p.json", [("a", "b")], pattern=r"\w+|\s+"))  # no sweep
    _handmade(tmp_path / "n.json", [("a", "b")])
    spec = json.loads((tmp_path / "n.json").read_text())
    spec["normalizer"] = {"type": "Lowercase"}
    (tmp_path / "n.json").write_text(json.dumps(spec))
    assert unsupported(str(tmp_path / "n.json")) == "the tokenizer has a normalizer"


def test_engines_match_classes_alike_on_a_few_code_points():
    text = "aé1٣ \u3000\n\r\u0301中"
    assert _matched_by_fancy_regex(r"\p{L}", text) == _matched_by_oniguruma(r"\p{L}", text) == "aé中"
    assert _matched_by_fancy_regex(r"\s", text) == _matched_by_oniguruma(r"\s", text) == " \u3000\n\r"


@pytest.mark.slow
def test_both_regex_engines_classify_every_code_point_alike():
    """The pattern's classes on all 1,112,064 code points, and the contractions on every character that
    case-folds into one of their letters: the pre-tokens are the same wherever these agree."""
    assert class_differences() == ()


def test_a_sampled_head_ends_at_a_pre_token_boundary(small_tokenizer):
    hf = Tokenizer.from_file(small_tokenizer)
    long = "\n".join(stdlib_sources(limit=40))
    assert len(long) > 20000
    head = sample_head(long)
    assert 0 < len(head) <= 16384 and head.endswith("\n") and long[len(head)].isalnum()
    whole, part = hf.encode(long, add_special_tokens=False).ids, hf.encode(head, add_special_tokens=False).ids
    assert whole[: len(part)] == part
    assert sample_head("x" * 20000) == ""  # no line break: nothing is compared


def test_tokens_that_do_not_spell_the_text_or_differ_from_tokenizers_stop_the_job(small_tokenizer):
    import tiktoken

    hf = Tokenizer.from_file(small_tokenizer)
    hf.encode_special_tokens = True
    fast = FastEncoder(small_tokenizer, hf)
    assert fast.encode(["plain text"]) == [hf.encode("plain text", add_special_tokens=False).ids]
    skipping = tiktoken.Encoding(
        "skip", pat_str=r"\p{L}+", mergeable_ranks=fast.encoding._mergeable_ranks, special_tokens={}
    )
    fast.encoding = skipping  # an engine that drops what its pattern does not match
    with pytest.raises(RuntimeError, match="do not spell"):
        fast.encode(["two words"])
    fast.encoding = tiktoken.Encoding(
        "other", pat_str=r"\S+|\s+", mergeable_ranks=fast.encoding._mergeable_ranks, special_tokens={}
    )
    with pytest.raises(RuntimeError, match="differ"):
        fast.encode(["It's two words"])
