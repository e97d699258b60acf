import io
import os
import signal
import struct
import subprocess
import sys
import warnings
import zlib

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageFile

from pipeline.images import decode as image_decode
from pipeline.images.decode import DecodedImage, decode_image, png_stream_short
from pipeline.read.record_error import RecordError
from pipeline.web.html_image_sources import ImageSkipped, load_image
from tests.conftest import REPO


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, raw: bytes, color: int = 2, interlace: int = 0) -> bytes:
    """A PNG whose IDAT holds ``raw`` as given: rows, each a filter byte and its pixels, however many."""
    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _encoded(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture()
def folder(tmp_path):
    """data/ holds the data file's images; outside.png, a real PNG, sits next to it, outside."""
    png = _encoded(Image.effect_noise((40, 30), 50))
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "data" / "imgs" / "a.png").write_bytes(png)
    (tmp_path / "outside.png").write_bytes(png)
    return tmp_path


@pytest.mark.parametrize(
    "value",
    [
        "/etc/passwd",
        "/root/.ssh/id_rsa",
        "../../../private/secret.png",
        "../outside.png",
        "imgs/../../outside.png",
        {"bytes": None, "path": "../outside.png"},
        "/dev/null",
    ],
)
def test_paths_outside_the_data_folder_are_refused(folder, value):
    with pytest.raises(RecordError) as e:
        decode_image(value, str(folder / "data"))
    assert e.value.reason == "image_outside_root"
    assert str(folder) not in e.value.detail  # no resolved path echoed


def test_refusal_does_not_tell_whether_an_outside_path_exists(folder):
    details = []
    for value in ("../outside.png", "../nothing.png", str(folder / "outside.png"), str(folder / "nothing.png")):
        with pytest.raises(RecordError) as e:
            decode_image(value, str(folder / "data"))
        details.append((e.value.reason, e.value.detail.replace(repr(value), "<value>")))
    assert len(set(details)) == 1


def test_symlinks_are_followed_only_while_they_stay_inside(folder):
    data = folder / "data"
    os.symlink(folder / "outside.png", data / "out.png")
    os.symlink(folder, data / "up")
    os.symlink(data / "imgs" / "a.png", data / "in.png")
    os.symlink("/dev/null", data / "null.png")
    for value in ("out.png", "up/outside.png", "up/nothing.png", "null.png"):
        with pytest.raises(RecordError, match="image_outside_root"):
            decode_image(value, str(data))
    assert decode_image("in.png", str(data))["width"] == 40


def test_paths_inside_the_data_folder_still_read(folder):
    data = str(folder / "data")
    plain, hf = decode_image("imgs/a.png", data), decode_image({"bytes": None, "path": "./imgs/../imgs/a.png"}, data)
    assert isinstance(plain, DecodedImage) and (plain["width"], plain["height"]) == (40, 30)
    assert hf["sha256"] == plain["sha256"]
    with pytest.raises(RecordError) as e:
        decode_image("imgs/gone.png", data)
    assert e.value.reason == "image_missing"


def test_no_local_folder_reads_no_path(folder, monkeypatch):
    """A base_dir of "" (a data file named relative to the working directory) or a URL never means the cwd."""
    monkeypatch.chdir(folder / "data")
    for base_dir in ("", "s3://bucket/data", "file:///data"):
        with pytest.raises(RecordError) as e:
            decode_image("imgs/a.png", base_dir)
        assert e.value.reason == "image_outside_root"


def test_only_regular_files_are_read(folder):
    data = folder / "data"
    os.mkfifo(data / "pipe.png")
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("opening a FIFO blocked"))
    signal.alarm(5)
    try:
        for value in ("pipe.png", "imgs"):
            with pytest.raises(RecordError) as e:
                decode_image(value, str(data))
            assert e.value.reason == "image_missing" and "not a regular file" in e.value.detail
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_a_file_over_max_bytes_is_not_read(folder):
    size = (folder / "data" / "imgs" / "a.png").stat().st_size
    assert decode_image("imgs/a.png", str(folder / "data"), max_bytes=size)["width"] == 40
    with pytest.raises(RecordError) as e:
        decode_image("imgs/a.png", str(folder / "data"), max_bytes=size - 1)
    assert e.value.reason == "image_too_large"


def test_html_pages_share_the_rule(folder):
    data = str(folder / "data")
    assert load_image("imgs/a.png", data, data, 1 << 20)["width"] == 40
    for src, reason in (("../outside.png", "outside_root"), ("imgs/gone.png", "missing"), ("imgs/a.png", "too_large")):
        with pytest.raises(ImageSkipped) as e:
            load_image(src, data, data, 100)
        assert e.value.reason == reason


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> str:
    """A 13000x13000 grey PNG of zeros, all rows present: 169 Mpx, under Pillow's error limit, 0.7 MB on disk."""
    deflate, row, parts = zlib.compressobj(1), bytes(13001), []
    for _ in range(13):
        parts.append(deflate.compress(row * 1000))
    raw = b"".join(parts) + deflate.flush()
    header = struct.pack(">IIBBBBB", 13000, 13000, 8, 0, 0, 0, 0)
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b""))
    return str(path)


