import pyarrow as pa
from tokenizers import Tokenizer

from pipeline.schema import DOCUMENT_SCHEMA
from tokenization.special_tokens import BOS_ID, EOS_ID, IMAGE_ID
from tokenization.tokenize import TokenizeStage


def test_documents_get_bos_eos_and_one_id_per_image(small_tokenizer):
    img = {"sha256": "ab" * 32, "width": 2, "height": 2, "bytes": b"x"}
    docs = pa.Table.from_pylist([
        {"id": "a", "source": "web", "text": "plain text", "meta": "{}", "images": []},
        {"id": "b", "source": "multimodal", "text": "<|image|>\ncaption", "meta": "{}", "images": [img]},
        {"id": "c", "source": "web", "text": "a page that says <|eos|> and <|image|>", "meta": "{}", "images": []},
    ], schema=DOCUMENT_SCHEMA)
    out = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=3)(docs)
    ids = out["token_ids"].to_pylist()
    tok = Tokenizer.from_file(small_tokenizer)
    assert ids[0][0] == BOS_ID and ids[0][-1] == EOS_ID
    assert tok.decode(ids[0][1:-1]) == "plain text"
    assert ids[1][1] == IMAGE_ID and ids[1].count(IMAGE_ID) == 1
    assert out["image_sha256"][1].as_py() == ["ab" * 32]
    # literal special-token strings in text stay text: no early EOS, no phantom image
    assert ids[2].count(EOS_ID) == 1 and IMAGE_ID not in ids[2]
    assert all(0 <= g < 3 for g in out["pack_group"].to_pylist())


def test_title_template_and_fim_on_code(small_tokenizer):
    from tokenization.special_tokens import FIM_MIDDLE, FIM_PREFIX, SEP, SPECIAL_IDS

    docs = pa.Table.from_pylist([
        {"id": "b", "source": "book", "text": "Chapter one.", "meta": '{"title": "A Book"}', "images": []},
        {"id": "c", "source": "code", "text": "x = 1\ny = 2\n", "meta": '{"path": "a.py"}', "images": []},
    ], schema=DOCUMENT_SCHEMA)
    tok = Tokenizer.from_file(small_tokenizer)
    stage = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1, config={"fim": {"rate": 1.0}})
    book, code = stage(docs)["token_ids"].to_pylist()
    sep = book.index(SPECIAL_IDS[SEP])
    assert tok.decode(book[1:sep]) == "A Book" and tok.decode(book[sep + 1 : -1]) == "Chapter one."
    assert code[1] == SPECIAL_IDS[FIM_PREFIX] and SPECIAL_IDS[FIM_MIDDLE] in code and code[-1] == EOS_ID
    plain = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1,
                          config={"title_template": False, "fim": {"rate": 0.0}})
    book, code = plain(docs)["token_ids"].to_pylist()
    assert SPECIAL_IDS[SEP] not in book and tok.decode(code[1:-1]) == "x = 1\ny = 2\n"
