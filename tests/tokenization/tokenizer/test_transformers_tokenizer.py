"""The saved tokenizer outside the pipeline: ``transformers`` must give a document the ids training saw."""

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
import transformers
from tokenizers import Tokenizer

from pipeline.schema import DOCUMENT_SCHEMA
from tokenization.tokenizer.special_tokens import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    PAD,
    PAD_ID,
    SEP,
    SPECIAL_IDS,
    SPECIAL_TOKENS,
)
from tokenization.tokenizer.tokenize import TokenizeStage

# literal special-token strings mid-text are plain text in the pipeline: they must stay text in transformers too
TEXTS = [
    "A web page that says <|eos|> mid-sentence, then <|bos|> and <|pad|> again.",
    "Prompt: <|fim_prefix|>def f(x):<|fim_suffix|>\n    return x<|fim_middle|>\n",
    "图片在这里<|image|>，然后是<|image_start|><|image_end|>结束。<|sep|>标题<|reserved_3|>",
    "<|eos|>",
    "plain English, no markers at all",
    "def f(x):\n    return '日本語 🚀'\n",
    "",
]
TITLED = [("A <|sep|> Title", "Body that mentions <|eos|>."), ("中文标题", "正文<|image|>内容。")]


def _pipeline_ids(tokenizer_path: str, docs: list[tuple[str | None, str]]) -> list[list[int]]:
    """What the tokenize stage writes for (title, text) documents from a source without FIM or images."""
    rows = [
        {
            "id": str(i),
            "source": "web",
            "text": text,
            "meta": json.dumps({"title": title} if title else {}),
            "images": [],
        }
        for i, (title, text) in enumerate(docs)
    ]
    table = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
    return TokenizeStage(tokenizer_path, seed=1, num_pack_groups=1)(table)["token_ids"].to_pylist()


@pytest.fixture(scope="module", params=["auto", "fast"])
def hf(request, small_tokenizer):
    directory = os.path.dirname(small_tokenizer)
    cls = transformers.AutoTokenizer if request.param == "auto" else transformers.PreTrainedTokenizerFast
    return cls.from_pretrained(directory)


def test_transformers_encodes_text_as_the_pipeline_encodes_a_document(hf, small_tokenizer):
    expected = _pipeline_ids(small_tokenizer, [(None, t) for t in TEXTS])
    assert all(ids[0] == BOS_ID and ids[-1] == EOS_ID and ids.count(EOS_ID) == 1 for ids in expected)
    assert [hf(t)["input_ids"] for t in TEXTS] == expected
    assert hf(TEXTS)["input_ids"] == expected
    assert [hf(t, add_special_tokens=False)["input_ids"] for t in TEXTS] == [ids[1:-1] for ids in expected]


def test_a_pair_is_title_and_body_as_the_title_template(hf, small_tokenizer):
    expected = _pipeline_ids(small_tokenizer, TITLED)
    assert all(ids.count(SPECIAL_IDS[SEP]) == 1 for ids in expected)
    assert [hf(title, body)["input_ids"] for title, body in TITLED] == expected


def test_raw_tokenizers_with_special_tokens_gives_the_same_ids(small_tokenizer):
    """``Tokenizer.from_file`` as the pipeline loads it, but with the template added: the same document ids."""
    expected = _pipeline_ids(small_tokenizer, [(None, t) for t in TEXTS] + TITLED)
    raw = Tokenizer.from_file(small_tokenizer)
    raw.encode_special_tokens = True
    assert [e.ids for e in raw.encode_batch(TEXTS + TITLED)] == expected


def test_the_template_leaves_the_pipeline_ids_alone(small_tokenizer, tmp_path):
    """The stage encodes with ``add_special_tokens=False``: without the post-processor its ids are the same."""
    data = json.loads(Path(small_tokenizer).read_text(encoding="utf-8"))
    assert data["post_processor"]["type"] == "TemplateProcessing"
    data["post_processor"] = None
    bare = tmp_path / "tokenizer.json"
    bare.write_text(json.dumps(data), encoding="utf-8")
    docs = [(None, t) for t in TEXTS] + TITLED
    assert _pipeline_ids(str(bare), docs) == _pipeline_ids(small_tokenizer, docs)


def test_special_token_attributes_are_the_fixed_ids(hf):
    assert (hf.bos_token, hf.eos_token, hf.pad_token, hf.sep_token) == (BOS, EOS, PAD, SEP)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, hf.sep_token_id) == (
        BOS_ID,
        EOS_ID,
        PAD_ID,
        SPECIAL_IDS[SEP],
    )
    assert hf.unk_token is None and hf.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(len(SPECIAL_TOKENS)))
    assert sorted(hf.all_special_ids) == list(range(len(SPECIAL_TOKENS)))
    assert hf.split_special_tokens is True


def test_decode_round_trips_text_with_literal_special_strings(hf, small_tokenizer):
    raw = Tokenizer.from_file(small_tokenizer)
    for text in TEXTS:
        ids = hf(text)["input_ids"]
        assert hf.decode(ids, skip_special_tokens=True) == text == raw.decode(ids)
        assert hf.decode(ids) == BOS + text + EOS
    title, body = TITLED[0]
    assert hf.decode(hf(title, body)["input_ids"]) == BOS + title + SEP + body + EOS


def test_save_pretrained_keeps_the_behaviour(hf, small_tokenizer, tmp_path):
    """A trainer's checkpoint saves the tokenizer again: the copy must still encode as the pipeline does."""
    hf.save_pretrained(tmp_path)
    again = transformers.AutoTokenizer.from_pretrained(tmp_path)
    expected = _pipeline_ids(small_tokenizer, [(None, t) for t in TEXTS] + TITLED)
    assert [again(t)["input_ids"] for t in TEXTS] + [again(a, b)["input_ids"] for a, b in TITLED] == expected
    assert (again.bos_token, again.eos_token, again.pad_token, again.sep_token) == (BOS, EOS, PAD, SEP)
    assert again.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(len(SPECIAL_TOKENS)))
