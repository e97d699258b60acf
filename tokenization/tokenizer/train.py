"""Train the byte-level BPE tokenizer on a mixture sample of the curated corpus.

The sample is streamed file by file in a fixed order and chosen per document by a hash of
the run seed and the document id, so the same corpus and seed give the same
``tokenizer.json`` bytes, and the process never holds more than one record batch.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Literal

import pyarrow.parquet as pq
from pydantic import Field
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from pipeline.config_base import StrictModel
from tokenization.mixing import DEFAULT_MIX
from tokenization.tokenizer.special_tokens import BOS, EOS, PAD, SEP, SPECIAL_IDS, SPECIAL_TOKENS


def pretokenize_pattern(digits: int) -> str:
    """GPT-4 / DeepSeek-style split: letter runs with one leading non-letter, numbers in groups
    of up to ``digits``, punctuation runs carrying the line breaks after them (as DeepSeek-V3
    merges them), newline runs, other whitespace runs."""
    numbers = rf"\p{{N}}{{1,{digits}}}"
    return (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|" + numbers + r"| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    )


class TokenizerConfig(StrictModel):
    vocab_size: int = Field(32000, ge=len(SPECIAL_TOKENS) + 256)  # sample; DeepSeek-V3 uses 128K
    min_frequency: int = 2
    digits: Literal[1, 3] = 3  # numbers split into single digits (1) or groups of up to 3
    sample_chars: int = Field(64 << 20, gt=0)  # characters of text drawn from the corpus to train on
    mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))  # shares of the training sample


def _unit(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def sample_texts(curated_dir: str, source_chars: dict[str, int], cfg: TokenizerConfig, seed: int) -> Iterator[str]:
    """Texts of the training sample: per source, a seeded fraction sized to its share of ``sample_chars``."""
    weights = {s: w for s, w in cfg.mix.items() if source_chars.get(s)}
    norm = sum(weights.values()) or 1.0
    for source in sorted(weights):
        rate = min(1.0, cfg.sample_chars * weights[source] / norm / source_chars[source])
        for path in sorted(glob.glob(os.path.join(curated_dir, source, "*.parquet"))):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=512, columns=["id", "text"]):
                for ident, text in zip(batch["id"].to_pylist(), batch["text"].to_pylist()):
                    if rate >= 1.0 or _unit(seed, ident) < rate:
                        yield text


def new_tokenizer(digits: int = 3) -> tuple[Tokenizer, list]:
    # no normalizer: curation already puts prose in NFC, and code must decode to the bytes it was (DeepSeek-V3's
    # and GPT-4's byte-level tokenizers normalize nothing either)
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pretokenize_pattern(digits)), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = document_template()
    return tok, pre_tokenizers.ByteLevel.alphabet()


def document_template() -> processors.TemplateProcessing:
    """The tokenize stage's document template, for tools outside the pipeline (``add_special_tokens=True``):
    a text is ``<|bos|> text <|eos|>``, a pair is its title template ``<|bos|> title <|sep|> body <|eos|>``.

    The stage itself encodes with ``add_special_tokens=False`` and places these ids itself, so its ids do not
    depend on this."""
    return processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {SEP} $B:1 {EOS}:1",
        special_tokens=[(t, SPECIAL_IDS[t]) for t in (BOS, EOS, SEP)],
    )


def train_tokenizer(texts: Iterator[str], cfg: TokenizerConfig, out_dir: str) -> dict:
    """Train, save ``tokenizer.json`` atomically, and return its summary (hash, vocab, special ids)."""
    tok, alphabet = new_tokenizer(cfg.digits)
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "tokenizer.json")
    tok.save(path + ".tmp")
    os.replace(path + ".tmp", path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    for special in SPECIAL_TOKENS:  # fixed ids are a contract; fail loudly if training moved one
        if tok.token_to_id(special) != SPECIAL_TOKENS.index(special):
            raise RuntimeError(f"special token {special} got id {tok.token_to_id(special)}")
    write_transformers_files(out_dir)
    summary = {
        "path": "tokenizer.json",
        "sha256": digest,
        "vocab_size": tok.get_vocab_size(),
        "special_tokens": {t: tok.token_to_id(t) for t in SPECIAL_TOKENS},
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def write_transformers_files(out_dir: str) -> None:
    """``tokenizer_config.json`` and ``special_tokens_map.json``, so trainers' tools load the directory
    with ``AutoTokenizer.from_pretrained`` and encode a text as the tokenize stage does: the template comes
    from ``tokenizer.json``'s post-processor, and ``split_special_tokens`` keeps a literal ``<|eos|>`` in
    text plain text, as the stage's ``encode_special_tokens = True`` does (``tokenizers`` does not save
    that flag, so a bare ``Tokenizer.from_file`` user must set it too)."""
    named = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "sep_token": SEP}
    specials = {**named, "additional_special_tokens": [t for t in SPECIAL_TOKENS if t not in named.values()]}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1 << 30,
        "split_special_tokens": True,
        **specials,
    }
    for name, payload in (("tokenizer_config.json", config), ("special_tokens_map.json", specials)):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
