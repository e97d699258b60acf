import gzip
import hashlib
import io
import json
import os
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.images.webdataset import WebDatasetConfig, split_name
from pipeline.read.readers import InputFile, SourceSpec, detect_format, read_input
from pipeline.read.records import RecordError
from pipeline.read.safety import ReadLimits
from pipeline.schema import KEPT, QUARANTINED, WORK_SCHEMA
from tests.conftest import REPO

PAIRS = {r["key"]: r for r in pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet").to_pylist()}
PNG = PAIRS["matplotlib/home"]["image"]  # real images from the sample, 468 and 2,392 bytes
GIF = PAIRS["apache/mod_filter_new.gif"]["image"]


def _shard(path, *members: tuple[str, bytes | None, bytes]) -> str:
    """A tar of ``(name, data, tar type)`` members, in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, len(data or b"")
            info.linkname = "../../etc/passwd" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(gzip.compress(buf.getvalue()) if str(path).endswith("gz") else buf.getvalue())
    return str(path)


def _f(name: str, data: bytes) -> tuple[str, bytes, bytes]:
    return name, data, tarfile.REGTYPE


def _read(path: str, **spec) -> dict[str, dict]:
    spec = SourceSpec(name="multimodal", paths=[], **spec)
    tables = list(read_input(spec, InputFile("multimodal", path, os.path.basename(path))))
    assert all(t.schema == WORK_SCHEMA for t in tables)
    rows = pa.concat_tables(tables).to_pylist()
    return {r["id"].split("#", 1)[1]: r for r in rows}


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_members_grouped_by_key_captions_from_json_then_txt(tmp_path, suffix):
    path = _shard(
        tmp_path / f"s{suffix}",
        _f("a.png", PNG),
        _f("a.json", b'{"caption": "Home button", "url": "u-a", "width": 24}'),
        _f("a.txt", b"not used: the json caption wins"),
        _f("b.gif", GIF),
        _f("b.txt", b"  The mod_filter model\n"),
        _f("c.PNG", PNG),
        _f("c.json", b'{"caption": "   ", "url": "u-c"}'),
        _f("c.txt", b"from txt"),
    )
    rows = _read(path, meta_fields=["key", "url", "width"])
    assert list(rows) == ["a", "b", "c"]
    assert [r["text"] for r in rows.values()] == [
        "<|image|>\nHome button",
        "<|image|>\nThe mod_filter model",
        "<|image|>\nfrom txt",
    ]
    assert json.loads(rows["a"]["meta"]) == {"key": "a", "url": "u-a", "width": 24}
    assert json.loads(rows["b"]["meta"]) == {"key": "b"}
    assert rows["b"]["images"][0]["sha256"] == hashlib.sha256(GIF).hexdigest()
    assert rows["a"]["id"] == f"multimodal/s{suffix}#a" and {r["status"] for r in rows.values()} == {KEPT}


def test_caption_field_is_configurable():
    cfg = WebDatasetConfig(caption_field="alt_text")
    assert SourceSpec(name="multimodal", paths=[], webdataset=cfg).webdataset.caption_field == "alt_text"


def test_caption_field_read_from_json(tmp_path):
    path = _shard(tmp_path / "s.tar", _f("a.png", PNG), _f("a.json", b'{"alt_text": "Home", "caption": "x"}'))
    rows = _read(path, webdataset=WebDatasetConfig(caption_field="alt_text"))
    assert rows["a"]["text"] == "<|image|>\nHome"


def test_missing_image_caption_and_corrupt_image_quarantine_their_key_and_the_shard_goes_on(tmp_path):
    path = _shard(
        tmp_path / "s.tar",
        _f("0.json", b'{"caption": "no image here"}'),
        _f("1.png", PNG),
        _f("1.json", b'{"url": "u"}'),
        _f("2.png", PNG[: len(PNG) // 2]),
        _f("2.txt", b"cut in half"),
        _f("3.json", b"[1, 2]"),
        _f("3.png", PNG),
        _f("4.png", PNG),
        _f("4.txt", b"Home"),
    )
    rows = _read(path)
    reasons = {k: (r["status"], r["reason"]) for k, r in rows.items()}
    assert reasons == {
        "0": (QUARANTINED, "image_missing"),
        "1": (QUARANTINED, "caption_missing"),
        "2": (QUARANTINED, "image_unreadable"),
        "3": (QUARANTINED, "invalid_json"),
        "4": (KEPT, None),
    }
    assert "json" in rows["0"]["text"]  # the preview names the members the sample had


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (("../../etc/x.png", PNG, tarfile.REGTYPE), "path_traversal"),
        (("/abs/x.png", PNG, tarfile.REGTYPE), "absolute_path"),
        (("x.png", None, tarfile.SYMTYPE), "symlink"),
        (("x.png", None, tarfile.CHRTYPE), "special_file"),
    ],
)
def test_unsafe_member_stops_the_shard_samples_before_it_kept(tmp_path, member, reason):
    path = _shard(
        tmp_path / "s.tar",
        _f("a.png", PNG),
        _f("a.txt", b"Home"),
        _f("b.png", PNG),
        _f("b.txt", b"b"),
        member,
        _f("z.png", PNG),
        _f("z.txt", b"never read"),
    )
    rows = _read(path)
    assert list(rows) == ["a", "file"]  # b was still open when the shard stopped: it may have had more members
    assert rows["a"]["status"] == KEPT and rows["file"]["reason"] == reason


def test_decompression_past_the_cap_stops_the_shard(tmp_path):
    path = _shard(tmp_path / "s.tar", _f("a.png", PNG), _f("a.txt", b"Home"), _f("b.png", bytes(4096)))
    limits = ReadLimits(max_total_bytes=3000, max_file_bytes=10_000)
    rows = _read(path, webdataset=WebDatasetConfig(limits=limits))
    assert rows["file"]["reason"] == "decompression_bomb"


def test_member_over_the_size_cap_quarantines_its_sample(tmp_path):
    path = _shard(tmp_path / "s.tar", _f("a.gif", GIF), _f("a.txt", b"big"), _f("b.png", PNG), _f("b.txt", b"ok"))
    rows = _read(path, webdataset=WebDatasetConfig(limits=ReadLimits(max_file_bytes=1000)))
    assert (rows["a"]["reason"], rows["b"]["status"]) == ("file_too_large", KEPT)


def test_multi_dot_names_split_at_the_first_dot_of_the_base_name(tmp_path):
    assert split_name("shards/v1.2/000001.seg.png") == ("shards/v1.2/000001", "seg.png")
    assert split_name("a.JPG") == ("a", "jpg") and split_name("README") is None and split_name(".hidden.txt") is None
    path = _shard(
        tmp_path / "s.tar",
        _f("d.x/k.jpeg.png", PNG),
        _f("d.x/k.jpeg.txt", b"ext is jpeg.png: not an image"),
        _f("m.png", PNG),
        _f("m.seg.png", GIF),
        _f("m.txt", b"Home"),
        _f("LICENSE", b"no dot"),
    )
    rows = _read(path)
    assert rows["d.x/k"]["reason"] == "image_missing"
    assert rows["m"]["images"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()  # not the seg.png member
    assert list(rows) == ["d.x/k", "m"]


def test_key_split_across_the_shard_and_duplicate_member(tmp_path):
    path = _shard(
        tmp_path / "s.tar",
        _f("a.png", PNG),
        _f("b.png", PNG),
        _f("b.txt", b"b"),
        _f("a.txt", b"a"),
        _f("c.png", PNG),
        _f("c.txt", b"c"),
        _f("c.txt", b"again"),
    )
    rows = _read(path)
    assert {k: r["reason"] for k, r in rows.items()} == {
        "a": "caption_missing",
        "b": None,
        "a~2": "key_not_contiguous",
        "c": "duplicate_entry",
    }


def test_format_detection_keeps_code_archives_code():
    mm, code, web = (SourceSpec(name=n, paths=[]) for n in ("multimodal", "code", "web"))
    assert [detect_format(mm, p) for p in ("s.tar", "s.tar.gz", "s.tgz")] == ["webdataset"] * 3
    assert detect_format(code, "repo.tar.gz") == detect_format(code, "repo.tar") == "code_repo"
    with pytest.raises(RecordError):
        detect_format(web, "s.tar")


def test_sample_shard():
    rows = _read(f"{REPO}/data/sample/multimodal/webdataset/shard-000000.tar", meta_fields=["key", "url", "license"])
    assert len(rows) == 17
    assert {k: r["reason"] for k, r in rows.items() if r["status"] == QUARANTINED} == {
        "000000014": "image_unreadable",
        "000000015": "caption_missing",
        "000000016": "image_missing",
    }
    sha = {k: r["images"][0]["sha256"] for k, r in rows.items() if r["status"] == KEPT}
    assert sha["000000011"] == sha["000000012"]  # the Handbook's en and de boot screens: the same file
    assert sha["000000001"] == hashlib.sha256(PAIRS["skimage/chelsea"]["image"]).hexdigest()
    small, full = rows["000000013"]["images"][0], rows["000000001"]["images"][0]
    assert small["sha256"] != full["sha256"] and max(small["width"], small["height"]) == 320
    assert rows["000000013"]["text"] == rows["000000001"]["text"]
