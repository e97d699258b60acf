"""Strip EXIF, XMP and text metadata from JPEG, PNG and WebP files without touching their pixel data.

Metadata can carry GPS positions, camera serials, names and editing history, none of which a
model should learn; re-encoding to drop it would cost quality, so the container is edited in
place instead. Colour profiles (JPEG APP2 ICC, Adobe APP14, PNG iCCP, WebP ICCP) stay: they
change how the pixels look. A non-default EXIF orientation survives as a minimal EXIF holding
that one tag, so the picture still displays upright. Anything that does not parse as expected
is returned unchanged: the decoder, not this module, judges broken files.
"""

from __future__ import annotations

import zlib

from PIL import Image

_ORIENTATION = 0x0112
_JPEG_KEEP_APP = {0xE0: b"JFIF\x00", 0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"}
_WEBP_EXIF_FLAG, _WEBP_XMP_FLAG = 0x08, 0x04  # VP8X flag bits (WebP container spec)


def _orientation_only(exif: bytes) -> bytes | None:
    """A minimal EXIF (``Exif\\0\\0`` + TIFF) holding just a non-default orientation, else None."""
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        orientation = parsed.get(_ORIENTATION)
    except Exception:  # an EXIF Pillow cannot parse carries no orientation we could keep
        return None
    if orientation in (None, 1):
        return None
    minimal = Image.Exif()
    minimal[_ORIENTATION] = orientation
    return minimal.tobytes()


def strip_jpeg(data: bytes) -> bytes:
    """Drop APPn segments other than JFIF, ICC and Adobe, and COM; everything from SOS on is copied."""
    if data[:2] != b"\xff\xd8":
        return data
    out, i = [data[:2]], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return data
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, kept byte for byte
            return b"".join(out) + data[i:]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out.append(data[i : i + 2])
            i += 2
            continue
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if end > len(data) or end < i + 4:
            return data
        payload = data[i + 4 : end]
        if marker == 0xFE or (0xE0 <= marker <= 0xEF and not payload.startswith(_JPEG_KEEP_APP.get(marker, b"\0\0"))):
            kept = _orientation_only(payload) if marker == 0xE1 and payload.startswith(b"Exif\x00\x00") else None
            if kept:
                out.append(b"\xff\xe1" + (len(kept) + 2).to_bytes(2, "big") + kept)
        else:
            out.append(data[i:end])
        i = end
    return data


def strip_png(data: bytes) -> bytes:
    """Drop eXIf, tEXt, iTXt, zTXt and tIME chunks (and anything after IEND)."""
    if not data.startswith(_PNG_SIGNATURE):
        return data
    out, i = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while i + 12 <= len(data):
        kind, end = data[i + 4 : i + 8], i + 12 + int.from_bytes(data[i : i + 4], "big")
        if end > len(data):
            return data
        if kind not in _PNG_DROP:
            out.append(data[i:end])
        elif kind == b"eXIf" and (kept := _orientation_only(data[i + 8 : end - 4])):
            tiff = kept[6:]
            out.append(len(tiff).to_bytes(4, "big") + b"eXIf" + tiff + zlib.crc32(b"eXIf" + tiff).to_bytes(4, "big"))
        i = end
        if kind == b"IEND":
            return b"".join(out)
    return data


def strip_webp(data: bytes) -> bytes:
    """Drop EXIF and XMP chunks, set the VP8X flags to match and fix the RIFF size."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    chunks, i, changed = [], 12, False
    while i + 8 <= len(data):
        fourcc, size = data[i : i + 4], int.from_bytes(data[i + 4 : i + 8], "little")
        if i + 8 + size > len(data):
            return data
        end = min(i + 8 + size + (size & 1), len(data))  # odd chunks carry a pad byte
        if fourcc in (b"EXIF", b"XMP "):
            changed = True
            kept = _orientation_only(data[i + 8 : i + 8 + size]) if fourcc == b"EXIF" else None
            if kept:
                tiff = kept[6:]
                chunks.append(b"EXIF" + len(tiff).to_bytes(4, "little") + tiff + b"\0" * (len(tiff) & 1))
        else:
            chunks.append(data[i:end])
        i = end
    if not changed:
        return data
    exif_flag = _WEBP_EXIF_FLAG if any(c[:4] == b"EXIF" for c in chunks) else 0
    for n, chunk in enumerate(chunks):
        if chunk[:4] == b"VP8X":
            flags = (chunk[8] & ~(_WEBP_EXIF_FLAG | _WEBP_XMP_FLAG)) | exif_flag
            chunks[n] = chunk[:8] + bytes([flags]) + chunk[9:]
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


STRIPPERS = {"JPEG": strip_jpeg, "PNG": strip_png, "WEBP": strip_webp}


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """The file without its metadata; formats with no stripper (GIF) come back unchanged."""
    strip = STRIPPERS.get(fmt)
    return strip(data) if strip else data
