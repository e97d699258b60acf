"""Tokenize-stage throughput against bare ``Tokenizer.encode_batch`` on the same texts, same run.

Usage: python -m benchmarks.tokenize_speed [--repeats 3] [--out benchmarks/results/tokenize.json]
Trains a 32k tokenizer on the sample, then alternates the two measurements ``repeats`` times
and keeps each one's best. Last line: JSON with stage_mb_per_s, bare_mb_per_s, ratio_to_bare.
"""

from __future__ import annotations

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``tokenize``: put the repository root there instead.
import argparse  # noqa: E402
import json  # noqa: E402
import os
import tempfile  # noqa: E402
import time  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402

from benchmarks.sample_docs import sample_documents  # noqa: E402
from tokenization.tokenizer.tokenize import TokenizeStage  # noqa: E402
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256, help="documents per stage call (the runner's batch)")
    parser.add_argument("--out", default="benchmarks/results/tokenize.json")
    args = parser.parse_args()

    docs = sample_documents()
    texts = docs["text"].to_pylist()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        train_tokenizer(iter(texts), TokenizerConfig(vocab_size=32000), tmp)
        path = os.path.join(tmp, "tokenizer.json")
        bare = Tokenizer.from_file(path)
        stage = TokenizeStage(path, seed=0, num_pack_groups=4)
        batches = [docs.slice(i, args.batch) for i in range(0, docs.num_rows, args.batch)]
        best = {"stage": float("inf"), "bare": float("inf")}
        for _ in range(args.repeats):
            start = time.perf_counter()
            for batch in batches:
                stage(batch)
            best["stage"] = min(best["stage"], time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(0, len(texts), args.batch):
                bare.encode_batch(texts[i : i + args.batch], add_special_tokens=False)
            best["bare"] = min(best["bare"], time.perf_counter() - start)
    result = {
        "documents": len(texts),
        "mb": round(mb, 3),
        "cpus": os.cpu_count(),
        "stage_mb_per_s": round(mb / best["stage"], 3),
        "bare_mb_per_s": round(mb / best["bare"], 3),
        "ratio_to_bare": round(best["bare"] / best["stage"], 3),
    }
    print(
        f"{len(texts)} documents, {mb:.1f} MB; stage {result['stage_mb_per_s']} MB/s, "
        f"bare encode_batch {result['bare_mb_per_s']} MB/s"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in ("stage_mb_per_s", "bare_mb_per_s", "ratio_to_bare")}))


if __name__ == "__main__":
    main()
