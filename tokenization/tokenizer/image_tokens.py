"""How many tokens an image takes: ``<|image_start|>`` + N × ``<|image|>`` + ``<|image_end|>``.

The placeholders reserve the positions a trainer fills with the vision encoder's outputs, so N
must be what that encoder yields: a fixed count (a resampler's queries), or one token per
patch-grid cell. The whole span travels as one unit through packing: never cut across rows.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from pipeline.config_base import StrictModel
from tokenization.tokenizer.special_tokens import IMAGE_END_ID, IMAGE_ID, IMAGE_START_ID


def patch_grid(width: int, height: int, patch_size: int, merge: int, max_tokens: int) -> tuple[int, int]:
    """(columns, rows) of tokens for an image: one per ``patch_size * merge`` pixel cell, rounded up;
    a grid over ``max_tokens`` is scaled down with its aspect ratio kept (Qwen2-VL's ``max_pixels``)."""
    cell = patch_size * merge
    cols, rows = math.ceil(width / cell), math.ceil(height / cell)
    if cols * rows > max_tokens:
        scale = math.sqrt(max_tokens / (cols * rows))
        cols = max(1, min(math.floor(cols * scale), max_tokens))
        rows = max(1, min(math.floor(rows * scale), max_tokens // cols))
    return cols, rows


class ImageTokenConfig(StrictModel):
    # N per image: a fixed count (64: Idefics2, Laurençon et al. 2024, pools every image into 64
    # tokens with a perceiver resampler), or "patches": one token per grid cell of the image.
    image_tokens: Annotated[int, Field(gt=0)] | Literal["patches"] = 64
    patch_size: int = Field(14, gt=0)  # ViT-L/14 (CLIP, Radford et al. 2021): 224 px -> 16 x 16 = 256 tokens
    patch_merge: int = Field(1, gt=0)  # patches merged per side into one token: 2 in Qwen2-VL (Wang et al. 2024)
    max_image_tokens: int = Field(1024, gt=0)  # "patches": larger grids are scaled down to fit

    def image_token_count(self, width: int | None, height: int | None) -> int:
        if self.image_tokens != "patches":
            return self.image_tokens
        if not width or not height or width < 0 or height < 0:
            raise ValueError(f"image_tokens='patches' needs the image size, got {width}x{height}")
        cols, rows = patch_grid(width, height, self.patch_size, self.patch_merge, self.max_image_tokens)
        return cols * rows

    def max_image_span(self) -> int:
        """The longest image span this setting can produce, markers included."""
        return (self.max_image_tokens if self.image_tokens == "patches" else self.image_tokens) + 2

    def check_fits(self, seq_len: int) -> None:
        """Refuse settings whose image span could be longer than a packed row: it could not be kept whole."""
        if self.max_image_span() > seq_len:
            raise ValueError(
                f"an image span of up to {self.max_image_span()} tokens does not fit seq_len {seq_len}; "
                "lower tokenize.image_tokens or tokenize.max_image_tokens"
            )

    def image_layout(self) -> dict[str, Any]:
        """The setting as the manifest records it, with the span convention the shards follow."""
        return {
            "image_tokens": self.image_tokens,
            "patch_size": self.patch_size,
            "patch_merge": self.patch_merge,
            "max_image_tokens": self.max_image_tokens,
            "span": "start at <|image_start|>, length N + 2: <|image_start|> N x <|image|> <|image_end|>",
        }


def image_span_ids(n: int) -> np.ndarray:
    return np.concatenate([[IMAGE_START_ID], np.full(n, IMAGE_ID), [IMAGE_END_ID]]).astype(np.uint32)
