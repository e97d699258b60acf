"""Image checks for documents with images: size, format and decodability, then metadata out.

Each image is judged from its header first (pixel count, format, sides, aspect ratio), so a
decompression bomb or an icon is refused before any pixel is decoded; survivors are decoded
in full, since a truncated file has a valid header. A document keeps the images that pass and
loses the others with their markers; one left with none leaves the pipeline with its first
image's reason: dropped, or quarantined when that image cannot be decoded (bad input, not a
judgement on content).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

import pyarrow as pa
from PIL import Image, ImageOps
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.metadata import strip_metadata
from pipeline.schema import IMAGE_MARKER, IMAGE_TYPE
from pipeline.stage_spec import Scope, StageSpec

UNREADABLE = "image_unreadable"


def _format(im: Image.Image) -> str:
    """Pillow's format name; a multi-picture JPEG (MPO, as phone cameras write) counts as the JPEG it starts with."""
    return "JPEG" if im.format == "MPO" else str(im.format)


class ImageCheckConfig(StrictModel):
    # Pillow's own decompression-bomb threshold (Image.MAX_IMAGE_PIXELS, ~89.5 Mpx); Pillow refuses
    # twice that whatever this says. Read from the header, before decoding.
    max_pixels: int | None = Field(89_478_485, gt=0)
    # OBELICS keeps JPEG, PNG and WebP (Laurençon et al. 2023); GIF is kept too, as its first frame.
    formats: list[str] = Field(default_factory=lambda: ["JPEG", "PNG", "WEBP", "GIF"])
    min_side: int | None = Field(150, gt=0)  # OBELICS: both sides >= 150 px (DataComp's basic filter: 200)
    max_aspect_ratio: float | None = Field(3.0, ge=1)  # DataComp basic filter (Gadre et al. 2023); OBELICS: 2
    max_side: int | None = Field(None, gt=0)  # longer side resized down to this (Lanczos); None: sizes kept
    quality: int = Field(90, ge=1, le=100)  # JPEG/WebP quality when an image must be re-encoded
    strip_metadata: bool = True  # EXIF/XMP/text out, pixel data untouched


def _header_reason(im: Image.Image, cfg: ImageCheckConfig) -> str | None:
    w, h = im.size
    if cfg.max_pixels is not None and w * h > cfg.max_pixels:
        return "too_many_pixels"
    if _format(im) not in cfg.formats:
        return "format_not_allowed"
    if cfg.min_side is not None and min(w, h) < cfg.min_side:
        return "too_small"
    if cfg.max_aspect_ratio is not None and max(w, h) > cfg.max_aspect_ratio * min(w, h):
        return "aspect_ratio"
    return None


def _reencode(im: Image.Image, cfg: ImageCheckConfig) -> tuple[bytes, tuple[int, int]]:
    """The first frame, upright, resized if asked; GIF becomes PNG (a resized palette would be re-quantized)."""
    fmt = "PNG" if im.format == "GIF" else _format(im)
    frame = ImageOps.exif_transpose(im)  # the orientation tag is not written back
    if cfg.max_side is not None and max(frame.size) > cfg.max_side:
        if frame.mode in ("P", "1"):
            frame = frame.convert("RGBA" if "transparency" in frame.info else "RGB")
        frame.thumbnail((cfg.max_side, cfg.max_side), Image.Resampling.LANCZOS)
    if fmt == "JPEG" and frame.mode not in ("L", "RGB", "CMYK"):
        frame = frame.convert("RGB")
    options: dict[str, Any] = {"icc_profile": im.info.get("icc_profile")} if im.info.get("icc_profile") else {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = cfg.quality
    buf = io.BytesIO()
    frame.save(buf, fmt, **options)
    return buf.getvalue(), frame.size


def check_image(data: bytes, cfg: ImageCheckConfig) -> tuple[str | None, str, dict | None, list[str]]:
    """(reason, detail, the image to keep or None, events) for one encoded image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as e:
        return "too_many_pixels", str(e), None, []
    except Exception as e:  # Pillow raises many types for bad data
        return UNREADABLE, f"{type(e).__name__}: {e}", None, []
    with im:
        if reason := _header_reason(im, cfg):
            return reason, f"{_format(im)} {im.size[0]}x{im.size[1]}", None, []
        try:
            im.load()
        except Exception as e:
            return UNREADABLE, f"{type(e).__name__}: {e}", None, []
        animated = getattr(im, "is_animated", False) and _format(im) != "JPEG"  # an MPO's first picture is the JPEG
        events = (["first_frame"] if animated else []) + (
            ["resized"] if cfg.max_side is not None and max(im.size) > cfg.max_side else []
        )
        size = im.size
        if events:
            data, size = _reencode(im, cfg)
        elif cfg.strip_metadata and (stripped := strip_metadata(data, _format(im))) != data:
            data, events = stripped, ["metadata_stripped"]
    return (
        None,
        "",
        {"sha256": hashlib.sha256(data).hexdigest(), "width": size[0], "height": size[1], "bytes": data},
        events,
    )


def remove_markers(text: str, positions: set[int]) -> str:
    """The text without the image markers at these positions (0-based), each with the newline after it."""
    parts = text.split(IMAGE_MARKER)
    out = [parts[0]]
    for n, part in enumerate(parts[1:]):
        out.append((part[1:] if part.startswith("\n") else part) if n in positions else IMAGE_MARKER + part)
    return "".join(out)


DocResult = tuple[str, list[dict], str | None, str | None, list[str]]  # text, images, reason, detail, tags


def _check_document(text: str, imgs: list[dict], cfg: ImageCheckConfig) -> DocResult:
    """The document less its failing images, or as read with its first image's reason when none passes."""
    results = [check_image(img["bytes"], cfg) for img in imgs]
    failed = [n for n, r in enumerate(results) if r[0] is not None]
    if failed and len(failed) == len(results):  # nothing left: the document leaves as read
        return text, imgs, results[0][0], results[0][1], []
    tags = [f"removed_{r[0]}" for r in results if r[0]] + [e for r in results for e in r[3]]
    return remove_markers(text, set(failed)), [r[2] for r in results if r[2] is not None], None, None, tags


def image_checks(table: pa.Table, cfg: ImageCheckConfig) -> pa.Table:
    """Rewrite and filter stage: failing images and their markers out; a document left with none leaves."""
    rows = [
        _check_document(text, imgs or [], cfg)
        for text, imgs in zip(table["text"].to_pylist(), table["images"].to_pylist())
    ]
    texts, images, reasons, details, tags = (list(col) for col in zip(*rows)) if rows else ([],) * 5
    out = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.large_string()))
    out = out.set_column(out.schema.get_field_index("images"), "images", pa.array(images, pa.list_(IMAGE_TYPE)))
    return (
        out.append_column("drop_reason", pa.array(reasons, pa.string()))
        .append_column("drop_detail", pa.array(details, pa.string()))
        .append_column("quarantine", pa.array([r == UNREADABLE for r in reasons], pa.bool_()))
        .append_column("rewrite_tags", pa.array(tags, pa.list_(pa.string())))
    )


SPEC = StageSpec(
    "image_checks",
    "rewrite_filter",
    image_checks,
    ImageCheckConfig,
    Scope(has_images=True),
    ("too_many_pixels", "format_not_allowed", "too_small", "aspect_ratio", UNREADABLE),
)
