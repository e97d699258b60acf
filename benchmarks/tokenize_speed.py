"""Tokenize-stage throughput against bare ``Tokenizer.encode_batch`` on the same texts and cores, and the
tiktoken engine's tokens against ``tokenizers``' on every document.

Usage: python -m benchmarks.tokenize_speed [--run OUT] [--repeats 3] [--cpus N] [--out benchmarks/results/tokenize.json]

Texts: the bundled sample (a 32k tokenizer trained on it), or with ``--run`` a finished corpusmill output's curated
documents and its trained tokenizer (``benchmarks.real_corpus`` makes one from data the sample does not hold).
Timed, alternating ``repeats`` times, best of each kept:
- ``stage``: the tokenize stage as the pack pass runs it, in ``--cpus`` worker processes (one per core, each with
  its own loaded stage, as the pass's tasks have), 256 documents per call, with the tiktoken engine;
- ``stage_tokenizers``: the same with the ``tokenizers`` engine;
- ``bare``: ``Tokenizer.encode_batch`` over the same texts, 256 at a time, in one process whose Rust threads
  use every core.
Checked: every document's ids from the tiktoken engine equal the ``tokenizers`` engine's.
Last line: JSON with stage_mb_per_s, bare_mb_per_s, ratio_to_bare, identical_documents, documents.
"""

from __future__ import annotations

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``tokenize``: put the repository root there instead.
import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from benchmarks.sample_docs import sample_documents  # noqa: E402
from tokenization.tokenizer.tokenize import TokenizeStage  # noqa: E402
from tokenization.tokenizer.train import TokenizerConfig, train_tokenizer  # noqa: E402

BATCH = 256
COLUMNS = ["id", "source", "text", "meta", "images"]
_WORKER: dict = {}


def _documents(run: str | None) -> pa.Table:
    if run is None:
        return sample_documents()
    files = sorted(glob.glob(os.path.join(run, "curated", "*", "*.parquet")))
    return pa.concat_tables([pq.read_table(f, columns=COLUMNS) for f in files]).combine_chunks()


def _init(path: str, engine: str, docs: pa.Table) -> None:
    _WORKER.update(stage=TokenizeStage(path, seed=0, num_pack_groups=4, engine=engine), docs=docs)


def _run_batches(starts: list[int]) -> list[list[int]]:
    stage, docs = _WORKER["stage"], _WORKER["docs"]
    return [stage(docs.slice(i, BATCH))["token_ids"].to_pylist() for i in starts]


def _stage_seconds(pool: mp.pool.Pool, docs: pa.Table, cpus: int) -> float:
    starts = list(range(0, docs.num_rows, BATCH))
    start = time.perf_counter()
    pool.map(_run_batches, [starts[k::cpus] for k in range(cpus)])
    return time.perf_counter() - start


def _pool(path: str, engine: str, docs: pa.Table, cpus: int) -> mp.pool.Pool:
    pool = mp.get_context("fork").Pool(cpus, initializer=_init, initargs=(path, engine, docs))
    pool.map(_run_batches, [[0]] * cpus)  # every worker loads its stage before any timing
    return pool


def _identical(path: str, docs: pa.Table) -> int:
    fast = TokenizeStage(path, seed=0, num_pack_groups=4, engine="tiktoken")
    reference = TokenizeStage(path, seed=0, num_pack_groups=4, engine="tokenizers")
    same = 0
    for i in range(0, docs.num_rows, BATCH):
        a, b = fast(docs.slice(i, BATCH))["token_ids"], reference(docs.slice(i, BATCH))["token_ids"]
        same += sum(x == y for x, y in zip(a.to_pylist(), b.to_pylist()))
    return same


def measure(path: str, docs: pa.Table, cpus: int, repeats: int) -> dict:
    texts = docs["text"].to_pylist()
    bare = Tokenizer.from_file(path)
    pools = {"stage": _pool(path, "tiktoken", docs, cpus), "stage_tokenizers": _pool(path, "tokenizers", docs, cpus)}
    best = {"stage": float("inf"), "stage_tokenizers": float("inf"), "bare": float("inf")}
    for _ in range(repeats):
        for name, pool in pools.items():
            best[name] = min(best[name], _stage_seconds(pool, docs, cpus))
        start = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            bare.encode_batch(texts[i : i + BATCH], add_special_tokens=False)
        best["bare"] = min(best["bare"], time.perf_counter() - start)
    for pool in pools.values():
        pool.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", default=None, help="a finished output: its curated documents and tokenizer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--out", default="benchmarks/results/tokenize.json")
    args = parser.parse_args()
    docs = _documents(args.run)
    mb = sum(len(t.encode()) for t in docs["text"].to_pylist()) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        if args.run is None:
            train_tokenizer(iter(docs["text"].to_pylist()), TokenizerConfig(vocab_size=32000), tmp)
            path = os.path.join(tmp, "tokenizer.json")
        else:
            path = os.path.join(args.run, "tokenizer", "tokenizer.json")
        identical = _identical(path, docs)
        best = measure(path, docs, args.cpus, args.repeats)
    result = {
        "documents": docs.num_rows,
        "identical_documents": identical,
        "mb": round(mb, 3),
        "cpus": args.cpus,
        **{f"{k}_mb_per_s": round(mb / v, 3) for k, v in best.items()},
        "ratio_to_bare": round(best["bare"] / best["stage"], 3),
        "ratio_tokenizers_engine_to_bare": round(best["bare"] / best["stage_tokenizers"], 3),
    }
    print(
        f"{docs.num_rows} documents ({identical} with identical ids from both engines), {mb:.1f} MB, {args.cpus} "
        f"cores: stage (tiktoken) {result['stage_mb_per_s']} MB/s, stage (tokenizers) "
        f"{result['stage_tokenizers_mb_per_s']} MB/s, bare encode_batch {result['bare_mb_per_s']} MB/s"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    keys = ("stage_mb_per_s", "bare_mb_per_s", "ratio_to_bare", "identical_documents", "documents")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
