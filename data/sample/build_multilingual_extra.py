#!/usr/bin/env python3
"""Build ``data/sample/web/multilingual.jsonl.zst``: real pages in Traditional Chinese, Japanese,
Korean and Russian from Debian packages the rest of the sample does not use.

- ``debian-reference-zh-tw`` 2.100: the Traditional Chinese Debian Reference, the same four chapters
  (index, pr01, ch03, apa) whose Simplified pages (zh-cn) are in ``web/pages.jsonl.zst``: a
  Traditional copy of a Simplified page, which near dedup should find through its Chinese key.
- ``debian-history`` 2.28: A Brief History of Debian in Japanese, Korean and Russian (index,
  intro, leaders, releases), scripts the sample's web pages hardly had (Hangul, Cyrillic).

Pages are copied byte for byte as JSON lines ``{"url", "html"}`` (the public URL each page has
on www.debian.org), zstd level 19, in this fixed order. The packages are fetched with
``apt-get download`` into a temporary folder and unpacked there (nothing is installed):

    python data/sample/build_multilingual_extra.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import zstandard

OUT = Path(__file__).resolve().parent / "web" / "multilingual.jsonl.zst"
PACKAGES = {"debian-reference-zh-tw": "2.100", "debian-history": "2.28"}
DEBREF = [f"{name}.zh-tw" for name in ("index", "pr01", "ch03", "apa")]
HISTORY = [f"{name}.{lang}" for lang in ("ja", "ko", "ru") for name in ("index", "intro", "leaders", "releases")]


def pages(root: Path) -> list[dict[str, str]]:
    records = []
    for name in DEBREF:
        html = (root / "usr/share/debian-reference" / f"{name}.html").read_bytes().decode("utf-8")
        records.append({"url": f"https://www.debian.org/doc/manuals/debian-reference/{name}.html", "html": html})
    for name in HISTORY:
        html = (root / "usr/share/doc/debian-history/docs" / f"{name}.html").read_bytes().decode("utf-8")
        records.append({"url": f"https://www.debian.org/doc/manuals/project-history/{name}.html", "html": html})
    return records


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["apt-get", "download", *(f"{p}={v}" for p, v in PACKAGES.items())], cwd=work, check=True)
        for deb in sorted(work.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", deb.name, "root"], cwd=work, check=True)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pages(work / "root"))
    OUT.write_bytes(zstandard.ZstdCompressor(level=19).compress(lines.encode("utf-8")))
    print(f"{OUT}: {len(DEBREF) + len(HISTORY)} pages, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
