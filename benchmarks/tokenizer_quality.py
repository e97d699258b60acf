"""Bytes per token on held-back sample documents, per source, for 32k / 64k / 128k vocabularies.

Usage: python -m benchmarks.tokenizer_quality [--vocab 32000 64000 128000]
Each vocabulary is trained in its own process on the sample minus a stable 10 % per source
(at least one document) held back;
that process's training time and peak resident memory are reported beside the compression.
On the few-MB sample the BPE trainer can run out of pairs seen twice before a large vocabulary
fills: ``vocab_reached`` says how many tokens it really learned. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from tokenizers import Tokenizer  # noqa: E402

from benchmarks.sample_docs import held_back_ids, sample_documents  # noqa: E402
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer  # noqa: E402


def _train_one(vocab: int, out: str) -> None:
    docs = sample_documents()
    held = held_back_ids(docs)
    texts = [t for i, t in zip(docs["id"].to_pylist(), docs["text"].to_pylist()) if i not in held]
    start = time.perf_counter()
    summary = train_tokenizer(iter(texts), TokenizerConfig(vocab_size=vocab), out)
    print(json.dumps({"seconds": time.perf_counter() - start, "vocab_reached": summary["vocab_size"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vocab", type=int, nargs="+", default=[32000, 64000, 128000])
    parser.add_argument("--train-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="benchmarks/results/tokenizer_quality.json")
    args = parser.parse_args()
    if args.train_one:
        return _train_one(args.train_one, args.dir)

    docs = sample_documents()
    held_ids = held_back_ids(docs)
    held: dict[str, list[str]] = defaultdict(list)
    for ident, source, text in zip(docs["id"].to_pylist(), docs["source"].to_pylist(), docs["text"].to_pylist()):
        if ident in held_ids:
            held[source].append(text)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for vocab in args.vocab:
            out = os.path.join(tmp, str(vocab))
            proc = subprocess.Popen(
                [sys.executable, __file__, "--train-one", str(vocab), "--dir", out], stdout=subprocess.PIPE, text=True
            )
            stdout = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise SystemExit(f"training {vocab} failed")
            trained = json.loads(stdout.strip().splitlines()[-1])
            tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
            row = {
                "vocab": vocab,
                "vocab_reached": trained["vocab_reached"],
                "train_seconds": round(trained["seconds"], 2),
                "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            }
            for source, texts in sorted(held.items()):
                tokens = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
                row[f"bytes_per_token_{source}"] = round(sum(len(t.encode()) for t in texts) / tokens, 3)
            results.append(row)
            print(json.dumps(row))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
