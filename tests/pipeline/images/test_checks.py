import hashlib
import io
import struct
import time
import zlib
from functools import cache

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from pipeline.accounting import build_stats, count_outcomes
from pipeline.images.checks import ImageCheckConfig, check_image
from pipeline.images.metadata import strip_metadata
from pipeline.schema import DROPPED, IMAGE_MARKER, KEPT, QUARANTINED, WORK_SCHEMA
from pipeline.stages import ROW_STAGE_NAMES, CurateConfig, run_row_stages, stage_order
from tests.conftest import REPO

CFG = ImageCheckConfig()


@cache
def sample(key: str) -> bytes:
    rows = pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet", columns=["key", "image"]).to_pylist()
    return next(r["image"] for r in rows if r["key"] == key)


def picture(key: str) -> Image.Image:
    return Image.open(io.BytesIO(sample(key)))


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGBA").tobytes()


def scan_data(jpeg: bytes) -> bytes:
    return jpeg[jpeg.rindex(b"\xff\xda") :]  # a baseline JPEG's only SOS: entropy-coded data never holds FF DA


def with_segments(jpeg: bytes, *segments: tuple[int, bytes]) -> bytes:
    """The JPEG with these (marker, payload) segments inserted after its APP0 (JFIF) segment."""
    app0_end = 4 + int.from_bytes(jpeg[4:6], "big")
    extra = b"".join(b"\xff" + bytes([m]) + (len(p) + 2).to_bytes(2, "big") + p for m, p in segments)
    return jpeg[:app0_end] + extra + jpeg[app0_end:]


