"""The tokenizer pass: train byte-level BPE on a mixture sample of the curated corpus, in one Ray task."""

from __future__ import annotations

import logging
import os
from typing import Any

import ray

from jobs.config import RunConfig
from jobs.markers import done, mark_done, recorded_hash, reset
from jobs.progress import Progress
from tokenization.tokenizer.train import TokenizerConfig, sample_texts, train_tokenizer

log = logging.getLogger("corpusmill")


def _train(curated: str, source_chars: dict[str, int], cfg: TokenizerConfig, seed: int, out: str) -> dict:
    return train_tokenizer(sample_texts(curated, source_chars, cfg, seed), cfg, out)


def run_train_tokenizer(
    cfg: RunConfig, out_dir: str, curate_stats: dict[str, Any], progress: Progress, force: bool = False
) -> dict:
    tok_dir = os.path.join(out_dir, "tokenizer")
    config_hash = cfg.pass_hash("tokenizer", {"curate": recorded_hash(out_dir, "curate")})
    if not force and (prev := done(out_dir, "tokenizer", config_hash)):
        log.info("tokenizer: already trained with these settings, skipped")
        return prev["summary"]
    reset(tok_dir)
    source_chars = {s: v["kept_chars"] for s, v in curate_stats["sources"].items()}
    task = ray.remote(num_cpus=1)(_train)
    with progress.step("tokenizer"):
        summary = ray.get(task.remote(os.path.join(out_dir, "curated"), source_chars, cfg.tokenizer, cfg.seed, tok_dir))
    summary["timings"] = {"tokenizer": progress.timings["tokenizer"]}
    mark_done(out_dir, "tokenizer", config_hash, {"summary": summary}, [tok_dir])
    return summary
