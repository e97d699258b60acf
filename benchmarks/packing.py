"""Packing quality and speed: best-fit-decreasing against concat (and greedy), side by side, one run.

Usage: python -m benchmarks.packing [--large-limit 3000]
Data: the sample corpus, and a larger real set (the sample plus the standard library's modules).
Both are tokenized once with a 32k tokenizer trained on the sample, by the tokenize stage with the
pipeline's engine (tiktoken) in this one process, one core as each of the pass's tasks (timed: the
tokenize rate is the yardstick for packing speed, which also runs on one core). Reports per mode:
fill rate (non-pad tokens / all tokens), share of documents cut, packing throughput (the algorithm
alone: ``pack_tokens_per_s``; whole shard rows with block-sparse masks: ``build_rows_tokens_per_s``);
and per mask policy the density of the stored layouts. Last line: JSON for best-fit on the larger set.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from benchmarks.sample_docs import sample_documents  # noqa: E402
from pipeline.schema import DOCUMENT_SCHEMA  # noqa: E402
from tokenization.shards.masks import MaskConfig, block_layout  # noqa: E402
from tokenization.shards.packing import pack  # noqa: E402
from tokenization.shards.shards import PackConfig, build_rows  # noqa: E402
from tokenization.tokenizer.fast_encode import unsupported  # noqa: E402
from tokenization.tokenizer.tokenize import TokenizeStage  # noqa: E402
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer  # noqa: E402

SEQ = 4096


def _stdlib_docs(limit: int) -> pa.Table:
    root = sysconfig.get_paths()["stdlib"]
    paths = sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))[:limit]
    rows = [
        {
            "id": f"code/{os.path.relpath(p, root)}",
            "source": "code",
            "text": Path(p).read_text(errors="replace"),
            "meta": "{}",
            "images": [],
        }
        for p in paths
    ]
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)


def _modes(lengths: list[int]) -> dict[str, dict]:
    out, tokens = {}, sum(lengths)
    overlong = {d for d, n in enumerate(lengths) if n > SEQ}
    for mode in ("best_fit", "concat", "greedy"):
        start = time.perf_counter()
        rows = pack(lengths, SEQ, mode)
        seconds = time.perf_counter() - start
        cut = {p.doc for row in rows for p in row if p.start > 0 or p.length < lengths[p.doc]}
        out[mode] = {
            "rows": len(rows),
            "fill_rate": round(tokens / (len(rows) * SEQ), 5),
            "truncated_share": round(len(cut) / len(lengths), 5),
            "truncated_only_overlong": cut <= overlong,
            "pack_tokens_per_s": round(tokens / seconds),
        }
    return out


def _densities(group: pa.Table) -> dict[str, dict]:
    table, _ = build_rows(group, PackConfig(mask={"policy": "document"}), seed=0, group_key="bench")
    cus = [np.array(c, dtype=np.int32) for c in table["cu_seqlens"].to_pylist()[:200]]
    out = {}
    for policy in ("causal", "document", "block_sparse"):
        layouts = [block_layout(cu, SEQ, MaskConfig(policy=policy), 0, str(i)) for i, cu in enumerate(cus)]
        out[policy] = {"block_density": round(float(np.mean([lay.mean() for lay in layouts])), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-limit", type=int, default=3000, help="standard-library modules added")
    parser.add_argument("--out", default="benchmarks/results/packing.json")
    args = parser.parse_args()
    sample = sample_documents()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        train_tokenizer(iter(sample["text"].to_pylist()), TokenizerConfig(vocab_size=32000), tmp)
        path = os.path.join(tmp, "tokenizer.json")
        assert unsupported(path) is None, unsupported(path)  # the stage's engine is the pipeline's: tiktoken
        stage = TokenizeStage(path, seed=0, num_pack_groups=1, engine="tiktoken")
        for name, docs in (("sample", sample), ("larger", pa.concat_tables([sample, _stdlib_docs(args.large_limit)]))):
            tokenize_seconds = []
            for _ in range(2):  # best of 2, as the row build below is timed
                start = time.perf_counter()
                tokens = pa.concat_tables([stage(docs.slice(i, 256)) for i in range(0, docs.num_rows, 256)])
                tokenize_seconds.append(time.perf_counter() - start)
            tokenize_rate = sum(len(t) for t in tokens["token_ids"].to_pylist()) / min(tokenize_seconds)
            lengths = [len(t) for t in tokens["token_ids"].to_pylist()]
            seconds = []
            for _ in range(3):  # best of 3: the first call also pays for numpy's and Arrow's first use
                start = time.perf_counter()
                build_rows(tokens, PackConfig(), seed=0, group_key="bench")  # best-fit + block_sparse masks + rows
                seconds.append(time.perf_counter() - start)
            rows_rate = sum(lengths) / min(seconds)
            results[name] = {
                "documents": len(lengths),
                "tokens": sum(lengths),
                "tokenize_tokens_per_s": round(tokenize_rate),
                "build_rows_tokens_per_s": round(rows_rate),
                "modes": _modes(lengths),
                "mask_density": _densities(tokens) if name == "sample" else None,
            }
            print(name, json.dumps(results[name]))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    large = results["larger"]
    best, concat, tokenize_rate = large["modes"]["best_fit"], large["modes"]["concat"], large["tokenize_tokens_per_s"]
    print(
        json.dumps(
            {
                "fill_rate": best["fill_rate"],
                "truncated_share": best["truncated_share"],
                "truncated_only_overlong": best["truncated_only_overlong"],
                "concat_truncated_share": concat["truncated_share"],
                "pack_tokens_per_s": best["pack_tokens_per_s"],
                "pack_vs_tokenize": round(best["pack_tokens_per_s"] / tokenize_rate, 1),
                "build_rows_vs_tokenize": round(large["build_rows_tokens_per_s"] / tokenize_rate, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