def exif(orientation: int | None = None) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + TIFF) naming a camera, with an orientation if given."""
    e = Image.Exif()
    e[0x010F], e[0x0110] = "Acme Camera", "Model 7"
    if orientation is not None:
        e[0x0112] = orientation
    return e.tobytes()


def riff_chunk(webp: bytes, fourcc: bytes) -> bytes:
    at = webp.index(fourcc)
    return webp[at : at + 8 + int.from_bytes(webp[at + 4 : at + 8], "little")]


def _only_image_stages() -> CurateConfig:
    off = [
        s
        for s in ROW_STAGE_NAMES
        if s in CurateConfig.model_fields and s not in {"clean", "min_length", "image_checks"}
    ]
    return CurateConfig(**dict.fromkeys(off))


def _image(data: bytes) -> dict:
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception:
        w, h = 0, 0
    return {"sha256": hashlib.sha256(data).hexdigest(), "width": w, "height": h, "bytes": data}


def _doc(ident: str, text: str, images: list[bytes]) -> dict:
    return {
        "id": ident,
        "source": "multimodal",
        "text": text,
        "meta": "{}",
        "images": [_image(b) for b in images],
        "status": KEPT,
        "stage": None,
        "reason": None,
        "detail": None,
        "rewrites": [],
    }


def _run(rows: list[dict]) -> dict[str, dict]:
    table = run_row_stages(pa.Table.from_pylist(rows, schema=WORK_SCHEMA), _only_image_stages())
    return {r["id"]: r for r in table.to_pylist()}


def test_unreadable_only_image_quarantines_its_document_and_stats_reconcile():
    astronaut = sample("skimage/astronaut")
    rows = [
        _doc("mm/garbage", f"{IMAGE_MARKER}\nA picture.", [b"\x89PNG\r\n\x1a\n" + b"\x00" * 64]),
        _doc("mm/truncated", f"{IMAGE_MARKER}\nA picture.", [astronaut[: len(astronaut) // 2]]),
        _doc("mm/icon", f"{IMAGE_MARKER}\nThe home icon.", [sample("matplotlib/home")]),
        _doc("mm/ok", f"{IMAGE_MARKER}\nAn astronaut.", [astronaut]),
    ]
    table = run_row_stages(pa.Table.from_pylist(rows, schema=WORK_SCHEMA), _only_image_stages())
    out = {r["id"]: r for r in table.to_pylist()}
    for ident in ("mm/garbage", "mm/truncated"):
        assert (out[ident]["status"], out[ident]["stage"], out[ident]["reason"]) == (
            QUARANTINED,
            "image_checks",
            "image_unreadable",
        )
    assert "truncated" in out["mm/truncated"]["detail"]
    assert (out["mm/icon"]["status"], out["mm/icon"]["reason"], out["mm/icon"]["detail"]) == (
        DROPPED,
        "too_small",
        "PNG 24x24",
    )
    assert out["mm/ok"]["status"] == KEPT and out["mm/ok"]["images"][0]["bytes"] == astronaut
    stats = build_stats(count_outcomes(table).to_pylist(), {"multimodal": 4}, stage_order(_only_image_stages()))
    funnel = {f["stage"]: f for f in stats["funnel"]}
    assert stats["reconciled"] and funnel["image_checks"]["quarantined"] == 2 and funnel["image_checks"]["out"] == 1


def test_header_claiming_huge_size_is_refused_before_decoding():
    png = bytearray(sample("skimage/microaneurysms"))  # a real 102x102 PNG; IHDR is its first chunk
    png[16:24] = struct.pack(">II", 100_000, 100_000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    for cfg in (CFG, ImageCheckConfig(max_pixels=None)):  # ours, then Pillow's own bomb limit
        start = time.perf_counter()
        assert check_image(bytes(png), cfg)[0] == "too_many_pixels"
        assert time.perf_counter() - start < 0.5  # 10 gigapixels were never allocated
    assert check_image(sample("skimage/astronaut"), ImageCheckConfig(max_pixels=512 * 511))[0] == "too_many_pixels"


def test_format_size_and_aspect_rules():
    with Image.open(io.BytesIO(sample("skimage/astronaut"))) as im:
        bmp, tiff = encode(im, "BMP"), encode(im, "TIFF")
        wide, edge = encode(im.crop((0, 0, 512, 160)), "PNG"), encode(im.crop((0, 0, 480, 160)), "PNG")
    assert check_image(bmp, CFG)[0] == "format_not_allowed" and check_image(tiff, CFG)[0] == "format_not_allowed"
    assert check_image(wide, CFG)[0] == "aspect_ratio"  # 3.2 : 1
    assert check_image(edge, CFG)[0] is None  # exactly 3 : 1 passes (DataComp keeps <= 3)
    assert check_image(sample("apache/pixel.gif"), CFG)[0] == "too_small"
    assert check_image(sample("skimage/microaneurysms"), CFG)[0] == "too_small"  # 102 px < 150
    assert check_image(sample("skimage/microaneurysms"), ImageCheckConfig(min_side=100))[0] is None


def test_multi_picture_jpeg_is_kept_as_its_first_picture():
    with picture("skimage/astronaut") as first, picture("skimage/coffee") as second:
        mpo = encode(first, "MPO", save_all=True, append_images=[second])  # as phone cameras write them
    reason, _, image, events = check_image(mpo, CFG)
    assert reason is None and events == ["metadata_stripped"]  # the MPF index goes; no re-encoding
    with Image.open(io.BytesIO(image["bytes"])) as out:
        assert out.format == "JPEG" and out.size == (512, 512)
    assert pixels(image["bytes"]) == pixels(mpo)  # the first picture, decoded


def test_animated_gif_keeps_its_first_frame_as_png():
    with picture("skimage/camera") as first, picture("skimage/brick") as second:
        gif = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(io.BytesIO(gif)) as im:
        assert im.n_frames == 2
        first = im.convert("RGBA").tobytes()
    reason, _, image, events = check_image(gif, CFG)
    assert reason is None and events == ["first_frame"]
    with Image.open(io.BytesIO(image["bytes"])) as out:
        assert out.format == "PNG" and not getattr(out, "is_animated", False) and out.size == (512, 512)
    assert pixels(image["bytes"]) == first and image["sha256"] == hashlib.sha256(image["bytes"]).hexdigest()


def test_jpeg_metadata_stripped_and_scan_data_untouched():
    original = sample("skimage/astronaut")  # JFIF, tables, one scan: nothing to strip
    assert strip_metadata(original, "JPEG") == original
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><dc:creator>Jane Doe</dc:creator></x:xmpmeta>"
    tagged = with_segments(
        original, (0xE1, exif()), (0xE1, xmp), (0xFE, b"shot at 51.5N 0.1W"), (0xED, b"Photoshop 3.0\x00IPTC")
    )
    reason, _, image, events = check_image(tagged, CFG)
    assert reason is None and events == ["metadata_stripped"]
    assert image["bytes"] == original and image["sha256"] == hashlib.sha256(original).hexdigest()
    assert scan_data(image["bytes"]) == scan_data(tagged)
    rotated = with_segments(original, (0xE1, exif(orientation=6)))  # orientation 6: shown rotated 90 degrees
    stripped = strip_metadata(rotated, "JPEG")
    with Image.open(io.BytesIO(stripped)) as im:
        assert dict(im.getexif()) == {0x0112: 6}  # the camera's make and model are gone, the orientation stays
    assert scan_data(stripped) == scan_data(original) and pixels(stripped) == pixels(original)


def test_png_text_chunks_stripped_pixels_untouched():
    original = sample("handbook/en-US/inst-boot.png")  # five tEXt chunks from the screenshot tool
    stripped = strip_metadata(original, "PNG")
    assert b"tEXt" in original and b"tEXt" not in stripped
    assert len(original) - len(stripped) > 0 and pixels(stripped) == pixels(original)
    assert stripped[stripped.index(b"IDAT") - 4 :] == original[original.index(b"IDAT") - 4 :]  # IDAT..IEND intact


def test_webp_exif_and_xmp_chunks_stripped_and_flags_cleared():
    with Image.open(io.BytesIO(sample("skimage/chelsea"))) as im:
        webp = encode(im, "WEBP", quality=80, exif=exif(), xmp=b"<x:xmpmeta>Jane Doe</x:xmpmeta>")
    assert webp[20] & 0x0C == 0x0C  # VP8X says EXIF and XMP follow
    stripped = strip_metadata(webp, "WEBP")
    assert b"EXIF" not in stripped and b"XMP " not in stripped and b"Jane" not in stripped
    assert stripped[20] & 0x0C == 0 and int.from_bytes(stripped[4:8], "little") == len(stripped) - 8
    assert riff_chunk(stripped, b"VP8 ") == riff_chunk(webp, b"VP8 ")  # the compressed picture, byte for byte
    assert pixels(stripped) == pixels(webp)


def test_resize_reencodes_and_recomputes_size_and_hash():
    reason, _, image, events = check_image(sample("skimage/coffee"), ImageCheckConfig(max_side=256))  # 512x341
    assert reason is None and events == ["resized"]
    assert (image["width"], image["height"]) == (256, 171)  # 341 / 2 = 170.5, rounded up
    with Image.open(io.BytesIO(image["bytes"])) as im:
        assert im.format == "JPEG" and im.size == (256, 171)
    assert image["sha256"] == hashlib.sha256(image["bytes"]).hexdigest()


def test_document_loses_only_its_failing_image_and_that_marker():
    text = f"{IMAGE_MARKER}\nAn astronaut in a flight suit.\n{IMAGE_MARKER}\nThe home button of a toolbar."
    out = _run([_doc("mm/two", text, [sample("skimage/astronaut"), sample("matplotlib/home")])])["mm/two"]
    assert out["status"] == KEPT
    assert out["text"] == f"{IMAGE_MARKER}\nAn astronaut in a flight suit.\nThe home button of a toolbar."
    assert [i["bytes"] for i in out["images"]] == [sample("skimage/astronaut")]
    assert out["rewrites"] == ["image_checks", "image_checks:removed_too_small"]
    first = _run([_doc("mm/b", text, [sample("matplotlib/home"), sample("skimage/clock")])])["mm/b"]
    assert first["text"] == f"An astronaut in a flight suit.\n{IMAGE_MARKER}\nThe home button of a toolbar."
    assert first["rewrites"] == ["image_checks", "image_checks:removed_too_small", "image_checks:metadata_stripped"]
