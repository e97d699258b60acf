"""Decontamination against datatrove's NGramsDecontFilter at its settings, on real documents with planted
HumanEval items.

Usage: python -m benchmarks.decontam --run OUT [--docs 3000] [--planted 150] [--batch 256]
       [--out benchmarks/results/decontam.json]
Needs datatrove (benchmarks/requirements-web.txt).

Documents: web pages and code documents of a corpusmill run's output (``benchmarks.real_corpus`` builds
one from Debian documentation and Python wheels; none of it in the sample), at most ``--docs`` of them.
``--planted`` of them get a HumanEval item pasted at a line break: the canonical solution as written,
the same with other case and spacing, or the whole item (prompt, then solution). The rest are the
clean set.

Both sides index HumanEval's 164 items the same way (query: the prompt; label: the canonical solution) by
datatrove's rule: its normalization, spaCy's English words, 12-grams of the label and of the query-label
overlap. datatrove's index is written as its ``NGramsDecontIndexer`` would write it (that class needs
lighteval, which is not installed: its ``compute_hashes`` is called on its own), and its filter's hash
is given UTF-8 bytes (xxhash 4 refuses the ``str`` datatrove passes; the digest is the same). The two
take turns batch by batch on one core.
Last line: JSON {"agreement", "planted_recall", "false_positives", "speedup_vs_datatrove",
"docs_per_s_per_core"}.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import random
import tempfile
import time
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import xxhash

from pipeline.decontam.common import common_grams, count_grams
from pipeline.decontam.config import DecontamConfig, EvalSetConfig
from pipeline.decontam.eval_sets import load_items
from pipeline.decontam.index import build_index
from pipeline.decontam.scan import first_hits

HUMANEVAL = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "eval", "HumanEval.jsonl.gz"
)
SEED = 1234
SET = EvalSetConfig(
    task="humaneval", path=HUMANEVAL, id_field="task_id", query_fields=["prompt"], label_fields=["canonical_solution"]
)


def humaneval() -> list[dict]:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def documents(run: str, limit: int) -> list[str]:
    texts = []
    for source in ("web", "code"):
        for path in sorted(glob.glob(os.path.join(run, "curated", source, "*.parquet"))):
            texts += [t for t in pq.read_table(path, columns=["text"])["text"].to_pylist() if t.strip()]
    random.Random(SEED).shuffle(texts)
    return [t[:200_000] for t in texts[:limit]]  # a bound on the slowest side's time per document


def plant(texts: list[str], items: list[dict], count: int) -> tuple[list[str], list[bool], list[str]]:
    """Paste an item into ``count`` of the texts, three ways in turn; return the texts, which were planted,
    and what was pasted."""
    rng = random.Random(SEED)
    out, planted, pasted = list(texts), [False] * len(texts), [""] * len(texts)
    for k, i in enumerate(rng.sample(range(len(texts)), count)):
        item = items[rng.randrange(len(items))]
        solution = item["canonical_solution"]
        if k % 3 == 1:  # other case and spacing
            solution = solution.upper().replace(" ", "  ").replace("\n", " \n")
        elif k % 3 == 2:  # the whole item, prompt then solution, as a blog post would quote it
            solution = item["prompt"] + solution
        lines = out[i].split("\n")
        at = rng.randrange(len(lines) + 1)
        out[i] = "\n".join(lines[:at] + [solution] + lines[at:])
        planted[i], pasted[i] = True, solution
    return out, planted, pasted


def datatrove_filter(items: list[dict], folder: str):
    """datatrove's filter over an index written as its indexer writes it."""
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
    from datatrove.utils.text import ngrams, simplify_text
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    config = NGramsDecontConfig()

    def hash64(s: str) -> int:
        return xxhash.xxh64_intdigest(s.encode("utf-8"))

    indexer = type("Indexer", (), {})()
    indexer.config, indexer.tokenizer, indexer.hash_func = config, load_word_tokenizer("eng"), hash64
    hashes = set()
    for item in items:
        hashes.update(NGramsDecontIndexer.compute_hashes(indexer, item["canonical_solution"], item["prompt"]))
    np.array(sorted(hashes), dtype="<u8").tofile(os.path.join(folder, "humaneval.index.hashes"))
    filt = NGramsDecontFilter(folder, config=config)
    filt.hash_func = hash64
    assert ngrams and simplify_text  # the functions the indexer calls
    return filt


