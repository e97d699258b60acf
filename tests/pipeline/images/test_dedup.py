import hashlib
import io
import os
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from pipeline.images.confirm import pixel_rows
from pipeline.images.dedup import ImageDedupConfig, occurrence_rows, vertex
from pipeline.images.dedup_apply import apply_image_dedup
from pipeline.images.dedup_docs import dedup_images_in_memory
from pipeline.schema import DOCUMENT_SCHEMA, IMAGE_MARKER
from tests.pipeline.images.test_hash import REPO, degraded, samples

CHELSEA = "Chelsea the cat, a photograph with texture and prominent edges."


def image(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
    return {"sha256": hashlib.sha256(data).hexdigest(), "width": w, "height": h, "bytes": data}


def docs(*rows: tuple[str, str, list[bytes]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"id": i, "source": "multimodal", "text": text, "meta": "{}", "images": [image(b) for b in imgs]}
            for i, text, imgs in rows
        ],
        schema=DOCUMENT_SCHEMA,
    )


def decide(table: pa.Table, **cfg) -> tuple[dict[str, dict], dict[str, int]]:
    config = ImageDedupConfig(**cfg)
    changes, counts = dedup_images_in_memory(
        occurrence_rows(table, 0, config, {}), config, pictures=pixel_rows(table, None)
    )
    return {c["id"]: c for c in changes.to_pylist()}, counts


def shard_image(name: str) -> bytes:
    with tarfile.open(f"{REPO}/data/sample/multimodal/webdataset/shard-000000.tar") as tar:
        return tar.extractfile(name).read()


def test_a_near_copy_with_the_same_text_is_a_duplicate_and_the_larger_copy_survives():
    original, reencoded = samples()["skimage/chelsea"], shard_image("000000013.jpg")  # 320 px at JPEG quality 40
    assert image(reencoded)["width"] < image(original)["width"]
    changes, counts = decide(
        docs(
            ("a", f"{IMAGE_MARKER}\n{CHELSEA}", [reencoded]),  # the smaller id...
            ("b", f"{IMAGE_MARKER}\n{CHELSEA}", [original]),
        )
    )
    assert changes["a"]["duplicate_of"] == "b" and "b" not in changes  # ...loses to the larger picture
    assert counts["near_duplicates"] == 1 and counts["exact_duplicates"] == 0


def test_near_copies_under_their_own_captions_are_kept():
    images = samples()  # the handbook's figure with English and Japanese labels: pHash cannot tell them apart...
    changes, counts = decide(
        docs(
            ("en", f"{IMAGE_MARKER}\nForwarding a local port with SSH", [images["handbook/en-US/ssh-L.png"]]),
            ("ja", f"{IMAGE_MARKER}\nSSH を使ったローカルポートの転送", [images["handbook/ja-JP/ssh-L.png"]]),
            ("c", f"{IMAGE_MARKER}\nA cat", [images["skimage/coffee"]]),
            ("d", f"{IMAGE_MARKER}\nA cup", [images["skimage/coffee"]]),
        )
    )
    assert changes == {}
    # ...the pixel check can: the hash edge is refused
    assert counts["near_duplicates"] == 0 and counts["edges_refused"] == 1 and counts["exact_duplicates"] == 1
    hash_only = decide(
        docs(("en", "x", [images["handbook/en-US/ssh-L.png"]]), ("ja", "y", [images["handbook/ja-JP/ssh-L.png"]])),
        pixel_check=None,
    )[1]
    assert hash_only["near_duplicates"] == 1 and hash_only["edges_refused"] == 0
    assert counts["images"] == 4 and counts["distinct"] == 3


