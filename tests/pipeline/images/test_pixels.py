"""The pixel check on real figures: translations a 64-bit pHash joins are told apart, re-encodings are not."""

import io

import pytest
from PIL import Image

from pipeline.images.hash import hamming, on_white, phash
from pipeline.images.pixels import PixelCheckConfig, block_ssim, grey, same_picture
from tests.pipeline.images.test_hash import NEAR, samples

TRANSLATED = [
    ("apache/caching_fig1.png", "apache/caching_fig1.tr.png"),  # Turkish labels
    ("apache/mod_filter_new.gif", "apache/mod_filter_new.pt-br.png"),
    ("handbook/en-US/package-lifecycle.png", "handbook/fr-FR/package-lifecycle.png"),
    ("handbook/en-US/ssh-L.png", "handbook/ja-JP/ssh-L.png"),
]
FIGURES = [
    "apache/caching_fig1.png",
    "apache/mod_filter_new.pt-br.png",
    "apache/feather.png",
    "handbook/en-US/package-lifecycle.png",
    "handbook/en-US/ssh-L.png",
    "handbook/en-US/inst-lang.png",
    "skimage/chelsea",
    "skimage/coffee",
]


def reencoded(data: bytes, fmt: str, scale: float = 1.0, crop: float = 0.0, **kw) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im = on_white(im).convert("RGB")
        dx, dy = round(im.width * crop), round(im.height * crop)
        im = im.crop((dx, dy, im.width - dx, im.height - dy))
        if scale != 1.0:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()


@pytest.mark.parametrize("a,b", TRANSLATED)
def test_a_translated_figure_is_hash_near_but_not_the_same_picture(a, b):
    images, cfg = samples(), PixelCheckConfig()
    assert hamming(phash(images[a]), phash(images[b])) <= NEAR  # what the hash alone would join
    assert not same_picture(grey(images[a]), grey(images[b]), cfg)


def test_the_same_picture_published_as_gif_and_png_is_one_picture():
    images = samples()
    assert (
        block_ssim(grey(images["apache/caching_fig1.gif"]), grey(images["apache/caching_fig1.png"]), PixelCheckConfig())
        > 0.99
    )


@pytest.mark.parametrize("key", FIGURES)
def test_reencodings_a_crawler_meets_pass(key):
    data, cfg = samples()[key], PixelCheckConfig()
    for copy in (
        reencoded(data, "JPEG", quality=75),
        reencoded(data, "JPEG", scale=0.5, quality=75),
        reencoded(data, "WEBP", quality=80),
        reencoded(data, "PNG", crop=0.01),
        reencoded(data, "JPEG", scale=0.7, quality=40),
    ):
        assert same_picture(grey(data), grey(copy), cfg), key


def test_config_bounds_are_checked():
    with pytest.raises(ValueError, match="min_block_ssim"):
        PixelCheckConfig(min_block_ssim=2)
