"""The pixel check that confirms a near-duplicate image pair the perceptual hash proposed.

A 64-bit pHash sees a picture at 32x32: the Debian handbook's ``ssh-L`` and ``ssh-R`` diagrams, or
one installer screen in English and in Japanese, are 0-6 bits apart. On 9,152 re-encodings of 1,700
real screenshots and diagrams (benchmarks/image_near_dup.py: apache2-doc, debian-handbook, the KDE
and GNOME handbooks, python3.11-doc), pHash <= 10 bits alone had precision 0.91; adding this check
(blockSSIM >= 0.8) gave precision 1.0 at recall 0.98, tuned on one package and held on the six others.

The check compares the two pictures where a label would differ: both in grey on white, aligned frame
to frame or (a crop, a frame, padding) the smaller placed inside the larger at the same pixel scale,
area-resized to a working size, then split in blocks of 16-31 px; SSIM (Wang et al. 2004, 7x7 window)
is averaged per block and the worst block decides. A re-encoding moves every block a little; a changed
label moves one block a lot.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.hash import on_white

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2  # SSIM's constants for 8-bit pixels (Wang et al. 2004)


class PixelCheckConfig(StrictModel):
    # tuned on debian-handbook (strictest value keeping its recall >= 0.97), held out on six packages
    min_block_ssim: float = Field(0.8, ge=-1, le=1)
    block_px: int = Field(16, gt=1)  # blocks hold 16-31 px a side at the working size
    work_cap_px: int = Field(512, gt=8)  # working size: the longer side, at most this...
    work_fraction: float = Field(0.5, gt=0, le=1)  # ...and at most this share of the smaller picture's longer side
    # one picture may lie inside the other (a crop, a frame, padding) when its sides are at most this much smaller:
    # a 10 % crop leaves 0.9 of a side, so the larger is 1/0.9 = 1.11 times the smaller
    crop_slack: float = Field(1.12, ge=1)


def grey(data: bytes) -> Image.Image:
    """The picture in grey on white, as the hashes see it."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return on_white(im).convert("L")


def _best_offset(big: np.ndarray, small: np.ndarray) -> int:
    """Where a 1-D profile fits inside a longer one: least mean absolute difference, ties to the centre."""
    n = len(big) - len(small)
    if n <= 0:
        return 0
    cost = np.abs(np.lib.stride_tricks.sliding_window_view(big, len(small)) - small).mean(1)
    return int(np.argmin(cost + 1e-6 * np.abs(np.arange(n + 1) - n / 2)))


def _crop_offset(big: Image.Image, small: Image.Image) -> tuple[int, int]:
    """Position of ``small`` inside ``big`` at the same scale, from column and row means."""
    b, s = np.asarray(big, np.float32), np.asarray(small, np.float32)
    hs, ws = s.shape
    dx = _best_offset(b.mean(0), s.mean(0))
    dy = _best_offset(b[:, dx : dx + ws].mean(1), s.mean(1))
    return _best_offset(b[dy : dy + hs].mean(0), s.mean(0)), dy


def _inside(ga: Image.Image, gb: Image.Image, slack: float) -> bool:
    (wa, ha), (wb, hb) = ga.size, gb.size
    return (wa, ha) != (wb, hb) and wb <= wa <= wb * slack and hb <= ha <= hb * slack


def aligned(ga: Image.Image, gb: Image.Image, cfg: PixelCheckConfig) -> tuple[np.ndarray, np.ndarray]:
    """Both pictures at the working size, frame to frame or one inside the other, whichever differs less."""
    (wa, ha), (wb, hb) = ga.size, gb.size
    boxes = [((0, 0, wa, ha), (0, 0, wb, hb))]
    if _inside(ga, gb, cfg.crop_slack):
        dx, dy = _crop_offset(ga, gb)
        boxes.append(((dx, dy, dx + wb, dy + hb), (0, 0, wb, hb)))
    elif _inside(gb, ga, cfg.crop_slack):
        dx, dy = _crop_offset(gb, ga)
        boxes.append(((0, 0, wa, ha), (dx, dy, dx + wa, dy + ha)))
    best, best_cost = None, np.inf
    for ba, bb in boxes:
        w, h = min(ba[2] - ba[0], bb[2] - bb[0]), min(ba[3] - ba[1], bb[3] - bb[1])
        scale = min(cfg.work_cap_px, cfg.work_fraction * max(w, h)) / max(w, h)
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        a = np.asarray(ga.resize(size, Image.Resampling.BOX, box=ba), np.float64)
        b = np.asarray(gb.resize(size, Image.Resampling.BOX, box=bb), np.float64)
        cost = float(np.abs(a - b).mean())
        if cost < best_cost:
            best, best_cost = (a, b), cost
    return best


def block_means(x: np.ndarray, block_px: int) -> np.ndarray:
    nh, nw = max(1, x.shape[0] // block_px), max(1, x.shape[1] // block_px)
    hs, ws = x.shape[0] // nh, x.shape[1] // nw
    return x[: nh * hs, : nw * ws].reshape(nh, hs, nw, ws).mean((1, 3))


def _box_filter(x: np.ndarray, r: int = 3) -> np.ndarray:
    p = np.pad(x, r, mode="reflect")
    c = np.pad(np.cumsum(np.cumsum(p, 0), 1), ((1, 0), (1, 0)))
    k = 2 * r + 1
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def block_ssim(ga: Image.Image, gb: Image.Image, cfg: PixelCheckConfig) -> float:
    """The smallest per-block mean SSIM of the aligned pair (1: the same picture)."""
    return aligned_block_ssim(*aligned(ga, gb, cfg), cfg.block_px)


def aligned_block_ssim(a: np.ndarray, b: np.ndarray, block_px: int) -> float:
    """``block_ssim`` of two arrays already aligned at the working size."""
    ma, mb = _box_filter(a), _box_filter(b)
    va, vb = _box_filter(a * a) - ma * ma, _box_filter(b * b) - mb * mb
    cov = _box_filter(a * b) - ma * mb
    s = ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2))
    return float(block_means(s, block_px).min())


def same_picture(a: Image.Image, b: Image.Image, cfg: PixelCheckConfig) -> bool:
    return block_ssim(a, b, cfg) >= cfg.min_block_ssim
