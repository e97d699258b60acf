"""Near-dedup quality on real documents with controlled edits: recall, precision, false removals.

Usage: python -m benchmarks.dedup_quality [--seed 0] [--variants 3] [--out benchmarks/results/dedup_quality.json]

The labelled set. Base documents are the sample's web pages, books and code files (after the
curation stages) with at least 50 words, made mutually distinct first: a document is left out
when its true Jaccard with an earlier one reaches 0.3 (all pairs whose 448-permutation MinHash
estimate reaches 0.1 are checked exactly; below that a pair at 0.3 is out of reach). Each base
gets ``--variants`` (3) copies, each by one edit, the edits taken in turn: word substitutions,
inserted runs of words (taken from another base document), deleted spans, reordered paragraphs,
boilerplate added at the top and bottom (lines of another web page), or truncation; the edit's
size is drawn so that similarities spread from about 0.2 to 1. Each pair's true Jaccard is
measured exactly on the same shingles (5-word, normalized) the pass uses. A labelled pair is a
base and one of its copies.

The pass (``pipeline.dedup.near.dedup_in_memory``: the Ray pass's functions on one block) runs on
bases and variants together. A pair counts as found when both end in one cluster (one is the
other's survivor). Recall: found pairs among those at Jaccard >= 0.8; precision: found pairs at
>= 0.8 among all found (any cluster joining two different bases would count against it too);
fp_rate_below_0.5: found pairs among those below 0.5. Verification on (the default) and off.
Last line: JSON with recall_at_0.8, precision and fp_rate_below_0.5 (verification on).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from benchmarks.sample_docs import sample_documents  # noqa: E402
from pipeline.dedup.minhash import permutations, signatures  # noqa: E402
from pipeline.dedup.near import NearDedupConfig, dedup_in_memory  # noqa: E402
from pipeline.dedup.shingles import ShingleConfig, jaccard, shingle_hashes, shingle_sets  # noqa: E402

EDITS = ["substitute", "insert", "delete", "reorder", "boilerplate", "truncate"]
BUCKETS = [0.0, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01]


def distinct_bases(texts: list[str], cfg: ShingleConfig) -> tuple[list[int], list[np.ndarray]]:
    """Indices of documents no two of which reach Jaccard 0.3, and every document's shingle set."""
    hashes, offsets = shingle_hashes(texts, cfg)
    sets = [np.unique(hashes[offsets[i] : offsets[i + 1]]) for i in range(len(texts))]
    sig = signatures(hashes, offsets, permutations(99, 448))
    kept: list[int] = []
    for i in range(len(texts)):
        close = [j for j in kept if (sig[i] == sig[j]).mean() >= 0.1]
        if all(jaccard(sets[i], sets[j]) < 0.3 for j in close):
            kept.append(i)
    return kept, sets


def edit(text: str, kind: str, rng: random.Random, donor: str) -> str:
    words, extra = text.split(), donor.split() or ["filler"]
    n = len(words)
    if kind == "substitute":
        p = rng.uniform(0.0, 0.15)
        return " ".join(rng.choice(extra) if rng.random() < p else w for w in words)
    if kind == "insert":
        out, budget = list(words), int(n * rng.uniform(0.0, 0.6))
        while budget > 0:
            k = min(budget, rng.randint(1, 30))
            at, start = rng.randrange(len(out) + 1), rng.randrange(max(1, len(extra) - k))
            out[at:at] = extra[start : start + k]
            budget -= k
        return " ".join(out)
    if kind == "delete":
        keep, budget = np.ones(n, dtype=bool), int(n * rng.uniform(0.0, 0.6))
        while budget > 0 and keep.any():
            k = min(budget, rng.randint(1, 40))
            at = rng.randrange(n)
            keep[at : at + k] = False
            budget -= k
        return " ".join(w for w, k in zip(words, keep) if k)
    if kind == "reorder":
        blocks = [b for b in text.split("\n") if b.strip()]
        moved = rng.sample(range(len(blocks)), k=int(len(blocks) * rng.uniform(0.0, 1.0)))
        order = sorted(set(range(len(blocks))) - set(moved)) + moved
        return "\n".join(blocks[i] for i in order)
    if kind == "boilerplate":
        lines = [ln for ln in donor.split("\n") if ln.strip()] or ["Home | About | Contact"]
        size, out = int(len(text) * rng.uniform(0.0, 0.8)), []
        while sum(len(x) for x in out) < size:
            out.append(rng.choice(lines))
        half = len(out) // 2
        return "\n".join(out[:half] + [text] + out[half:])
    return " ".join(words[: max(1, int(n * rng.uniform(0.3, 1.0)))])  # truncate


