"""The tokenize stage: documents into token ids with BOS/EOS, one actor per tokenizer copy.

Literal special-token strings in a document are encoded as plain text (a web page that
contains ``<|eos|>`` must not end a document); the only special ids in a document's body
are the image placeholders, placed where the reader put one marker per image.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from pipeline.schema import IMAGE_MARKER
from tokenization.special_tokens import BOS_ID, EOS_ID, IMAGE_ID

TOKENS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source", pa.string()),
    ("token_ids", pa.large_list(pa.uint32())),
    ("image_sha256", pa.list_(pa.string())),
    ("pack_group", pa.int32()),
    ("pack_key", pa.string()),
])


def pack_key(seed: int, ident: str) -> str:
    """A seeded, stable order of documents for packing."""
    return hashlib.blake2b(f"{seed}:{ident}".encode(), digest_size=8).hexdigest()


class TokenizeStage:
    """Callable over a Document table; holds one loaded tokenizer."""

    def __init__(self, tokenizer_path: str, seed: int, num_pack_groups: int) -> None:
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.encode_special_tokens = True
        self.seed, self.num_pack_groups = seed, num_pack_groups

    def encode(self, texts: list[str], image_counts: list[int]) -> list[np.ndarray]:
        """BOS + text + EOS per document, image markers replaced by the image id."""
        pieces, owners = [], []
        for i, (text, n_images) in enumerate(zip(texts, image_counts)):
            parts = text.split(IMAGE_MARKER) if n_images else [text]
            if len(parts) != n_images + 1 and n_images:
                raise ValueError(f"document {i}: {len(parts) - 1} image markers for {n_images} images")
            pieces += parts
            owners += [i] * len(parts)
        encodings = self.tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        out: list[list[np.ndarray]] = [[np.array([BOS_ID], np.uint32)] for _ in texts]
        for owner, enc in zip(owners, encodings):
            if len(out[owner]) > 1:
                out[owner].append(np.array([IMAGE_ID], np.uint32))
            out[owner].append(np.asarray(enc.ids, dtype=np.uint32))
        return [np.concatenate(parts + [np.array([EOS_ID], np.uint32)]) for parts in out]

    def __call__(self, table: pa.Table) -> pa.Table:
        ids = table["id"].to_pylist()
        shas = [[img["sha256"] for img in imgs or []] for imgs in table["images"].to_pylist()]
        tokens = self.encode(table["text"].to_pylist(), [len(s) for s in shas])
        offsets = np.zeros(len(tokens) + 1, np.int64)
        np.cumsum([len(t) for t in tokens], out=offsets[1:])
        flat = np.concatenate(tokens) if tokens else np.zeros(0, np.uint32)
        keys = [pack_key(self.seed, i) for i in ids]
        return pa.table({
            "id": table["id"],
            "source": table["source"],
            "token_ids": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32())),
            "image_sha256": pa.array(shas, pa.list_(pa.string())),
            "pack_group": pa.array([int(k, 16) % self.num_pack_groups for k in keys], pa.int32()),
            "pack_key": pa.array(keys, pa.string()),
        }, schema=TOKENS_SCHEMA)
