import pyarrow as pa
import pytest
from tokenizers import Tokenizer

from pipeline.schema import DOCUMENT_SCHEMA
from tokenization.tokenizer.image_tokens import patch_grid
from tokenization.tokenizer.special_tokens import BOS_ID, EOS_ID, IMAGE_END_ID, IMAGE_ID, IMAGE_START_ID
from tokenization.tokenizer.tokenize import TokenizeConfig, TokenizeStage


def test_documents_get_bos_eos_and_an_image_span_per_image(small_tokenizer):
    img = {"sha256": "ab" * 32, "width": 2, "height": 2, "bytes": b"x"}
    docs = pa.Table.from_pylist(
        [
            {"id": "a", "source": "web", "text": "plain text", "meta": "{}", "images": []},
            {"id": "b", "source": "multimodal", "text": "<|image|>\ncaption", "meta": "{}", "images": [img]},
            {"id": "c", "source": "web", "text": "a page that says <|eos|> and <|image|>", "meta": "{}", "images": []},
        ],
        schema=DOCUMENT_SCHEMA,
    )
    out = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=3)(docs)
    ids = out["token_ids"].to_pylist()
    tok = Tokenizer.from_file(small_tokenizer)
    assert ids[0][0] == BOS_ID and ids[0][-1] == EOS_ID
    assert tok.decode(ids[0][1:-1]) == "plain text"
    assert ids[1][1:67] == [IMAGE_START_ID] + [IMAGE_ID] * 64 + [IMAGE_END_ID]  # default: 64 per image
    assert ids[1].count(IMAGE_ID) == 64 and tok.decode(ids[1][67:-1]) == "\ncaption"
    assert out["image_sha256"][1].as_py() == ["ab" * 32]
    # literal special-token strings in text stay text: no early EOS, no phantom image
    assert ids[2].count(EOS_ID) == 1 and not {IMAGE_START_ID, IMAGE_ID, IMAGE_END_ID} & set(ids[2])
    assert all(0 <= g < 3 for g in out["pack_group"].to_pylist())


def test_title_template_and_fim_on_code(small_tokenizer):
    from tokenization.tokenizer.special_tokens import FIM_MIDDLE, FIM_PREFIX, SEP, SPECIAL_IDS

    docs = pa.Table.from_pylist(
        [
            {"id": "b", "source": "book", "text": "Chapter one.", "meta": '{"title": "A Book"}', "images": []},
            {"id": "c", "source": "code", "text": "x = 1\ny = 2\n", "meta": '{"path": "a.py"}', "images": []},
        ],
        schema=DOCUMENT_SCHEMA,
    )
    tok = Tokenizer.from_file(small_tokenizer)
    stage = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1, config={"fim": {"rate": 1.0}})
    book, code = stage(docs)["token_ids"].to_pylist()
    sep = book.index(SPECIAL_IDS[SEP])
    assert tok.decode(book[1:sep]) == "A Book" and tok.decode(book[sep + 1 : -1]) == "Chapter one."
    assert code[1] == SPECIAL_IDS[FIM_PREFIX] and SPECIAL_IDS[FIM_MIDDLE] in code and code[-1] == EOS_ID
    plain = TokenizeStage(
        small_tokenizer, seed=1, num_pack_groups=1, config={"title_template": False, "fim": {"rate": 0.0}}
    )
    book, code = plain(docs)["token_ids"].to_pylist()
    assert SPECIAL_IDS[SEP] not in book and tok.decode(code[1:-1]) == "x = 1\ny = 2\n"


def _image(i: int, width: int, height: int) -> dict:
    return {"sha256": f"{i:064x}", "width": width, "height": height, "bytes": b"x"}


def _spans(ids: list[int]) -> list[tuple[int, int]]:
    """(position of <|image_start|>, N) per image, checking each span's layout."""
    out = []
    for a in (i for i, t in enumerate(ids) if t == IMAGE_START_ID):
        n = ids.index(IMAGE_END_ID, a) - a - 1
        assert ids[a + 1 : a + 1 + n] == [IMAGE_ID] * n
        out.append((a, n))
    assert ids.count(IMAGE_ID) == sum(n for _, n in out) and ids.count(IMAGE_END_ID) == len(out)
    return out


def test_several_images_fixed_and_by_patches(small_tokenizer):
    images = [_image(1, 224, 224), _image(2, 15, 14), _image(3, 28 * 40, 28 * 40)]
    docs = pa.Table.from_pylist(
        [
            {
                "id": "m",
                "source": "multimodal",
                "text": "a<|image|>b c<|image|><|image|>d",
                "meta": "{}",
                "images": images,
            }
        ],
        schema=DOCUMENT_SCHEMA,
    )
    tok = Tokenizer.from_file(small_tokenizer)
    fixed = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1, config={"image_tokens": 3})(docs)
    ids = fixed["token_ids"][0].as_py()
    spans = _spans(ids)
    assert [n for _, n in spans] == [3, 3, 3] and spans[2][0] == spans[1][0] + 5  # adjacent markers, adjacent spans
    assert tok.decode(ids[1 : spans[0][0]]) == "a" and tok.decode(ids[spans[0][0] + 5 : spans[1][0]]) == "b c"
    assert fixed["image_sha256"][0].as_py() == [f"{i:064x}" for i in (1, 2, 3)]
    patches = TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1, config={"image_tokens": "patches"})(docs)
    # 224 px / 14 = 16 per side (ViT-L/14); 15 x 14 px -> 2 x 1; 1120 px -> 80 x 80 = 6400, scaled to 32 x 32
    assert [n for _, n in _spans(patches["token_ids"][0].as_py())] == [256, 2, 1024]


def test_patch_grid_and_config_checks():
    assert patch_grid(336, 336, 14, 1, 1024) == (24, 24)  # LLaVA-1.5 (ViT-L/14-336): 576 tokens
    assert patch_grid(448, 448, 14, 2, 1024) == (16, 16)  # Qwen2-VL: 2 x 2 patches merged per token
    assert patch_grid(4480, 140, 14, 1, 1024) == (181, 5)  # 320 x 10 scaled by sqrt(1024 / 3200)
    assert patch_grid(14, 14 * 5000, 14, 1, 1024) == (1, 1024)  # a sliver keeps at least one column
    with pytest.raises(ValueError, match="image size"):
        TokenizeConfig(image_tokens="patches").image_token_count(0, 10)
    TokenizeConfig(image_tokens=126).check_fits(128)
    with pytest.raises(ValueError, match="does not fit seq_len 128"):
        TokenizeConfig(image_tokens=127).check_fits(128)
    with pytest.raises(ValueError, match="does not fit seq_len 1024"):
        TokenizeConfig(image_tokens="patches").check_fits(1024)  # up to max_image_tokens + 2
    with pytest.raises(ValueError):
        TokenizeConfig(image_tokens=0)
    assert TokenizeConfig(image_tokens="patches").image_layout()["image_tokens"] == "patches"


def test_marker_count_must_match_images(small_tokenizer):
    docs = pa.Table.from_pylist(
        [
            {
                "id": "m",
                "source": "multimodal",
                "text": "<|image|> only one",
                "meta": "{}",
                "images": [_image(1, 2, 2), _image(2, 2, 2)],
            }
        ],
        schema=DOCUMENT_SCHEMA,
    )
    with pytest.raises(ValueError, match="1 image markers for 2 images"):
        TokenizeStage(small_tokenizer, seed=1, num_pack_groups=1)(docs)
