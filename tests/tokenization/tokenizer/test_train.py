from tokenizers import Tokenizer

from tests.conftest import stdlib_sources
from tokenization.tokenizer.special_tokens import SPECIAL_TOKENS
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer


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


def test_code_that_is_not_nfc_decodes_to_its_own_bytes(small_tokenizer):
    """No normalizer: a decomposed Tamil literal (pygments' ezhil lexer) comes back as written, not as NFC."""
    import unicodedata

    import pygments.lexers.ezhil as ezhil

    with open(ezhil.__file__, encoding="utf-8") as f:
        source = f.read()
    assert unicodedata.normalize("NFC", source) != source
    tok = Tokenizer.from_file(small_tokenizer)
    assert tok.decode(tok.encode(source, add_special_tokens=False).ids) == source


def test_digit_grouping_is_configurable(tmp_path):
    texts = stdlib_sources(limit=10) + ["1234567890 " * 50]
    for digits, longest in ((1, 1), (3, 3)):
        train_tokenizer(iter(texts), TokenizerConfig(vocab_size=600, digits=digits), str(tmp_path / str(digits)))
        tok = Tokenizer.from_file(str(tmp_path / str(digits) / "tokenizer.json"))
        pieces = [p.strip() for p in tok.encode("9876543210", add_special_tokens=False).tokens]
        assert max(len(p) for p in pieces) <= longest and "".join(pieces) == "9876543210"
