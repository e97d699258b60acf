"""The image dedup pass on local Ray: the in-memory decisions, applied to files, whatever the partitions."""

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.image_dedup import run_image_dedup
from pipeline.curated_io import write_parquet_atomic
from pipeline.images.confirm import pixel_rows
from pipeline.images.dedup import ImageDedupConfig, occurrence_rows
from pipeline.images.dedup_docs import dedup_images_in_memory
from pipeline.schema import IMAGE_MARKER
from tests.jobs.test_near_dedup import _tree
from tests.pipeline.images.test_dedup import CHELSEA, docs, shard_image
from tests.pipeline.images.test_hash import degraded, samples


def _corpus() -> pa.Table:
    images = samples()
    logo, cup = images["skimage/logo"], images["skimage/coffee"]
    rows = [
        ("m/chelsea-small", f"{IMAGE_MARKER}\n{CHELSEA}", [shard_image("000000013.jpg")]),
        ("m/chelsea", f"{IMAGE_MARKER}\n{CHELSEA}", [images["skimage/chelsea"]]),
        ("m/ssh-en", f"{IMAGE_MARKER}\nForwarding a local port", [images["handbook/en-US/ssh-L.png"]]),
        ("m/ssh-ja", f"{IMAGE_MARKER}\nローカルポートの転送", [images["handbook/ja-JP/ssh-L.png"]]),
        ("m/cup-and-logo", f"A cup {IMAGE_MARKER}\n and the logo {IMAGE_MARKER}\n", [cup, degraded(logo)]),
    ]
    rows += [(f"m/logo-{i}", f"{IMAGE_MARKER}\nLogo number {i}", [logo]) for i in range(3)]
    return docs(*rows)


def _write(root: Path, table: pa.Table) -> None:
    ids = table["id"].to_pylist()
    for part in range(2):  # the near copies of Chelsea and of the logo sit in different files
        rows = table.filter(pa.array([i % 2 == part for i in range(len(ids))])).sort_by("id")
        write_parquet_atomic(rows, str(root / "curated" / "multimodal" / f"part-{part:05d}.parquet"))


def test_pass_applies_the_in_memory_decisions_and_is_byte_identical_in_one_task_or_shuffled(ray_local, tmp_path):
    table = _corpus()
    cfg = ImageDedupConfig(max_documents=3)
    expected, counts = dedup_images_in_memory(occurrence_rows(table, 0, cfg, {}), cfg, pictures=pixel_rows(table, None))
    assert {c["id"]: (c["duplicate_of"], c["removed"]) for c in expected.to_pylist()} == {
        "m/chelsea-small": ("m/chelsea", []),
        "m/cup-and-logo": (None, [1]),
        **{f"m/logo-{i}": (None, [0]) for i in range(3)},
    }
    assert counts["edges_refused"] == 1  # the handbook's ssh-L in English and in Japanese: the pixels differ

    trees = []
    for parts in (None, 3):  # one task, then shuffled into 3 partitions
        root = tmp_path / f"p{parts}"
        _write(root, table)
        result = run_image_dedup(str(root), cfg.model_copy(update={"partitions": parts}), ray_local)
        summary = result["summary"]
        assert {k: summary[k] for k in counts} == counts
        assert summary["dropped_near_duplicate_image"] == 1 and summary["dropped_frequent_image"] == 3
        trees.append(_tree(root))
    assert trees[0] == trees[1]

    kept = pq.read_table(tmp_path / "p3" / "curated" / "multimodal")
    assert sorted(kept["id"].to_pylist()) == ["m/chelsea", "m/cup-and-logo", "m/ssh-en", "m/ssh-ja"]
    both = kept.filter(pc.equal(kept["id"], "m/cup-and-logo")).to_pylist()[0]
    assert both["text"] == f"A cup {IMAGE_MARKER}\n and the logo " and len(both["images"]) == 1
    rejects = pq.read_table(tmp_path / "p3" / "rejects" / "multimodal")
    assert sorted(zip(rejects["id"].to_pylist(), rejects["reason"].to_pylist(), rejects["detail"].to_pylist()))[0] == (
        "m/chelsea-small",
        "near_duplicate_image",
        "m/chelsea",
    )
    shutil.rmtree(tmp_path)
