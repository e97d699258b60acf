from jobs.curate import _max_pixels
from pipeline.image_checks import ImageCheckConfig
from pipeline.image_decode import MAX_IMAGE_PIXELS
from pipeline.stages import CurateConfig


def test_images_decode_under_image_checks_own_pixel_cap():
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=1_000))) == 1_000
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=200_000_000))) == 200_000_000
    # off, or no cap of its own: Pillow's limit still guards memory
    assert _max_pixels(CurateConfig(image_checks=None)) == MAX_IMAGE_PIXELS
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=None))) == MAX_IMAGE_PIXELS
