"""Image checks and perceptual hashing per core, and image dedup on real images with known copies.

Usage: python -m benchmarks.multimodal [--variants 4] [--copies 2] [--seed 0] [--repeats 3]
                                       [--out benchmarks/results/multimodal.json]
One process, numpy/BLAS pinned to one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1, set before numpy
loads), so the rate measured is the rate per core.

Corpus, built in memory with a fixed seed from the repository's real images: every image of
data/sample/multimodal/pairs.parquet and of webdataset/shard-000000.tar (the tar repeats
pairs' bytes). Each distinct image that passes the checks gets ``variants`` re-encodings of
the same picture: JPEG at quality 40-90, resized to 50-90 % of the side (Lanczos, format
kept), PNG <-> JPEG, or resized and JPEG together (transparency flattened onto white); then
every distinct image, original or variant, appears 0 to ``copies`` more times (same bytes).
Ground truth: a variant is its base's picture; of the sample's own near copies (PROVENANCE.md
section 4), re-encodings and crops count as the same picture, localised or recoloured
screenshots as related ones (a join between those is reported apart, not as a false merge).

Timed per image: ``check_image(data, ImageCheckConfig())``, then ``phash`` of the kept bytes
(the decode is timed in both, as the pipeline decodes twice). Side by side on the same decoded
images: our ``phash`` and imagehash's, taking turns, when imagehash is installed. Dedup: exact
by sha256; near by ``near_edges`` (default ImageLshConfig, Hamming <= 10) and connected
components. Last line: JSON with images_per_s_per_core, exact_duplicates, near_duplicates.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one core means one thread

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tarfile  # noqa: E402
import time  # noqa: E402
from itertools import combinations  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

from pipeline.dedup.components import components_local  # noqa: E402
from pipeline.images import lsh as image_lsh  # noqa: E402
from pipeline.images.checks import ImageCheckConfig, check_image  # noqa: E402
from pipeline.images.dedup import vertex  # noqa: E402
from pipeline.images.hash import hamming, on_white, phash  # noqa: E402
from pipeline.images.lsh import ImageLshConfig, lsh_keys, near_edges  # noqa: E402

SAMPLE = "data/sample/multimodal"
# The sample's own near copies (PROVENANCE.md section 4): the same picture re-encoded, resized or cropped ...
SAME = [
    ("skimage/astronaut", "skimage/astronaut-256"),
    ("skimage/chelsea", "skimage/chelsea-cropped"),
    ("apache/caching_fig1.png", "apache/caching_fig1.gif"),
]
# ... and pictures that differ in their labels or colours only: joining them is reported, not counted as false.
RELATED = [
    ("apache/caching_fig1.png", "apache/caching_fig1.tr.png"),
    ("apache/mod_filter_new.gif", "apache/mod_filter_new.pt-br.png"),
    ("apache/bal-man-w.png", "apache/bal-man-b.png"),
    ("handbook/en-US/inst-lang.png", "handbook/fr-FR/inst-lang.png"),
    ("handbook/en-US/package-lifecycle.png", "handbook/fr-FR/package-lifecycle.png"),
    ("handbook/en-US/ssh-L.png", "handbook/ja-JP/ssh-L.png"),
]
KINDS = ("jpeg_quality", "resize", "format_swap", "resize_jpeg")


def real_images() -> list[tuple[str, str, bytes]]:
    """(name, picture, bytes) of every image in pairs.parquet and the WebDataset shard."""
    t = pq.read_table(os.path.join(SAMPLE, "pairs.parquet"), columns=["key", "image"])
    out = [(k, k, b) for k, b in zip(t["key"].to_pylist(), t["image"].to_pylist())]
    with tarfile.open(os.path.join(SAMPLE, "webdataset", "shard-000000.tar")) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    for name, data in sorted(members.items()):
        stem, ext = os.path.splitext(name)
        if ext in (".jpg", ".png", ".gif"):
            out.append((f"webdataset/{name}", json.loads(members[stem + ".json"])["pairs_key"], data))
    same = {b: a for a, b in SAME}
    return [(name, same.get(pic, pic), data) for name, pic, data in out]


def _flat(im: Image.Image) -> Image.Image:
    """RGB, transparency flattened onto white (what a re-encoder for the web does)."""
    im = im.convert("RGBA")
    back = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(back, im).convert("RGB")


def variant(data: bytes, rng: random.Random) -> tuple[str, str, bytes]:
    """One re-encoding of the same picture: (kind, what was done, bytes)."""
    with Image.open(io.BytesIO(data)) as src:
        fmt, im = src.format, src.copy()
    kind = rng.choice(KINDS)
    if kind in ("resize", "resize_jpeg"):
        pct = rng.randint(50, 90)
        im = im.convert("RGBA" if im.mode in ("P", "RGBA", "LA") else im.mode)
        im = im.resize((max(1, im.width * pct // 100), max(1, im.height * pct // 100)), Image.Resampling.LANCZOS)
    out, what = io.BytesIO(), ""
    if kind == "jpeg_quality" or kind == "resize_jpeg" or (kind == "format_swap" and fmt != "JPEG"):
        q = rng.randint(40, 90)
        (im if im.mode in ("L", "RGB") else _flat(im)).save(out, "JPEG", quality=q)
        what = f"jpeg q{q}"
    elif kind == "format_swap" or fmt != "JPEG":
        im.save(out, "PNG")
        what = "png"
    else:
        im.save(out, "JPEG", quality=85)
        what = "jpeg q85"
    if kind in ("resize", "resize_jpeg"):
        what = f"resize {pct}% + {what}"
    return kind, what, out.getvalue()


def build_corpus(variants: int, copies: int, seed: int) -> tuple[list[bytes], dict[str, dict], list[tuple]]:
    """Occurrences (bytes, shuffled), per input sha256 its name/picture/transform, constructed (base, variant) pairs."""
    rng, cfg = random.Random(seed), ImageCheckConfig()
    occurrences, info, pairs = [], {}, []
    for name, picture, data in real_images():
        occurrences.append(data)
        info.setdefault(hashlib.sha256(data).hexdigest(), {"name": name, "picture": picture, "made": "original"})
    for sha, meta in list(info.items()):
        data = next(d for d in occurrences if hashlib.sha256(d).hexdigest() == sha)
        if check_image(data, cfg)[0] is not None:
            continue
        for _ in range(variants):
            kind, what, new = variant(data, rng)
            new_sha = hashlib.sha256(new).hexdigest()
            if new_sha not in info:
                info[new_sha] = {"name": f"{meta['name']} ({what})", "picture": meta["picture"], "made": what}
                occurrences.append(new)
                pairs.append((sha, new_sha, kind, what))
    by_sha = {hashlib.sha256(d).hexdigest(): d for d in occurrences}
    for sha in sorted(by_sha):
        occurrences.extend([by_sha[sha]] * rng.randint(0, copies))
    rng.shuffle(occurrences)
    return occurrences, info, pairs


def time_pipeline(occurrences: list[bytes], repeats: int) -> tuple[dict, dict[str, dict]]:
    """Best of ``repeats`` passes of checks then pHash per image; the kept images (by input sha256)."""
    cfg, best, kept = ImageCheckConfig(), None, {}
    for _ in range(repeats):
        check = hashed = 0.0
        for data in occurrences:
            t0 = time.perf_counter()
            _, _, img, _ = check_image(data, cfg)
            t1 = time.perf_counter()
            check += t1 - t0
            if img is not None:
                h = int(phash(img["bytes"]))
                hashed += time.perf_counter() - t1
                kept[hashlib.sha256(data).hexdigest()] = {**img, "hash": h}
        if best is None or check + hashed < best["check_s"] + best["hash_s"]:
            best = {"check_s": check, "hash_s": hashed}
    return best, kept


def versus_imagehash(kept: dict[str, dict], repeats: int) -> dict | None:
    """Our pHash and imagehash's on the same decoded images, taking turns; bit-identical count (imagehash given
    the picture flattened onto white, as ours flattens transparent images first)."""
    try:
        import imagehash
    except ImportError:
        return None
    images = []
    for img in kept.values():
        with Image.open(io.BytesIO(img["bytes"])) as im:
            im.load()
            images.append(im.copy())
    best = {"ours": float("inf"), "imagehash": float("inf")}
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = [int(phash(im)) for im in images]
        t1 = time.perf_counter()
        theirs = [int(str(imagehash.phash(im)), 16) for im in images]
        t2 = time.perf_counter()
        best["ours"], best["imagehash"] = min(best["ours"], t1 - t0), min(best["imagehash"], t2 - t1)
    return {
        "images": len(images),
        "imagehash_version": getattr(imagehash, "__version__", "?"),
        "ours_images_per_s": round(len(images) / best["ours"], 1),
        "imagehash_images_per_s": round(len(images) / best["imagehash"], 1),
        "ratio_ours_to_imagehash": round(best["imagehash"] / best["ours"], 2),
        "identical_hashes": sum(a == int(str(imagehash.phash(on_white(im))), 16) for a, im in zip(ours, images)),
        "identical_without_flattening": sum(a == b for a, b in zip(ours, theirs)),
    }


def dedup(kept: dict[str, dict], info: dict[str, dict], pairs: list[tuple], lsh: ImageLshConfig) -> dict:
    """Near-dup components over distinct kept images, scored against the constructed ground truth."""
    distinct: dict[str, dict] = {}  # by the kept bytes' sha256 (metadata stripped)
    for sha_in, img in sorted(kept.items()):
        distinct.setdefault(img["sha256"], {**img, "inputs": []})["inputs"].append(sha_in)
    # Vertices in survivor order (most pixels, then sha256), as pipeline/images/dedup.py names them.
    vertices = {s: vertex(s, d["width"], d["height"]) for s, d in distinct.items()}
    names = sorted(vertices.values())
    sha_of = {v: s for s, v in vertices.items()}
    hashes = np.array([distinct[sha_of[v]]["hash"] for v in names], dtype=np.uint64)
    t0 = time.perf_counter()
    edges = near_edges(names, hashes, lsh)
    lsh_s = time.perf_counter() - t0
    compared = [0]

    def counting(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        compared[0] += np.asarray(a).size
        return hamming(a, b)

    image_lsh.hamming = counting
    try:
        near_edges(names, hashes, lsh)
    finally:
        image_lsh.hamming = hamming
    buckets: dict[int, list[int]] = {}
    for i, row in enumerate(lsh_keys(hashes, lsh).tolist()):
        for key in row:
            buckets.setdefault(key, []).append(i)
    co_bucketed = {p for m in buckets.values() for p in combinations(m, 2)}
    star, _ = components_local(
        pa.table(
            {"u": [e[0] for e in edges], "v": [e[1] for e in edges]},
            schema=pa.schema([("u", pa.string()), ("v", pa.string())]),
        )
    )
    root = {v: v for v in names} | dict(zip(star["v"].to_pylist(), star["u"].to_pylist()))
    comp_of = {sha_of[v]: root[v] for v in names}
    close = np.argwhere(np.triu(hamming(hashes[:, None], hashes[None, :]) <= lsh.max_distance, 1))
    brute, _ = components_local(
        pa.table(
            {"u": [names[i] for i, _ in close], "v": [names[j] for _, j in close]},
            schema=pa.schema([("u", pa.string()), ("v", pa.string())]),
        )
    )

    picture = {s: info[d["inputs"][0]]["picture"] for s, d in distinct.items()}
    by_kept = {sha_in: img["sha256"] for sha_in, img in kept.items()}
    scored, misses, per_kind = 0, [], {k: [] for k in KINDS}
    for base, var, kind, what in pairs:
        if base not in by_kept or var not in by_kept:
            continue  # the variant was refused by the checks (too small after resizing)
        a, b = by_kept[base], by_kept[var]
        d = int(hamming(distinct[a]["hash"], distinct[b]["hash"]))
        per_kind[kind].append(d)
        scored += 1
        if comp_of[a] != comp_of[b]:
            misses.append({"base": info[base]["name"], "made": what, "distance": d})
    family = {p: p for p in picture.values()}  # RELATED pictures share a family

    def top(p: str) -> str:
        while family.setdefault(p, p) != p:
            p = family[p]
        return p

    for a, b in RELATED:
        family[top(b)] = top(a)
    members: dict[str, set[str]] = {}
    for s, c in comp_of.items():
        members.setdefault(c, set()).add(picture[s])
    merges, localised = [], []
    for pics in members.values():
        if len(pics) > 1:
            (localised if len({top(p) for p in pics}) == 1 else merges).append(sorted(pics))
    kept_by_name = {info[i]["name"]: s for i, s in by_kept.items()}
    same_real = [
        {
            "a": a,
            "b": b,
            "distance": int(hamming(distinct[kept_by_name[a]]["hash"], distinct[kept_by_name[b]]["hash"])),
            "joined": comp_of[kept_by_name[a]] == comp_of[kept_by_name[b]],
        }
        for a, b in SAME + RELATED + [("skimage/chelsea", "webdataset/000000013.jpg")]
    ]
    return {
        "distinct_kept_images": len(distinct),
        "components": len(set(comp_of.values())),
        "near_duplicates": len(distinct) - len(set(comp_of.values())),
        "edges": len(edges),
        "lsh_seconds": round(lsh_s, 4),
        "lsh_hamming_comparisons": compared[0],
        "lsh_co_bucketed_pairs": len(co_bucketed),
        "all_pairs": len(names) * (len(names) - 1) // 2,
        "pairs_within_max_distance_all_pairs": len(close),
        "components_all_pairs": len(names) - len(set(brute["v"].to_pylist())),
        "constructed_pairs": scored,
        "constructed_pairs_joined": scored - len(misses),
        "recall": round((scored - len(misses)) / scored, 4) if scored else None,
        "missed": misses,
        "distance_by_kind": {
            k: {"pairs": len(v), "median": float(statistics.median(v)) if v else None, "max": max(v, default=None)}
            for k, v in per_kind.items()
        },
        "false_merges": len(merges),
        "false_merge_pictures": merges,
        "related_merges": len(localised),
        "related_merge_pictures": localised,
        "sample_same_pictures": same_real,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=4, help="re-encodings per distinct kept image")
    parser.add_argument("--copies", type=int, default=2, help="extra exact copies per distinct image: 0 to this many")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is kept")
    parser.add_argument("--out", default="benchmarks/results/multimodal.json")
    args = parser.parse_args()

    occurrences, info, pairs = build_corpus(args.variants, args.copies, args.seed)
    distinct_in = len({hashlib.sha256(d).hexdigest() for d in occurrences})
    best, kept = time_pipeline(occurrences, args.repeats)
    seconds = best["check_s"] + best["hash_s"]
    kept_occ = sum(hashlib.sha256(d).hexdigest() in kept for d in occurrences)
    kept_distinct = len({img["sha256"] for img in kept.values()})
    result = {
        "images": len(occurrences),
        "distinct_images": distinct_in,
        "constructed_variants": len(pairs),
        "kept_by_checks": kept_occ,
        "threads": 1,
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "check_seconds": round(best["check_s"], 3),
        "hash_seconds": round(best["hash_s"], 3),
        "images_per_s_per_core": round(len(occurrences) / seconds, 1),
        "exact_duplicates": kept_occ - kept_distinct,
        "exact_duplicates_all_inputs": len(occurrences) - distinct_in,
    }
    print(
        f"{len(occurrences)} images ({distinct_in} distinct, {len(pairs)} constructed re-encodings), "
        f"{kept_occ} kept by the checks; one thread"
    )
    print(
        f"checks + pHash: {result['images_per_s_per_core']} images/s per core "
        f"(checks {result['check_seconds']} s, hash {result['hash_seconds']} s, best of {args.repeats})"
    )
    if (side := versus_imagehash(kept, args.repeats)) is not None:
        result["versus_imagehash"] = side
        print(
            f"pHash on {side['images']} decoded images: ours {side['ours_images_per_s']}/s, imagehash "
            f"{side['imagehash_version']} {side['imagehash_images_per_s']}/s, ratio {side['ratio_ours_to_imagehash']}"
            f"x; identical hashes {side['identical_hashes']}/{side['images']}"
        )
    else:
        print("imagehash not installed: side-by-side skipped")
    d = dedup(kept, info, pairs, ImageLshConfig())
    result["dedup"] = d
    result["near_duplicates"] = d["near_duplicates"]
    print(
        f"exact duplicates {result['exact_duplicates']} (of kept images; {result['exact_duplicates_all_inputs']} "
        f"among all inputs); near duplicates {d['near_duplicates']} ({d['distinct_kept_images']} distinct kept -> "
        f"{d['components']} components)"
    )
    print(
        f"constructed pairs joined {d['constructed_pairs_joined']}/{d['constructed_pairs']} (recall {d['recall']}); "
        f"false merges {d['false_merges']}, related-picture merges {d['related_merges']}"
    )
    print(
        f"LSH: {d['lsh_hamming_comparisons']} Hamming comparisons, {d['lsh_co_bucketed_pairs']} co-bucketed pairs, "
        f"of {d['all_pairs']} pairs; {d['pairs_within_max_distance_all_pairs']} pairs within distance 10 "
        f"({d['components_all_pairs']} components from all pairs); LSH {d['lsh_seconds']} s"
    )
    for kind, s in d["distance_by_kind"].items():
        print(f"  {kind}: {s['pairs']} pairs, median distance {s['median']}, max {s['max']}")
    for m in d["missed"]:
        print(f"  missed: {m['base']} -> {m['made']}: distance {m['distance']}")
    for m in d["false_merge_pictures"]:
        print(f"  false merge: {m}")
    for m in d["related_merge_pictures"]:
        print(f"  related merge: {m}")
    for m in d["sample_same_pictures"]:
        print(f"  sample's own near copies: {m['a']} ~ {m['b']}: distance {m['distance']}, joined {m['joined']}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    keys = ("images_per_s_per_core", "exact_duplicates", "near_duplicates", "images", "check_seconds", "hash_seconds")
    last = {k: result[k] for k in keys} | {
        k: d[k] for k in ("recall", "false_merges", "related_merges", "lsh_hamming_comparisons", "all_pairs")
    }
    if side:
        last |= {
            "ratio_ours_to_imagehash": side["ratio_ours_to_imagehash"],
            "identical_hashes": f"{side['identical_hashes']}/{side['images']}",
        }
    print(json.dumps(last))


if __name__ == "__main__":
    main()
