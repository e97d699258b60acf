"""The quality classifier on a real corpus: how well it separates, how fast it scores against datatrove,
what training costs, and whether the web it selects trains a better model than random web.

Usage: python -m benchmarks.quality --run OUT [--out benchmarks/results/quality.json] [--batch 256]
       [--train-docs 100000] [--probe-steps 400] [--fraction 0.1] [--png docs/quality_probe.png]
Needs datatrove and fasteners (benchmarks/requirements-web.txt) and torch.

OUT is a corpusmill run's output directory over a corpus with web and book sources, e.g. the one
``benchmarks.real_corpus`` builds from Debian documentation (none of it in the sample). Its web pool is
every page read (curated and dropped, not quarantined: the web before any filter); its books are split
by a hash of their id, 80 % for training, 20 % held out as the reference text the probe validates on.

1. Train: our trainer with its defaults (DCLM: bigrams, lr 0.1, dim 100, 5 epochs, 2M buckets) on the
   training books (positives) against the web pool (negatives); held-out accuracy and ROC AUC.
2. Score: every page of the pool by ours (``FastTextScorer``, batches of ``--batch``: fastText's own
   arithmetic, the default, and with the output layer folded, ``fold_output_layer``) and by datatrove's
   ``FastTextClassifierFilter`` with the same model file (``newline_replacement=" "``, DCLM's one-line
   text), taking turns batch by batch on one core: the largest score difference and the speed ratio.
3. Cost: training on ``--train-docs`` examples in a child process (half per class, 1,000-character pieces:
   books and the run's curated code against the web pool; the labels serve the measurement only, the
   corpus has too few book pages for 50,000): seconds and the child's peak resident memory.
4. Probe: the English pool pages ranked by score, leaving out every page of a package that also gave a
   held-out book (the pool holds HTML renderings of the same manuals: they would leak the validation
   text into both sets); the top ``--fraction`` (DCLM keeps 10 %) against a seeded random sample of the
   same pages with as many tokens. One byte-level BPE (8,192, trained on those pages), the train probe's
   TinyGPT (64 wide, 2 layers, causal windows of 256 tokens), the same steps and seed for both; validation
   loss on the held-out English books every 25 steps. The point is the measurement, whichever way it
   comes out.
``--epoch``/``--lr`` train the classifier with other settings than DCLM's (5 and 0.1), e.g. fastText's
small-set ones (25 and 0.5) when the corpus has a few thousand examples per class.
Last line: JSON {"auc", "speedup_vs_datatrove", "score_max_abs_diff", "docs_per_s_per_core",
"probe_val_loss": {"selected", "random"}, ...}.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from pipeline.quality.config import QualityTrainConfig
from pipeline.quality.scorer import FastTextScorer
from pipeline.quality.train import document_examples, train_classifier

SEED = 1234


def _rows(pattern: str, dropped_only: bool = False) -> list[dict[str, Any]]:
    out = []
    for path in sorted(glob.glob(pattern)):
        t = pq.read_table(path, columns=["id", "text", "meta"] + (["status"] if dropped_only else []))
        if dropped_only:
            t = t.filter(pc.equal(t["status"], "dropped"))
        for i, text, meta in zip(t["id"].to_pylist(), t["text"].to_pylist(), t["meta"].to_pylist()):
            out.append({"id": i, "text": text, "language": json.loads(meta or "{}").get("language")})
    return out


def load(run: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(web pool, training books, held-out books) of a run's output directory."""
    pool = _rows(os.path.join(run, "curated", "web", "*.parquet"))
    pool += _rows(os.path.join(run, "rejects", "web", "*.parquet"), dropped_only=True)
    pool = [p for p in pool if p["text"].strip()]
    books = _rows(os.path.join(run, "curated", "book", "*.parquet"))
    held = [b for b in books if xxhash.xxh3_64_intdigest(b["id"].encode()) % 5 == 0]
    return pool, [b for b in books if b not in held], held


def examples(docs: list[dict], positive: bool, limit: int) -> list[tuple[int, str]]:
    return [e for d in docs for e in document_examples(SEED, positive, d["id"], d["text"], limit)]


