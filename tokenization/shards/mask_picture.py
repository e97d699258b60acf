"""A PNG of one packed row's attention mask, for a person to look at.

Allowed (query, key) cells take the colour of the query's document; cells inside a stored
block that the token rule still masks are shaded grey, so the block layout shows; padding
attending to itself is dark grey; everything else is white. Rows are queries, columns keys.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image

from tokenization.shards.masks import Policy, dense_mask, segment_ids


def _palette(n: int) -> np.ndarray:
    hues = (np.arange(n) * 0.618033988749895) % 1.0  # golden-ratio steps: neighbours differ
    return np.array([colorsys.hsv_to_rgb(h, 0.65, 0.9) for h in hues]) * 255


def mask_image(
    cu_seqlens: np.ndarray, layout: np.ndarray, seq_len: int, block: int, policy: Policy, pixels: int = 1024
) -> Image.Image:
    scale = max(1, seq_len // pixels)
    side = seq_len // scale
    allowed = dense_mask(cu_seqlens, seq_len, layout, block, policy)
    allowed = allowed.reshape(side, scale, side, scale).any(axis=(1, 3))
    in_block = np.repeat(np.repeat(layout, block // scale or 1, axis=0), block // scale or 1, axis=1)[:side, :side]
    seg = segment_ids(cu_seqlens, seq_len)[::scale]
    rgb = np.full((side, side, 3), 255, dtype=np.uint8)
    rgb[in_block] = 225
    colours = _palette(max(1, len(cu_seqlens) - 1)).astype(np.uint8)
    real = allowed & (seg[:, None] >= 0)
    rgb[real] = colours[np.broadcast_to(seg[:, None], (side, side))[real]]
    rgb[allowed & (seg[:, None] < 0)] = 90
    return Image.fromarray(rgb, "RGB")
