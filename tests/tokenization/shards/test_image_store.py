import hashlib

import pyarrow as pa
import pytest

from pipeline.schema import DOCUMENT_SCHEMA
from tokenization.shards.image_store import ImageStore, image_rows, write_image_part


def _img(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "width": 1, "height": 1, "bytes": data}


def test_images_stored_once_and_found_by_sha(tmp_path):
    images = [_img(f"image {i}".encode()) for i in range(40)]
    docs = pa.Table.from_pylist(
        [
            {
                "id": str(i),
                "source": "multimodal",
                "text": "",
                "meta": "{}",
                "images": [images[i % 40], images[(i * 7) % 40]],
            }
            for i in range(60)
        ],
        schema=DOCUMENT_SCHEMA,
    )
    rows = image_rows(docs)
    assert rows.num_rows == 120
    entries = []
    for prefix in sorted(set(rows["prefix"].to_pylist())):
        part = rows.filter(pa.compute.equal(rows["prefix"], prefix))
        entries += write_image_part(part, str(tmp_path / "images")).to_pylist()
    assert sum(e["images"] for e in entries) == 40
    store = ImageStore(str(tmp_path), entries)
    for image in images:
        assert store.get(image["sha256"]) == image["bytes"]
    with pytest.raises(KeyError, match="not in"):
        store.get(hashlib.sha256(b"absent").hexdigest())
    assert image_rows(docs.slice(0, 0)).num_rows == 0