def evaluate(truth: list[float], found: list[bool], cross: int) -> dict:
    truth_a, found_a = np.array(truth), np.array(found)
    pos, low = truth_a >= 0.8, truth_a < 0.5
    tp = int((found_a & pos).sum())
    per_bucket = []
    for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:]):
        m = (truth_a >= lo) & (truth_a < hi)
        per_bucket.append(
            {
                "jaccard": f"[{lo:.2f},{min(hi, 1.0):.2f})",
                "pairs": int(m.sum()),
                "found": round(float(found_a[m].mean()), 4) if m.any() else None,
            }
        )
    return {
        "recall_at_0.8": round(tp / max(1, int(pos.sum())), 4),
        "precision": round(tp / max(1, int(found_a.sum()) + cross), 4),
        "fp_rate_below_0.5": round(float(found_a[low].mean()), 4) if low.any() else 0.0,
        "positives": int(pos.sum()),
        "found": int(found_a.sum()),
        "cross_base_merges": cross,
        "by_jaccard": per_bucket,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", type=int, default=3, help="edited copies per base document")
    parser.add_argument("--out", default="benchmarks/results/dedup_quality.json")
    args = parser.parse_args()
    rng, cfg = random.Random(args.seed), NearDedupConfig()

    docs = sample_documents()
    docs = docs.filter(pc.not_equal(docs["source"], "multimodal"))
    docs = docs.filter(pa.array([len(t.split()) >= 50 for t in docs["text"].to_pylist()]))
    texts, sources = docs["text"].to_pylist(), docs["source"].to_pylist()
    base, _ = distinct_bases(texts, cfg.shingles)
    web = [i for i in base if sources[i] == "web"]
    rows, pairs = [], []
    for k, i in enumerate(base):
        rows.append({"id": f"base/{k:04d}", "source": sources[i], "text": texts[i], "meta": "{}"})
        for v in range(args.variants):
            kind = EDITS[(k * args.variants + v) % len(EDITS)]
            donor = texts[rng.choice(web)] if kind == "boilerplate" else texts[base[(k + 1 + v) % len(base)]]
            rows.append(
                {"id": f"var/{k:04d}-{v}", "source": sources[i], "text": edit(texts[i], kind, rng, donor), "meta": "{}"}
            )
            pairs.append((kind, f"base/{k:04d}", f"var/{k:04d}-{v}"))
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("id", pa.string()), ("source", pa.string()), ("text", pa.large_string()), ("meta", pa.string())]
        ),
    )
    sets = dict(zip(table["id"].to_pylist(), shingle_sets(table["text"].to_pylist(), cfg.shingles)))
    truth = [jaccard(sets[a], sets[b]) for _, a, b in pairs]

    result = {
        "bases": len(base),
        "documents": table.num_rows,
        "edits": EDITS,
        "pairs": len(pairs),
        "mb": round(sum(len(t.encode()) for t in table["text"].to_pylist()) / 1e6, 2),
    }
    for name, run_cfg in (("verified", cfg), ("unverified", cfg.model_copy(update={"verify": False}))):
        started = time.perf_counter()
        dropped = dedup_in_memory(table, run_cfg, seed=args.seed)
        label = dict(zip(dropped["id"].to_pylist(), dropped["survivor"].to_pylist()))
        found = [label.get(a, a) == label.get(b, b) for _, a, b in pairs]
        cross = sum(a.split("/")[1][:4] != b.split("/")[1][:4] for a, b in label.items())
        result[name] = {**evaluate(truth, found, cross), "seconds": round(time.perf_counter() - started, 2)}
        result[name]["by_edit"] = {
            e: round(
                float(np.mean([f for (kind, _, _), f, t in zip(pairs, found, truth) if kind == e and t >= 0.8] or [0])),
                4,
            )
            for e in EDITS
        }
    print(
        f"{result['bases']} base documents + {args.variants} edited copies each ({result['mb']} MB, "
        f"{len(pairs)} labelled pairs)"
    )
    for name in ("verified", "unverified"):
        r = result[name]
        print(
            f"{name:>10}: recall@0.8 {r['recall_at_0.8']}  precision {r['precision']}  "
            f"removed below 0.5 {r['fp_rate_below_0.5']}  ({r['positives']} pairs >= 0.8, {r['found']} found)"
        )
        print(
            "            found by jaccard: "
            + ", ".join(f"{b['jaccard']} {b['found']} (n={b['pairs']})" for b in r["by_jaccard"] if b["pairs"])
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result["verified"][k] for k in ("recall_at_0.8", "precision", "fp_rate_below_0.5")}))


if __name__ == "__main__":
    main()
