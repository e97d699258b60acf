"""Special tokens with fixed ids: the first ids of every corpusmill vocabulary.

Fixed ids let packed shards, loaders and trainers agree without reading the tokenizer, and
keep ids stable when the vocabulary size changes. Reserved slots leave room to add tokens
later without moving any learned id.
"""

from __future__ import annotations

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"
IMAGE_START, IMAGE, IMAGE_END = "<|image_start|>", "<|image|>", "<|image_end|>"
SEP = "<|sep|>"
NUM_RESERVED = 6

SPECIAL_TOKENS: list[str] = [BOS, EOS, PAD, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, IMAGE_START, IMAGE, IMAGE_END, SEP] + [
    f"<|reserved_{i}|>" for i in range(NUM_RESERVED)
]
SPECIAL_IDS: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
BOS_ID, EOS_ID, PAD_ID, IMAGE_ID = SPECIAL_IDS[BOS], SPECIAL_IDS[EOS], SPECIAL_IDS[PAD], SPECIAL_IDS[IMAGE]
IMAGE_START_ID, IMAGE_END_ID = SPECIAL_IDS[IMAGE_START], SPECIAL_IDS[IMAGE_END]