def test_an_image_over_max_pixels_is_refused_before_decoding(bomb, monkeypatch):
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size))
    with open(bomb, "rb") as f:
        data = f.read()
    with pytest.raises(RecordError) as e:
        decode_image(data)
    assert e.value.reason == "image_too_many_pixels" and "13000x13000" in e.value.detail
    small = _encoded(Image.new("RGB", (300, 200)))
    with pytest.raises(RecordError, match="image_too_many_pixels"):
        decode_image(small, max_pixels=300 * 200 - 1)
    assert loads == []


def test_refusing_a_bomb_keeps_memory_flat(bomb):
    """Peak RSS of a fresh interpreter: decoding this image in full costs 169 MB (727 MB as RGB)."""
    script = (
        "import resource, sys\n"
        "from pipeline.images.decode import decode_image\n"
        "from pipeline.read.record_error import RecordError\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    decode_image(data); print('kept')\n"
        "except RecordError as e:\n    print(e.reason)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, bomb], cwd=REPO, capture_output=True, text=True, check=True)
    reason, growth_kb = out.stdout.split()
    assert reason == "image_too_many_pixels" and int(growth_kb) < 32 << 10


def test_pillows_bomb_warning_is_no_silent_pass(bomb):
    """max_pixels=None leaves Pillow's limit: its warning refuses the image instead of being printed."""
    with open(bomb, "rb") as f:
        data = f.read()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RecordError) as e:
            decode_image(data, max_pixels=None)
    assert e.value.reason == "image_too_many_pixels"


def _gray_rows(width: int, rows: int) -> bytes:
    return (b"\x00" + b"\x80" * width) * rows


def test_a_png_whose_data_ends_early_is_unreadable():
    """A well-formed zlib stream of 10 rows under a 4000x4000 header: Pillow leaves the rest black."""
    short = _png(4000, 4000, (b"\x00" + b"\x80" * 12000) * 10)
    # Adam7: passes 1-6 of a 64x64 grey image, pass 7 (the odd rows) missing
    passes = [(8, 8), (8, 8), (16, 8), (16, 16), (32, 16), (32, 32)]
    interlaced = _png(64, 64, b"".join(_gray_rows(cols, rows) for cols, rows in passes), color=0, interlace=1)
    for data in (short, interlaced):
        with pytest.raises(RecordError) as e:
            decode_image(data)
        assert e.value.reason == "image_unreadable" and "truncated" in e.value.detail


def test_complete_pngs_are_kept_and_measured_only_when_in_doubt(monkeypatch):
    """A blank last row is written like any other; only a last pixel equal to the mark sends the stream to be
    measured, and a whole stream then passes."""
    transparent = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    transparent.paste((200, 10, 10, 255), (0, 0, 300, 100))
    plain = [
        _encoded(transparent),
        _encoded(Image.new("P", (160, 160))),
        _encoded(Image.new("1", (33, 17))),
        _encoded(Image.new("I;16", (31, 7))),
        _png(5, 5, bytes(36), color=0, interlace=1),  # Adam7 of a 5x5 grey image: 36 bytes in 7 passes
        _png(4000, 4000, bytes(4000 * 12001)),
    ]
    in_doubt = [_encoded(Image.new("RGB", (20, 10), (0x5A, 0xA5, 0x3C))), _encoded(Image.new("L", (9, 9), 0x5A))]
    measured = []
    real_measure = image_decode.png_stream_short
    monkeypatch.setattr(image_decode, "png_stream_short", lambda data: measured.append(data) or real_measure(data))
    for data in plain + in_doubt:
        assert not real_measure(data)
        assert decode_image(data)["width"] in (300, 160, 33, 31, 5, 4000, 20, 9)
    assert measured == in_doubt


def test_a_cut_file_is_unreadable():
    """A file cut short (a broken download): Pillow runs out of data and says so; no LOAD_TRUNCATED_IMAGES here."""
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    for fmt in ("JPEG", "PNG"):
        data = _encoded(Image.effect_noise((200, 200), 40).convert("RGB"), fmt)
        with pytest.raises(RecordError) as e:
            decode_image(data[: len(data) // 2])
        assert e.value.reason == "image_unreadable" and "truncated" in e.value.detail


def test_every_sample_image_still_decodes():
    """The sample's one corrupt image (PROVENANCE.md: the first half of a JPEG) is its only refusal."""
    rows = pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet", columns=["key", "image"]).to_pylist()
    pngs = [r["image"] for r in rows if r["image"][:8] == b"\x89PNG\r\n\x1a\n"]
    assert pngs and not any(png_stream_short(p) for p in pngs)
    refused = []
    for r in rows:
        try:
            assert decode_image(r["image"])["width"] > 0
        except RecordError as e:
            refused.append((r["key"], e.reason))
    assert refused == [("skimage/rocket-truncated", "image_unreadable")]
