#!/usr/bin/env python3
"""Rebuild the sample's WebDataset shard and interleaved HTML pages in ``data/sample/multimodal/``.

``webdataset/shard-000000.tar``: samples whose images and captions are rows of ``pairs.parquet``
(built by ``build_sample.py``), written as img2dataset writes a shard (``<key>.jpg|png|gif``,
``<key>.txt``, ``<key>.json``), plus the constructed hard cases listed in PROVENANCE.md.
``html/``: real pages of the Apache HTTP Server manual (apache2-doc) and the Debian
Administrator's Handbook (debian-handbook), copied byte for byte with the images they use,
in the packages' own folder layout so that their relative ``src`` paths resolve.

Prerequisites: ``apt-get install apache2-doc debian-handbook`` (see PROVENANCE.md for the
versions), Pillow and pyarrow. Deterministic: fixed tar headers, fixed JPEG settings.

    python data/sample/build_multimodal_extra.py
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

HERE = Path(__file__).resolve().parent / "multimodal"
APACHE = Path("/usr/share/doc/apache2-doc/manual")
HANDBOOK = Path("/usr/share/doc/debian-handbook/html")
MTIME = 1_700_000_000  # a fixed time in every tar header

# pairs.parquet key -> which caption members the sample gets ("both": json and txt, as img2dataset writes)
SHARD = [
    ("skimage/astronaut-256", "both"),
    ("skimage/chelsea", "both"),
    ("skimage/horse", "both"),
    ("skimage/microaneurysms", "txt"),
    ("skimage/retina", "json"),
    ("matplotlib/home", "both"),
    ("matplotlib/zoom_to_rect", "both"),
    ("matplotlib/logo2", "both"),
    ("apache/mod_filter_new.gif", "both"),
    ("apache/caching_fig1.png", "both"),
    ("apache/reverse-proxy-arch.png", "both"),
    ("handbook/en-US/inst-boot.png", "both"),
    ("handbook/de-DE/inst-boot.png", "both"),
]
# (pairs.parquet key, edit): the constructed hard cases, after the real samples
EDITED = [
    ("skimage/chelsea", "smaller"),
    ("skimage/retina", "truncated"),
    ("matplotlib/subplots", "no_caption"),
    ("matplotlib/back", "no_image"),
]
HTML_FILES = {  # sample path below html/ -> installed file
    "apache/en/howto/reverse_proxy.html": APACHE / "en/howto/reverse_proxy.html",
    "apache/en/filter.html": APACHE / "en/filter.html",
    **{
        f"apache/images/{n}": APACHE / "images" / n
        for n in (
            "left.gif",
            "down.gif",
            "up.gif",
            "reverse-proxy-arch.png",
            "filter_arch.pt-br.png",
            "mod_filter_new.pt-br.png",
        )
    },
    "handbook/en-US/sect.remote-login.html": HANDBOOK / "en-US/sect.remote-login.html",
    "handbook/en-US/images/ssh-L.png": HANDBOOK / "en-US/images/ssh-L.png",
    "handbook/en-US/images/ssh-R.png": HANDBOOK / "en-US/images/ssh-R.png",
    "handbook/en-US/Common_Content/images/image_left.png": HANDBOOK / "en-US/Common_Content/images/image_left.png",
    "handbook/en-US/Common_Content/images/image_right.png": HANDBOOK / "en-US/Common_Content/images/image_right.png",
}


def _ext(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as im:
        return {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}[im.format]


def _smaller(data: bytes) -> bytes:
    """The near duplicate: the same picture at 320 px, JPEG quality 40."""
    with Image.open(io.BytesIO(data)) as im:
        small = im.convert("RGB")
        small.thumbnail((320, 320), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=40)
    return out.getvalue()


def _members(key: str, row: dict, captions: str, edit: str | None) -> list[tuple[str, bytes]]:
    image = row["image"]
    ext = _ext(image)
    if edit == "smaller":
        image, ext = _smaller(image), "jpg"
    elif edit == "truncated":
        image = image[: len(image) // 2]
    meta = {"key": key, "url": row["url"], "license": row["license"], "pairs_key": row["key"]}
    if captions in ("both", "json"):
        meta["caption"] = row["caption"]
    out = [] if edit == "no_image" else [(f"{key}.{ext}", image)]
    out.append((f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()))
    if captions in ("both", "txt"):
        out.append((f"{key}.txt", row["caption"].encode()))
    return out


def build_shard(out: Path) -> None:
    pairs = {r["key"]: r for r in pq.read_table(HERE / "pairs.parquet").to_pylist()}
    plan = [(k, c, None) for k, c in SHARD] + [(k, "both" if e != "no_caption" else "none", e) for k, e in EDITED]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for n, (pair_key, captions, edit) in enumerate(plan):
            for name, data in _members(f"{n:09d}", pairs[pair_key], captions, edit):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), MTIME, 0o644
                tar.addfile(info, io.BytesIO(data))


def copy_html(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    for rel, src in HTML_FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(src.read_bytes())


def main() -> None:
    build_shard(HERE / "webdataset/shard-000000.tar")
    copy_html(HERE / "html")
    for f in sorted([HERE / "webdataset/shard-000000.tar", *(HERE / "html").rglob("*")]):
        if f.is_file():
            print(f"{f.relative_to(HERE)}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