def test_a_frequent_image_leaves_every_document_with_its_marker(tmp_path):
    images = samples()
    logo, small_logo, cup = images["skimage/logo"], degraded(images["skimage/logo"]), images["skimage/coffee"]
    table = docs(
        ("1", f"{IMAGE_MARKER}\nThe logo", [logo]),
        ("2", f"{IMAGE_MARKER}\nLogo, then a cup\n{IMAGE_MARKER}\nof coffee", [small_logo, cup]),
        ("3", f"Footer {IMAGE_MARKER}\n", [logo]),
    )
    changes, counts = decide(table, max_documents=2)  # three documents use the logo (two copies of it)
    assert {i: c["removed"] for i, c in changes.items()} == {"1": [0], "2": [0], "3": [0]}
    assert counts["frequent_images"] == 2 and counts["images_removed"] == 3
    assert decide(table, max_documents=3)[0] == {}

    curated = tmp_path / "curated" / "multimodal" / "part-00000.parquet"
    curated.parent.mkdir(parents=True)
    pq.write_table(table, curated)
    rows = apply_image_dedup(
        str(tmp_path), "curated/multimodal/part-00000.parquet", pa.Table.from_pylist(list(changes.values())), 2
    )
    kept = pq.read_table(curated).to_pylist()
    assert [(d["id"], d["text"], [i["sha256"] for i in d["images"]]) for d in kept] == [
        ("2", f"Logo, then a cup\n{IMAGE_MARKER}\nof coffee", [image(cup)["sha256"]])
    ]
    rejects = pq.read_table(tmp_path / "rejects" / "multimodal" / "image_dedup-part-00000.parquet").to_pylist()
    assert [(r["id"], r["stage"], r["reason"]) for r in rejects] == [
        ("1", "image_dedup", "frequent_image"),
        ("3", "image_dedup", "frequent_image"),
    ]
    assert sum(r["docs"] for r in rows) == 0 and [r["docs"] for r in rows if r["status"] == "dropped"] == [2]
    assert not os.path.exists(f"{curated}.new")


def test_duplicate_documents_can_be_turned_off():
    original, reencoded = samples()["skimage/chelsea"], shard_image("000000013.jpg")
    table = docs(("a", f"{IMAGE_MARKER}\n{CHELSEA}", [reencoded]), ("b", f"{IMAGE_MARKER}\n{CHELSEA}", [original]))
    changes, counts = decide(table, duplicate_documents=False)
    assert changes == {} and counts["near_duplicates"] == 1


def test_an_undecodable_image_is_counted_not_fatal():
    good = samples()["skimage/coffee"]
    changes, counts = decide(
        docs(("a", f"{IMAGE_MARKER}\nbroken", [good[: len(good) // 3]]), ("b", f"{IMAGE_MARKER}\ncup", [good]))
    )
    assert changes == {} and counts["unhashed"] == 1 and counts["distinct"] == 2


def test_vertices_sort_the_best_copy_first():
    assert vertex("f" * 64, 451, 300) < vertex("0" * 64, 320, 213) < vertex("1" * 64, 320, 213)


def _site_docs(image_bytes: bytes, ids: list[str]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "id": i,
                "source": "multimodal",
                "text": f"{IMAGE_MARKER}\nPage {n}",
                "meta": "{}",
                "images": [image(image_bytes)],
            }
            for n, i in enumerate(ids)
        ],
        schema=DOCUMENT_SCHEMA,
    )


def test_a_figure_repeated_in_its_translations_stays_and_one_repeated_across_sites_goes():
    """OBELICS meant logos repeated across the web: a documentation figure in 12 translations of one manual
    (one site) is content; the same picture on 12 sites is boilerplate; a small icon repeated anywhere is too."""
    figure = samples()["handbook/en-US/ssh-L.png"]
    assert max(image(figure)["width"], image(figure)["height"]) > 200
    translations = _site_docs(figure, [f"multimodal/handbook/{lang}/ssh.html#0" for lang in range(12)])
    assert decide(translations)[0] == {}
    assert set(decide(translations, frequent_by="documents")[0]) == set(translations["id"].to_pylist())
    sites = _site_docs(figure, [f"multimodal/site{n}/page.html#0" for n in range(12)])
    assert set(decide(sites)[0]) == set(sites["id"].to_pylist())
    by_url = translations.set_column(3, "meta", pa.array([f'{{"url": "https://www.s{n}.org/a"}}' for n in range(12)]))
    assert len(decide(by_url)[0]) == 12  # the URL's host is the site when there is one
    icon = io.BytesIO()
    Image.open(io.BytesIO(figure)).convert("RGB").resize((48, 48)).save(icon, "PNG")
    assert len(decide(_site_docs(icon.getvalue(), translations["id"].to_pylist()))[0]) == 12
