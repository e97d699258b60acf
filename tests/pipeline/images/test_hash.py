import io
import itertools
from functools import cache

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipeline.images.hash import dhash, hamming, on_white, phash
from tests.conftest import REPO

PHOTOS = [
    "skimage/astronaut",
    "skimage/camera",
    "skimage/coffee",
    "skimage/chelsea",
    "skimage/brick",
    "skimage/hubble_deep_field",
    "skimage/retina",
    "skimage/coins",
]
NEAR = 10  # bits out of 64: the distance under which two hashes are called near duplicates here


@cache
def samples() -> dict[str, bytes]:
    rows = pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet", columns=["key", "image"]).to_pylist()
    return {r["key"]: r["image"] for r in rows}


def degraded(data: bytes) -> bytes:
    """Resized to 70 % and re-encoded as JPEG at quality 40."""
    with Image.open(io.BytesIO(data)) as im:
        small = im.convert("RGB").resize((im.width * 7 // 10, im.height * 7 // 10), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=40)
    return buf.getvalue()


def test_hamming_known_answers_and_broadcasting():
    assert hamming(0, 2**64 - 1) == 64 and hamming(0b1011, 0) == 3 and hamming(7, 7) == 0
    got = hamming(np.array([0, 1, 3, 2**63], dtype=np.uint64), np.uint64(1))
    assert got.tolist() == [1, 0, 1, 2]


@pytest.mark.parametrize("fn", [phash, dhash])
def test_degraded_copy_stays_near_and_different_pictures_stay_far(fn):
    images = samples()
    for key in PHOTOS:
        assert hamming(fn(images[key]), fn(degraded(images[key]))) <= NEAR, key
    hashes = {key: fn(images[key]) for key in PHOTOS}
    for a, b in itertools.combinations(PHOTOS, 2):
        assert hamming(hashes[a], hashes[b]) > NEAR, (a, b)


def test_same_picture_at_another_size_is_near():
    images = samples()  # the sample's astronaut-256 is the 512 px astronaut resized and re-encoded
    assert hamming(phash(images["skimage/astronaut"]), phash(images["skimage/astronaut-256"])) <= NEAR


@pytest.mark.parametrize("key", ["apache/reverse-proxy-arch.png", "apache/syntax_rewriterule.png"])
def test_a_transparent_picture_is_near_its_copy_flattened_onto_white(key):
    data = samples()[key]  # 91 % and 99 % transparent pixels over black
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGBA"
        flat = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB")
    buf = io.BytesIO()
    flat.save(buf, "JPEG", quality=75)
    assert hamming(phash(data), phash(buf.getvalue())) <= 2
    assert hamming(phash(data), phash(Image.open(io.BytesIO(data)).convert("RGB"))) > NEAR  # read without alpha


def test_matches_imagehash_on_the_flattened_picture_bit_for_bit():
    imagehash = pytest.importorskip("imagehash")
    checked = 0
    for key, data in samples().items():
        try:
            im = Image.open(io.BytesIO(data))
            im.load()
        except OSError:
            continue  # the sample's one truncated JPEG
        # Images smaller than pHash's 32x32 grid are upscaled flat areas: their DCT has near-ties at the
        # median that floating-point rounding decides, differently in scipy's FFT and a matrix product.
        if min(im.size) >= 32:
            assert int(phash(im)) == int(str(imagehash.phash(on_white(im))), 16), key
            checked += 1
        assert int(dhash(im)) == int(str(imagehash.dhash(on_white(im))), 16), key
    assert checked >= 40
