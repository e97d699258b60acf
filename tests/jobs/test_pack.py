"""Characters and bytes per token per language: what the pack pass reports of the trained tokenizer."""

from jobs.pack import token_efficiency


def test_text_per_token_is_summed_per_language_and_code_left_out():
    rows = [
        {"source": "web", "language": "zh", "documents": 2, "tokens": 100, "chars": 150, "bytes": 450},
        {"source": "book", "language": "zh", "documents": 1, "tokens": 100, "chars": 160, "bytes": 480},
        {"source": "web", "language": "en", "documents": 3, "tokens": 50, "chars": 210, "bytes": 210},
        {"source": "code", "language": None, "documents": 9, "tokens": 999, "chars": 1, "bytes": 1},
    ]
    out = token_efficiency(rows)
    assert set(out) == {"en", "zh"}
    assert out["zh"] == {
        "documents": 3, "tokens": 200, "chars": 310, "bytes": 930, "chars_per_token": 1.55, "bytes_per_token": 4.65,
    }  # fmt: skip
    assert out["en"]["chars_per_token"] == 4.2


def test_the_encoder_is_tiktoken_where_checked_and_a_refusal_is_explained_or_an_error(small_tokenizer, tmp_path):
    import pytest

    from jobs.pack import resolve_encoder
    from jobs.usage import UsageError
    from tests.tokenization.tokenizer.test_fast_encode import _handmade

    assert resolve_encoder("auto", small_tokenizer) == ("tiktoken", None)
    assert resolve_encoder("tokenizers", small_tokenizer) == ("tokenizers", "tokenize.encoder: tokenizers")
    refused = _handmade(tmp_path / "t.json", [("b", "c"), ("a", "b"), ("ab", "c")])
    engine, why = resolve_encoder("auto", refused)
    assert engine == "tokenizers" and "do not rebuild" in why
    with pytest.raises(UsageError, match="tokenize.encoder: tiktoken cannot give this tokenizer's tokens"):
        resolve_encoder("tiktoken", refused)


def test_a_worker_reloads_its_tokenizer_when_a_new_one_replaces_the_file(small_tokenizer, tmp_path):
    import os
    import shutil

    from jobs.pack import _stage

    path = tmp_path / "tokenizer.json"
    shutil.copy(small_tokenizer, path)
    args = {"tokenizer_path": str(path), "seed": 1, "num_pack_groups": 2, "config": {}, "engine": "tokenizers"}
    first = _stage(args)
    assert _stage(args) is first  # loaded once per process
    shutil.copy(small_tokenizer, str(path) + ".new")
    os.replace(str(path) + ".new", path)  # how the tokenizer pass publishes its file
    assert _stage(args) is not first
