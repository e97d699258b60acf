"""The tokenize stage: documents into token ids, one actor per tokenizer copy.

Each document becomes segments — text to encode, or special ids — in the template
``<|bos|> [title <|sep|>] body <|eos|>``; a code body may be reordered for fill-in-the-middle
and a multimodal body carries each image as ``<|image_start|>`` + N × ``<|image|>`` +
``<|image_end|>`` at its marker (N from ``image_tokens``: ``image_tokens.py``). All text
segments of a batch go through one batched encode. Literal special-token strings inside a
document are encoded as plain text (a web page that contains ``<|eos|>`` must not end a document).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from tokenizers import Tokenizer

from pipeline.schema import IMAGE_MARKER, image_field_lists
from tokenization.tokenizer.fast_encode import FastEncoder
from tokenization.tokenizer.fim import FimConfig, Segment, fim_segments
from tokenization.tokenizer.image_tokens import ImageTokenConfig, image_span_ids
from tokenization.tokenizer.special_tokens import BOS_ID, EOS_ID, SEP, SPECIAL_IDS

SEP_ID = SPECIAL_IDS[SEP]
Part = Segment | np.ndarray  # text to encode, a special id, or a run of ids (an image span)

TOKENS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("token_ids", pa.large_list(pa.uint32())),
        ("image_sha256", pa.list_(pa.string())),
        ("pack_group", pa.int32()),
        ("pack_key", pa.string()),
    ]
)


class TokenizeConfig(ImageTokenConfig):  # image_tokens, patch_size, patch_merge, max_image_tokens
    title_template: bool = True  # ``title <|sep|> content`` when meta has a title
    title_field: str = "title"
    fim: FimConfig = Field(default_factory=FimConfig)
    # the same tokens either way (fast_encode.py says why, and checks it): auto takes tiktoken where the trained
    # tokenizer passes the checks (ours do), else tokenizers; tiktoken refuses to run without it
    encoder: Literal["auto", "tiktoken", "tokenizers"] = "auto"


def pack_key(seed: int, ident: str) -> str:
    """A seeded, stable order of documents for packing."""
    return hashlib.blake2b(f"{seed}:{ident}".encode(), digest_size=8).hexdigest()


def document_segments(
    text: str, title: str | None, image_tokens: list[int], source: str, ident: str, seed: int, cfg: TokenizeConfig
) -> list[Part]:
    """``image_tokens``: N for each image, in marker order. A document with images is never
    reordered for FIM (its image spans must stay where their markers are)."""
    head: list[Part] = [BOS_ID] + ([title, SEP_ID] if title else [])
    fim = source in cfg.fim.sources and not image_tokens
    body: list[Part] | None = fim_segments(text, ident, seed, cfg.fim) if fim else None
    if image_tokens:
        parts = text.split(IMAGE_MARKER)
        if len(parts) != len(image_tokens) + 1:
            raise ValueError(f"{ident}: {len(parts) - 1} image markers for {len(image_tokens)} images")
        body = [parts[0]]
        for n, part in zip(image_tokens, parts[1:]):
            body += [image_span_ids(n), part]
    return head + (body if body is not None else [text]) + [EOS_ID]


class TokenizeStage:
    """Callable over a Document table; holds one loaded tokenizer. ``engine``: ``tokenizers``, or ``tiktoken``
    for a tokenizer that ``fast_encode.unsupported`` passed (the caller checks once: it takes seconds)."""

    def __init__(
        self,
        tokenizer_path: str,
        seed: int,
        num_pack_groups: int,
        config: dict | None = None,
        engine: Literal["tokenizers", "tiktoken"] = "tokenizers",
    ) -> None:
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.encode_special_tokens = True
        self.fast = FastEncoder(tokenizer_path, self.tokenizer) if engine == "tiktoken" else None
        self.seed, self.num_pack_groups = seed, num_pack_groups
        self.cfg = TokenizeConfig.model_validate(config or {})

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        if self.fast is not None:
            return self.fast.encode(texts)
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    def encode_segments(self, docs: list[list[Part]]) -> list[np.ndarray]:
        encoded = iter(self.encode_texts([s for doc in docs for s in doc if isinstance(s, str)]))
        out = []
        for doc in docs:
            parts = [np.asarray(next(encoded) if isinstance(s, str) else s, dtype=np.uint32).reshape(-1) for s in doc]
            out.append(np.concatenate(parts))
        return out

    def _titles(self, metas: list[str | None]) -> list[str | None]:
        if not self.cfg.title_template:
            return [None] * len(metas)
        titles = []
        for meta in metas:
            value = json.loads(meta).get(self.cfg.title_field) if meta else None
            titles.append(value.strip() or None if isinstance(value, str) else None)
        return titles

    def _image_counts(self, images: pa.ChunkedArray) -> list[list[int]]:
        """Per document: each image's token count, from its size."""
        return [
            [self.cfg.image_token_count(w, h) for w, h in zip(ws, hs)]
            for ws, hs in zip(image_field_lists(images, "width"), image_field_lists(images, "height"))
        ]

    def __call__(self, table: pa.Table) -> pa.Table:
        ids, sources = table["id"].to_pylist(), table["source"].to_pylist()
        shas, counts = image_field_lists(table["images"], "sha256"), self._image_counts(table["images"])
        metas = table["meta"].to_pylist() if "meta" in table.column_names else [None] * len(ids)
        docs = [
            document_segments(text, title, n, src, ident, self.seed, self.cfg)
            for text, title, n, src, ident in zip(table["text"].to_pylist(), self._titles(metas), counts, sources, ids)
        ]
        tokens = self.encode_segments(docs)
        offsets = np.zeros(len(tokens) + 1, np.int64)
        np.cumsum([len(t) for t in tokens], out=offsets[1:])
        flat = np.concatenate(tokens) if tokens else np.zeros(0, np.uint32)
        keys = [pack_key(self.seed, i) for i in ids]
        return pa.table(
            {
                "id": table["id"],
                "source": table["source"],
                "token_ids": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32())),
                "image_sha256": pa.array(shas, pa.list_(pa.string())),
                "pack_group": pa.array([int(k, 16) % self.num_pack_groups for k in keys], pa.int32()),
                "pack_key": pa.array(keys, pa.string()),
            },
            schema=TOKENS_SCHEMA,
        )
