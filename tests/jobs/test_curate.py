from jobs.curate import _max_pixels
from pipeline.images.checks import ImageCheckConfig
from pipeline.images.decode import MAX_IMAGE_PIXELS
from pipeline.stages import CurateConfig


def test_images_decode_under_image_checks_own_pixel_cap():
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=1_000))) == 1_000
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=200_000_000))) == 200_000_000
    # off, or no cap of its own: Pillow's limit still guards memory
    assert _max_pixels(CurateConfig(image_checks=None)) == MAX_IMAGE_PIXELS
    assert _max_pixels(CurateConfig(image_checks=ImageCheckConfig(max_pixels=None))) == MAX_IMAGE_PIXELS


def test_a_repository_directory_counts_its_bytes_and_notices_an_edit_deep_inside(tmp_path):
    import os

    from jobs.curate import _size_and_mtime

    repo = tmp_path / "repo"
    (repo / "pkg" / "sub").mkdir(parents=True)
    (repo / "README.md").write_bytes(b"r" * 100)
    (repo / "pkg" / "sub" / "mod.py").write_bytes(b"m" * 1000)
    (repo / ".git").mkdir()
    (repo / ".git" / "objects").write_bytes(b"g" * 5000)  # not read, not counted
    before = _size_and_mtime(str(repo), 60)
    assert before[0] == 1100
    top = os.stat(repo).st_mtime_ns
    (repo / "pkg" / "sub" / "mod.py").write_bytes(b"n" * 1000)  # same size, the top folder's mtime unchanged
    os.utime(repo / "pkg" / "sub" / "mod.py", ns=(before[1] + 10**9, before[1] + 10**9))
    assert os.stat(repo).st_mtime_ns == top
    assert _size_and_mtime(str(repo), 60) != before
