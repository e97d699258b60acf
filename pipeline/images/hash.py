"""64-bit perceptual image hashes (pHash, dHash) and their Hamming distance, with numpy only.

A perceptual hash changes little when a picture is re-encoded, resized or lightly edited, so
near-duplicate images sit a few bits apart while different pictures differ in about half of
the 64. Both follow the ``imagehash`` package's definitions (grayscale, Lanczos resize, same
bit order: the first bit is the most significant), so hashes compare with its ``str(hash)``;
one change: transparent images are first flattened onto white, as they are displayed.
The DCT is a matrix product, which keeps scipy out of the dependencies.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image

HASH_SIZE = 8  # 8x8 = 64 bits
PHASH_FACTOR = 4  # pHash looks at the lowest 8x8 frequencies of a 32x32 image


def on_white(im: Image.Image) -> Image.Image:
    """The picture as a browser shows it on a white page. Converting a transparent PNG straight to
    grayscale (what imagehash does) reads the colour hidden under transparent pixels, often black,
    so a logo and its JPEG copy flattened onto white hashed 48-58 bits apart (benchmarks/multimodal.py)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba)
    return im


def _gray(image: bytes | Image.Image, size: tuple[int, int]) -> np.ndarray:
    if isinstance(image, (bytes, bytearray)):
        with Image.open(io.BytesIO(image)) as im:
            return _gray(im, size)
    return np.asarray(on_white(image).convert("L").resize(size, Image.Resampling.LANCZOS), dtype=np.float64)


@cache
def _dct_matrix(n: int) -> np.ndarray:
    """Unnormalized DCT-II (scipy.fftpack.dct's default): X[k] = 2 * sum x[i] cos(pi k (2i + 1) / 2n)."""
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


def _to_uint64(bits: np.ndarray) -> np.uint64:
    return np.uint64(int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big"))


def phash(image: bytes | Image.Image) -> np.uint64:
    """pHash: 32x32 grayscale, 2-D DCT, the top-left 8x8 coefficients above their median."""
    n = HASH_SIZE * PHASH_FACTOR
    pixels = _gray(image, (n, n))
    c = _dct_matrix(n)
    low = (c @ pixels @ c.T)[:HASH_SIZE, :HASH_SIZE]
    return _to_uint64(low > np.median(low))


def dhash(image: bytes | Image.Image) -> np.uint64:
    """dHash: 9x8 grayscale, one bit per horizontal neighbour pair (right brighter than left)."""
    pixels = _gray(image, (HASH_SIZE + 1, HASH_SIZE))
    return _to_uint64(pixels[:, 1:] > pixels[:, :-1])


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bits that differ between 64-bit hashes, elementwise with broadcasting."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x).astype(np.int64)
    as_bytes = np.ascontiguousarray(x)[..., None].view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1).astype(np.int64)
