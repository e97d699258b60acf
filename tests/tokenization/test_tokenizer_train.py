
from tokenizers import Tokenizer

from tests.conftest import stdlib_sources
from tokenization.special_tokens import SPECIAL_TOKENS
from tokenization.tokenizer_train import TokenizerConfig, train_tokenizer


def test_training_is_byte_identical_and_special_ids_fixed(tmp_path):
    texts = stdlib_sources(limit=25)
    a = train_tokenizer(iter(texts), TokenizerConfig(vocab_size=800), str(tmp_path / "a"))
    b = train_tokenizer(iter(texts), TokenizerConfig(vocab_size=800), str(tmp_path / "b"))
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()
    assert a["sha256"] == b["sha256"] and a["vocab_size"] == 800
    assert a["special_tokens"] == {t: i for i, t in enumerate(SPECIAL_TOKENS)}


def test_roundtrip_code_cjk_emoji(small_tokenizer):
    tok = Tokenizer.from_file(small_tokenizer)
    for text in ["def f(x):\n\t  return  x\n\n", "日本語のテキスト、中文文本。", "emoji 🚀🔥 ok", "1234567 + 0.5e-3"]:
        assert tok.decode(tok.encode(text).ids) == text