def run(texts: list[str], planted: list[bool], batch: int, folder: str) -> dict[str, Any]:
    from datatrove.data import Document

    items = humaneval()
    theirs = datatrove_filter(items, folder)
    s = SET
    cfg = DecontamConfig(  # its settings
        sets=[s], rule="datatrove", cjk_characters=False, min_alpha_words=0, min_coverage=0, common_documents=None
    )
    index = build_index(load_items(s, HUMANEVAL), cfg)
    theirs.filter(Document(text="warm up", id="w"))
    first_hits(["warm up"], index, cfg)
    seconds = {"ours": 0.0, "datatrove": 0.0}
    ours_hit, their_hit = [], []
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        t = time.perf_counter()
        ours_hit += [h is not None for h in first_hits(chunk, index, cfg)]
        seconds["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        their_hit += [theirs.filter(Document(text=x, id=str(start + i))) is not True for i, x in enumerate(chunk)]
        seconds["datatrove"] += time.perf_counter() - t
    n, planted_n = len(texts), sum(planted)
    agree = sum(a == b for a, b in zip(ours_hit, their_hit)) / n
    return {
        "documents": n,
        "mb": round(sum(len(x.encode()) for x in texts) / 1e6, 2),
        "planted": planted_n,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "agreement": round(agree, 4),
        "differing": [i for i, (a, b) in enumerate(zip(ours_hit, their_hit)) if a != b][:20],
        "planted_recall": round(sum(h for h, p in zip(ours_hit, planted) if p) / planted_n, 4),
        "datatrove_planted_recall": round(sum(h for h, p in zip(their_hit, planted) if p) / planted_n, 4),
        "false_positives": sum(h for h, p in zip(ours_hit, planted) if not p),
        "speedup_vs_datatrove": round(seconds["datatrove"] / seconds["ours"], 2),
        "docs_per_s_per_core": round(n / seconds["ours"], 1),
    }


def variants(texts: list[str], planted: list[bool], pasted: list[str]) -> dict[str, Any]:
    """Recall and false positives of other settings (not timed, not compared): datatrove's rule counting only
    pastes long enough to hold one of its n-grams, with min_alpha_words, and DeepSeek-Coder's rule."""
    from pipeline.decontam.words import batch_words

    s = SET
    items = load_items(s, HUMANEVAL)
    out: dict[str, Any] = {}
    published = {"min_alpha_words": 0, "min_coverage": 0.0, "common_documents": None}
    for name, extra in (
        ("datatrove", {"rule": "datatrove", "cjk_characters": False}),
        ("datatrove_min_alpha_words_2", {"rule": "datatrove", "cjk_characters": False, "min_alpha_words": 2}),
        ("deepseek_coder", {"rule": "deepseek_coder"}),
        ("deepseek_coder_min_alpha_words_2", {"rule": "deepseek_coder", "min_alpha_words": 2}),
        # the defaults: datatrove's rule, min_alpha_words 3, PaLM's coverage 0.7, GPT-3's common n-grams (over
        # these documents)
        ("default", {"rule": "datatrove", "min_alpha_words": 3, "min_coverage": 0.7, "common_documents": 10}),
    ):
        cfg = DecontamConfig(sets=[s], **{**published, **extra})
        index = build_index(items, cfg)
        if cfg.common_documents is not None:
            index = index.without(common_grams(count_grams(texts, index, cfg, {}), cfg.common_documents))
        hits = [h is not None for h in first_hits(texts, index, cfg)]
        long = [len(w) >= cfg.gram for w in batch_words(pasted, cfg.rule, cfg.cjk_characters)]
        findable = [p and lg for p, lg in zip(planted, long)]
        out[name] = {
            "planted_recall": round(sum(h for h, p in zip(hits, planted) if p) / sum(planted), 4),
            "recall_of_pastes_with_an_ngram": round(
                sum(h for h, f in zip(hits, findable) if f) / max(1, sum(findable)), 4
            ),
            "false_positives": sum(h for h, p in zip(hits, planted) if not p),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="a corpusmill output directory (web and code curated)")
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--planted", type=int, default=150)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/decontam.json")
    args = parser.parse_args()
    texts = documents(args.run, args.docs)
    texts, planted, pasted = plant(texts, humaneval(), args.planted)
    with tempfile.TemporaryDirectory() as folder:
        result = run(texts, planted, args.batch, folder)
    result["variants"] = variants(texts, planted, pasted)
    print(json.dumps(result))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    keys = ("agreement", "planted_recall", "false_positives", "speedup_vs_datatrove", "docs_per_s_per_core")
    lenient = result["variants"]["datatrove_min_alpha_words_2"]
    summary = {k: result[k] for k in keys} | {
        "false_positives_min_alpha_words_2": lenient["false_positives"],
        "planted_recall_of_pastes_with_an_ngram": result["variants"]["datatrove"]["recall_of_pastes_with_an_ngram"],
        "default_settings": result["variants"]["default"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
