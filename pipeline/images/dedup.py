"""Image dedup across the corpus: exact copies share one stored image, pictures used by too many
documents (logos, icons, buttons) are removed, and a document repeating another's text with
near copies of its pictures is dropped.

A graph over distinct images: a vertex names an image so that it sorts in survivor order (most
pixels first, then sha256); an edge joins two images whose perceptual hashes meet in an LSH
bucket, are within ``max_distance`` bits (pipeline/images/lsh.py) and pass the pixel check
(pipeline/images/pixels.py, on the candidates only: pipeline/images/confirm.py). Connected components take
the minimum vertex as their label. Per component the runner counts the documents using any of
its images: above ``max_documents`` every copy is removed (OBELICS). A document is then keyed
by its text and its remaining images' labels; documents sharing a key are the same example
(exact dedup already caught those with byte-identical images), and the one with the best
copies survives.

Near copies are not swapped for the survivor's bytes: at Hamming distance 0 the sample holds the
Debian handbook's figures with English, French and Japanese labels, which differ only in text a
64-bit hash cannot see (the pixel check sees it). Functions here are per block; jobs/image_dedup.py
shuffles between them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.images.hash import dhash, phash
from pipeline.images.lsh import ImageLshConfig, bucket_edges, lsh_keys
from pipeline.images.pixels import PixelCheckConfig

PIXEL_DIGITS = 12
OCCURRENCE_SCHEMA = pa.schema(
    [
        ("file", pa.int32()),
        ("id", pa.string()),
        ("idx", pa.int32()),
        ("sha256", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("vertex", pa.string()),
        ("hash", pa.uint64()),
        ("text_hash", pa.string()),
        ("root", pa.string()),
        ("site", pa.string()),
    ]
)


class ImageDedupConfig(StrictModel):
    enabled: bool = True
    sources: list[str] = Field(default_factory=lambda: ["multimodal"])  # curated sources whose images are judged
    hash: Literal["phash", "dhash"] = "phash"
    lsh: ImageLshConfig = Field(default_factory=ImageLshConfig)  # Hamming <= 10 of 64 bits
    # each hash edge confirmed by the pictures' pixels (None: the hash alone decides; precision 0.91 on real
    # screenshots, where translated figures are a few bits apart)
    pixel_check: PixelCheckConfig | None = Field(default_factory=PixelCheckConfig)
    # OBELICS removes images that appear more than 10 times across the dataset (Laurençon et al. 2023): logos,
    # icons, buttons, the same on every page of many sites. Counted in sites by default, so that a documentation
    # figure repeated in its 26 translations (one site) stays; "documents" counts documents as OBELICS did.
    max_documents: int | None = Field(10, gt=0)
    frequent_by: Literal["sites", "documents"] = "sites"
    # an image no larger than this on its longer side is an icon or a button wherever it repeats: counted in
    # documents whatever frequent_by says (None: no such rule)
    small_side_px: int | None = Field(200, gt=0)
    duplicate_documents: bool = True  # drop documents repeating another's text with near copies of its images
    partitions: int | None = Field(None, gt=0)  # shuffle partitions (default: from the image count)
    # up to this many images the graph is built in one task (about 250 B of metadata per image):
    # a dozen shuffles cost seconds each whatever their size. Setting ``partitions`` forces the shuffles.
    one_task_images: int = Field(200_000, ge=0)


def vertex(sha256: str, width: int, height: int) -> str:
    """Sorts by most pixels, then sha256: the minimum of a component is its best copy."""
    return f"{10**PIXEL_DIGITS - 1 - min(width * height, 10**PIXEL_DIGITS - 1):0{PIXEL_DIGITS}d}{sha256}"


def site_of(ident: str, meta: str | None) -> str:
    """Where a document comes from: its URL's host (``meta.url``), else its source and the first folder (or file)
    below the source root, from its id."""
    fields = json.loads(meta) if meta else {}
    url = next((fields[k] for k in ("url", "page_url", "source_url") if isinstance(fields.get(k), str)), None)
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:
        host = None
    if host:
        return host.removeprefix("www.")
    return "/".join(ident.partition("#")[0].split("/")[:2])


def occurrence_rows(docs: pa.Table, file: int, cfg: ImageDedupConfig, hashes: dict[str, int | None]) -> pa.Table:
    """One row per image of each document (columns id, text, images, meta); ``hashes`` caches per sha256 (None:
    undecodable)."""
    fn = phash if cfg.hash == "phash" else dhash
    rows: dict[str, list] = {n: [] for n in OCCURRENCE_SCHEMA.names}
    metas = docs["meta"].to_pylist() if "meta" in docs.column_names else [None] * docs.num_rows
    for ident, text, images, meta in zip(
        docs["id"].to_pylist(), docs["text"].to_pylist(), docs["images"].to_pylist(), metas
    ):
        text_hash = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        site = site_of(ident, meta)
        for idx, img in enumerate(images or []):
            sha = img["sha256"]
            if sha not in hashes:
                try:
                    hashes[sha] = int(fn(img["bytes"]))
                except Exception:  # an image the checks did not see (image_checks off): exact dedup only
                    hashes[sha] = None
            for name, value in (
                ("file", file),
                ("id", ident),
                ("idx", idx),
                ("sha256", sha),
                ("width", img["width"]),
                ("height", img["height"]),
                ("vertex", vertex(sha, img["width"], img["height"])),
                ("hash", hashes[sha]),
                ("text_hash", text_hash),
                ("root", None),
                ("site", site),
            ):
                rows[name].append(value)
    return pa.table(rows, schema=OCCURRENCE_SCHEMA)


def key_rows(occ: pa.Table, cfg: ImageDedupConfig) -> pa.Table:
    """(key, vertex, hash) for each distinct hashed image and LSH table."""
    t = occ.filter(pc.is_valid(occ["hash"])).group_by(["vertex", "hash"], use_threads=False).aggregate([])
    keys = lsh_keys(t["hash"].to_numpy(), cfg.lsh)
    n = cfg.lsh.tables
    return pa.table(
        {
            "key": pa.array(keys.ravel(), pa.uint64()),
            "vertex": pc.take(t["vertex"], pa.array(np.repeat(np.arange(t.num_rows), n))),
            "hash": pa.array(np.repeat(t["hash"].to_numpy(), n), pa.uint64()),
        }
    )


def bucket_block_edges(block: pa.Table, cfg: ImageDedupConfig) -> pa.Table:
    """Confirmed edges (u < v) of every bucket in a block that holds whole buckets."""
    block = block.sort_by([("key", "ascending"), ("vertex", "ascending")])
    keys = block["key"].to_numpy()
    cuts = np.flatnonzero(np.diff(keys)) + 1 if len(keys) else np.zeros(0, int)
    vertices, hashes, edges = block["vertex"].to_pylist(), block["hash"].to_numpy(), set()
    for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), len(keys)]):
        if end - start > 1:
            edges.update(bucket_edges(vertices[start:end], hashes[start:end], cfg.lsh))
    u, v = zip(*sorted(edges)) if edges else ((), ())
    return pa.table({"u": pa.array(u, pa.string()), "v": pa.array(v, pa.string())})


def star_rows(stars: pa.Table) -> pa.Table:
    """Component star edges (u = label, v = member) as occurrence-shaped rows, to meet occurrences by vertex."""
    n = stars.num_rows
    nulls = {f.name: pa.nulls(n, f.type) for f in OCCURRENCE_SCHEMA}
    return pa.table({**nulls, "vertex": stars["v"], "root": stars["u"]}, schema=OCCURRENCE_SCHEMA)


def attach_roots(block: pa.Table) -> pa.Table:
    """Occurrences with their component label (their own vertex when in no component): whole vertices per block."""
    is_star = pc.is_null(block["id"])
    stars, occ = block.filter(is_star), block.filter(pc.invert(is_star))
    label = dict(zip(stars["vertex"].to_pylist(), stars["root"].to_pylist()))
    roots = [label.get(v, v) for v in occ["vertex"].to_pylist()]
    return occ.set_column(occ.schema.get_field_index("root"), "root", pa.array(roots, pa.string()))