def compare_scoring(model: str, texts: list[str], batch: int) -> dict[str, Any]:
    """Ours (fastText's arithmetic, and with the output layer folded) and datatrove's filter on the same
    texts, taking turns batch by batch."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import FastTextClassifierFilter

    ours = {"exact": FastTextScorer(model, "hq"), "folded": FastTextScorer(model, "hq", fold=True)}
    theirs = FastTextClassifierFilter(model, keep_labels=("hq", 0.0), newline_replacement=" ")
    theirs.filter(Document(text="warm up", id="w"))
    seconds = dict.fromkeys([*ours, "datatrove"], 0.0)
    scores: dict[str, list[float]] = {k: [] for k in ours}
    reference: list[float] = []
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        for name, scorer in ours.items():
            t = time.perf_counter()
            scores[name] += scorer(chunk).tolist()
            seconds[name] += time.perf_counter() - t
        docs = [Document(text=x, id=str(start + i)) for i, x in enumerate(chunk)]
        t = time.perf_counter()
        for d in docs:
            theirs.filter(d)
        seconds["datatrove"] += time.perf_counter() - t
        reference += [d.metadata["__label__hq"] for d in docs]
    out: dict[str, Any] = {"documents": len(texts), "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    for name in ours:
        diffs = np.abs(np.array(scores[name]) - np.array(reference))
        out[name] = {
            "speedup": round(seconds["datatrove"] / seconds[name], 2),
            "score_max_abs_diff": float(diffs.max()),
            "docs_over_1e-6": int((diffs > 1e-6).sum()),
            "docs_per_s_per_core": round(len(texts) / seconds[name], 1),
        }
    out["scores"] = scores["exact"]
    return out


def training_cost(pos: list[tuple[int, str]], neg: list[tuple[int, str]], n: int) -> dict[str, Any]:
    """Train on ``n`` examples (half per class) in a child process: seconds and its peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        k = n // 2
        pos, neg = sorted(pos)[:k], sorted(neg)[:k]  # the smallest keys: a seeded sample
        with open(os.path.join(tmp, "examples.json"), "w") as f:
            json.dump({"pos": pos[:k], "neg": neg[:k]}, f)
        code = (
            "import json,sys;from pipeline.quality.config import QualityTrainConfig as C;"
            "from pipeline.quality.train import train_classifier as t;"
            f"e=json.load(open({os.path.join(tmp, 'examples.json')!r}));"
            "p=[tuple(x) for x in e['pos']];q=[tuple(x) for x in e['neg']];"
            f"r=t(p,q,C(positives=['b'],negatives=['w'],max_examples_per_class={k}),('hq','cc'),False,1,{tmp!r});"
            "print(json.dumps(r))"
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "examples": min(k, len(pos), len(neg)) * 2,
        "train_seconds": result["train_seconds"],
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
        "holdout_roc_auc": result["holdout_roc_auc"],
    }


def _tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=8192, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|eos|>"]
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def _stream(tok, texts: list[str]) -> np.ndarray:
    eos = tok.token_to_id("<|eos|>")
    return np.array([i for e in tok.encode_batch(texts) for i in [*e.ids, eos]], dtype=np.int64)


def _windows(ids: np.ndarray, length: int) -> np.ndarray:
    n = (len(ids) - 1) // length
    return np.stack([ids[i * length : i * length + length + 1] for i in range(n)])


