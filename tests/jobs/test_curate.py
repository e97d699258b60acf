import os

import pytest

from jobs.curate import _max_pixels
from pipeline.images.checks import ImageCheckConfig
from pipeline.images.decode import MAX_IMAGE_PIXELS
from pipeline.stages import CurateConfig
from tests.conftest import REPO


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


@pytest.mark.slow
def test_a_book_file_cleaned_by_several_tasks_gives_the_bytes_of_one_task(tmp_path, ray_local):
    """SourceSpec.split_mb: the sample's book file cleaned by 5 tasks, every 5th batch each: the same curated
    and rejected files, byte for byte, and the same accounting as one task reading it all."""
    import yaml

    from jobs.config import load_config
    from jobs.curate import _shares
    from jobs.run import run
    from pipeline.read.readers import SourceSpec
    from tests.jobs.conftest import tree_digest

    books = os.path.join(REPO, "data", "sample", "books", "books.jsonl.gz")
    assert _shares(SourceSpec(name="book", paths=[], split_mb=0.3), books, os.path.getsize(books)) == 5
    results = []
    for split in (None, 0.3):  # 1.28 MB on disk: 5 shares
        source = {"name": "book", "paths": [books], "text_field": "text", "batch_rows": 50, "split_mb": split}
        source["split_records"] = 20  # runs shorter than a batch: a share's batches join runs far apart
        source["meta_fields"] = ["title", "author", "language"]
        out = tmp_path / f"out-{split}"
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"sources": [source], "output_dir": str(out)}))
        stats = run(load_config(str(tmp_path / "c.yaml")), str(out), until="curate", force=True)["curate"]
        results.append((tree_digest(out, ["curated", "rejects"]), stats["totals"], stats["reconciled"]))
    (one, totals, ok), (split, split_totals, split_ok) = results
    assert ok and split_ok and totals == split_totals and totals["kept"] and totals["dropped"]
    assert len(one) >= 2 and split == one