def _probe_run(train: np.ndarray, val: np.ndarray, steps: int, batch: int, vocab: int) -> list[float]:
    """The train probe's TinyGPT on causal windows of ``train``; validation loss every 25 steps."""
    import torch
    import torch.nn.functional as F

    from benchmarks.train_probe import ProbeConfig, TinyGPT

    torch.manual_seed(SEED)
    cfg = ProbeConfig(vocab_size=vocab, seq_len=train.shape[1] - 1)
    model = TinyGPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    order = np.random.default_rng(SEED).permutation(np.resize(np.arange(len(train)), steps * batch))

    def attend(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def as_batch(rows: np.ndarray) -> dict[str, Any]:
        x = torch.from_numpy(rows)
        return {
            "input_ids": x[:, :-1],
            "labels": x[:, 1:],
            "position_ids": torch.arange(x.shape[1] - 1).expand(x.shape[0], -1),
        }

    curve = []
    for step in range(steps + 1):
        if step % 25 == 0:
            with torch.no_grad():
                model.eval()
                losses = [model(as_batch(val[i : i + 16]), attend).item() for i in range(0, len(val), 16)]
                curve.append(round(float(np.mean(losses)), 4))
                model.train()
        if step == steps:
            break
        for group in opt.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
        loss = model(as_batch(train[order[step * batch : (step + 1) * batch]]), attend)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return curve


def package(doc_id: str) -> str:
    """The Debian package a document came from: ``web/linux-doc-03.jsonl.zst#7`` and
    ``book/linux-doc-6.1/...`` are both ``linux-doc``; ``book/debian-faq-de/...`` is ``debian-faq``."""
    name = doc_id.split("/")[1].split(".jsonl")[0]
    for suffix in ("-6.1", "-zh-cn", "-zh-tw", "-pt-br"):
        name = name.removesuffix(suffix)
    head, _, tail = name.rpartition("-")
    return head if head and (tail.isdigit() or len(tail) == 2) else name


def probe(pool: list[dict], scores: list[float], held: list[dict], fraction: float, steps: int) -> dict[str, Any]:
    """Selected (top ``fraction`` by score) against random pool pages of as many tokens, English only, none
    from a package that gave a held-out book."""
    import torch

    torch.set_num_threads(1)
    held = [b for b in held if b["language"] == "en"]
    leaking = {package(b["id"]) for b in held}
    english = [(p, s) for p, s in zip(pool, scores) if p["language"] == "en" and package(p["id"]) not in leaking]
    ranked = sorted(english, key=lambda ps: (-ps[1], ps[0]["id"]))
    top = [p["text"] for p, _ in ranked[: max(1, int(len(ranked) * fraction))]]
    tok = _tokenizer([p["text"] for p, _ in english])
    selected = _stream(tok, top)
    shuffled = [p["text"] for p, _ in english]
    random.Random(SEED).shuffle(shuffled)
    random_ids, taken = [], 0
    for text in shuffled:  # random pages until as many tokens as the selected ones
        ids = _stream(tok, [text])
        random_ids.append(ids)
        taken += len(ids)
        if taken >= len(selected):
            break
    val_texts = [b["text"] for b in held]
    val = _windows(_stream(tok, val_texts), 256)[:128]
    out: dict[str, Any] = {"pool_english_pages": len(english), "selected_pages": len(top), "tokens": len(selected)}
    out["left_out_packages"] = sorted(leaking)
    out["selected_packages"] = dict(Counter(package(p["id"]) for p, _ in ranked[: len(top)]).most_common())
    out["random_pages"] = len(random_ids)
    out["validation_windows"] = len(val)
    for name, ids in (("selected", selected), ("random", np.concatenate(random_ids)[: len(selected)])):
        out[f"{name}_curve"] = _probe_run(_windows(ids, 256), val, steps, 8, tok.get_vocab_size())
    return out


def draw(out: dict[str, Any], path: str) -> None:
    from benchmarks.train_probe import draw_curves

    draw_curves(
        {"selected web (top by classifier)": out["selected_curve"], "random web (same tokens)": out["random_curve"]},
        path,
        "validation loss on held-out book text; x: evaluations, one every 25 training steps",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="a corpusmill output directory with web and book sources")
    parser.add_argument("--out", default="benchmarks/results/quality.json")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--train-docs", type=int, default=100_000)
    parser.add_argument("--probe-steps", type=int, default=300)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--png", default="docs/quality_probe.png")
    parser.add_argument("--epoch", type=int, default=5, help="the classifier's epochs (DCLM: 5)")
    parser.add_argument("--lr", type=float, default=0.1, help="the classifier's learning rate (DCLM: 0.1)")
    args = parser.parse_args()
    pool, books, held = load(args.run)
    print(f"pool: {len(pool)} web pages; books: {len(books)} for training, {len(held)} held out")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = QualityTrainConfig(positives=["book"], negatives=["web"], epoch=args.epoch, lr=args.lr)
        trained = train_classifier(
            examples(books, True, 10_000), examples(pool, False, 10_000), cfg, ("hq", "cc"), False, SEED, tmp
        )
        print(f"trained: {json.dumps(trained)}")
        scoring = compare_scoring(os.path.join(tmp, "model.bin"), [p["text"] for p in pool], args.batch)
    scores = scoring.pop("scores")
    print(f"scoring: {json.dumps(scoring)}")
    code = _rows(os.path.join(args.run, "curated", "code", "*.parquet"))
    cost = training_cost(examples(books + code, True, 1_000), examples(pool, False, 1_000), args.train_docs)
    print(f"training cost: {json.dumps(cost)}")
    probed = probe(pool, scores, held, args.fraction, args.probe_steps)
    draw(probed, args.png)
    final = {k: probed[f"{k}_curve"][-1] for k in ("selected", "random")}
    print(f"probe: {json.dumps({k: v for k, v in probed.items() if not k.endswith('curve')})}; final {final}")
    result = {"training": trained, "scoring": scoring, "training_cost": cost, "probe": probed}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(
        json.dumps(
            {
                "auc": trained["holdout_roc_auc"],
                "speedup_vs_datatrove": scoring["exact"]["speedup"],
                "score_max_abs_diff": scoring["exact"]["score_max_abs_diff"],
                "docs_per_s_per_core": scoring["exact"]["docs_per_s_per_core"],
                "folded": {k: scoring["folded"][k] for k in ("speedup", "score_max_abs_diff")},
                "train_100k_seconds": cost["train_seconds"],
                "train_100k_peak_rss_mb": cost["peak_rss_mb"],
                "probe_val_loss": final,
            }
        )
    )


if __name__ == "__main__":
    main()
