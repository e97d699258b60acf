"""The packing pass: tokenize, mix, pack, write shards and the manifest.

Step 1 tokenizes curated documents in an actor pool and brings each pack group (a seeded
hash of the document id) together with one Ray Data hash shuffle, writing
``tokens/group-*.parquet`` and returning per-source token counts. The driver turns those
counts into mixing rates. Step 2 maps over the group files: each is mixed, packed in its own
seeded order and cut into shards of about ``max_shard_bytes``. A last shuffle by sha256 prefix
writes the image store. No step depends on block or worker counts.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections import Counter
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data

from jobs.config import RunConfig
from jobs.markers import done, mark_done, reset
from jobs.ray_session import pool_size
from pipeline.curated_io import write_parquet_atomic
from tokenization import storage
from tokenization.image_store import image_rows, write_image_part
from tokenization.mixing import apply_mix, mixing_rates
from tokenization.shards import PackConfig, build_rows, shard_counts, split_rows, write_manifest, write_shard
from tokenization.tokenize import TokenizeStage, pack_key

log = logging.getLogger("corpusmill")

INFO_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64()), ("documents", pa.int64()),
                         ("pieces", pa.int64()), ("truncated_documents", pa.int64()),
                         ("overlong_documents", pa.int64()), ("tokens", pa.int64()), ("source_tokens", pa.string()),
                         ("bytes", pa.int64()), ("sha256", pa.string())])
COUNT_SCHEMA = pa.schema([("source", pa.string()), ("documents", pa.int64()), ("tokens", pa.int64())])


def _write_group(group: pa.Table, tokens_dir: str) -> pa.Table:
    key = f"{group['pack_group'][0].as_py():05d}"
    group = group.sort_by([("pack_key", "ascending"), ("id", "ascending")])
    write_parquet_atomic(group, os.path.join(tokens_dir, f"group-{key}.parquet"))
    lengths = pc.list_value_length(group["token_ids"])
    counts = pa.table({"source": group["source"], "tokens": lengths}).group_by("source", use_threads=False).aggregate(
        [("tokens", "count"), ("tokens", "sum")])
    return pa.table({"source": counts["source"], "documents": counts["tokens_count"],
                     "tokens": counts["tokens_sum"]}, schema=COUNT_SCHEMA)


def _pack_files(batch: pa.Table, cfg: PackConfig, seed: int, rates: dict[str, float], shard_dir: str) -> pa.Table:
    infos = []
    for path in batch["path"].to_pylist():
        key = os.path.basename(path).removeprefix("group-").removesuffix(".parquet")
        group = apply_mix(pq.read_table(path), rates, seed, partial(pack_key, seed))
        if not group.num_rows:
            continue
        table, group_info = build_rows(group, cfg, seed, key)
        for part, rows in enumerate(split_rows(table, cfg)):
            info = dict.fromkeys(("documents", "pieces", "truncated_documents", "overlong_documents"), 0)
            if part == 0:  # the group's packing figures, counted once
                info.update({k: group_info[k] for k in info})
            info.update(shard_counts(rows))
            info.update(write_shard(rows, storage.join(shard_dir, f"shard-{key}-{part:04d}.arrow"), cfg.batch_rows,
                                    cfg.compression))
            infos.append(dict(info, source_tokens=json.dumps(info["source_tokens"])))
    return pa.Table.from_pylist(infos, schema=INFO_SCHEMA)


def _curated_files(out_dir: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(out_dir, "curated", "*", "*.parquet")))
    if not files:
        raise RuntimeError("no curated documents to pack: every record was dropped or quarantined")
    return files


def _tokenize_to_groups(cfg: RunConfig, out_dir: str, cpus: int) -> dict[str, dict[str, int]]:
    tokens_dir = os.path.join(out_dir, "tokens")
    reset(tokens_dir)
    ds = ray.data.read_parquet(_curated_files(out_dir)).select_columns(["id", "source", "text", "meta", "images"])
    ds = ds.map_batches(TokenizeStage, batch_size=256, batch_format="pyarrow",
                        compute=ray.data.ActorPoolStrategy(size=pool_size(cpus)),
                        fn_constructor_kwargs={"tokenizer_path": os.path.join(out_dir, "tokenizer", "tokenizer.json"),
                                               "seed": cfg.seed, "num_pack_groups": cfg.pack.num_pack_groups,
                                               "config": cfg.tokenize.model_dump()})
    ds = ds.groupby("pack_group", num_partitions=min(cfg.pack.num_pack_groups, 64)).map_groups(
        partial(_write_group, tokens_dir=tokens_dir), batch_format="pyarrow")
    totals: dict[str, Counter] = {"documents": Counter(), "tokens": Counter()}
    for row in ds.take_all():
        totals["documents"][row["source"]] += row["documents"]
        totals["tokens"][row["source"]] += row["tokens"]
    return {k: dict(sorted(v.items())) for k, v in totals.items()}


def _write_images(out_dir: str, shard_dir: str) -> list[dict[str, Any]]:
    """The image store beside the shards, from the curated documents' images (one shuffle by sha prefix)."""
    ds = ray.data.read_parquet(_curated_files(out_dir)).select_columns(["images"])
    ds = ds.map_batches(image_rows, batch_format="pyarrow")
    ds = ds.groupby("prefix", num_partitions=16).map_groups(
        partial(write_image_part, images_dir=storage.join(shard_dir, "images")), batch_format="pyarrow")
    return sorted(ds.take_all(), key=lambda e: e["file"])


def run_pack(cfg: RunConfig, out_dir: str, tokenizer: dict[str, Any], cpus: int, force: bool = False) -> dict:
    shard_dir = cfg.pack.output or os.path.join(out_dir, "shards")
    config_hash = cfg.stage_hash("sources", "curate", "tokenizer", "tokenize", "mix", "pack", "seed")
    if not force and (prev := done(out_dir, "pack", config_hash)):
        log.info("pack: shards already written with these settings, skipped")
        return prev["manifest"]
    storage.reset_dir(shard_dir)
    tokenized = _tokenize_to_groups(cfg, out_dir, cpus)
    rates = mixing_rates(tokenized["tokens"], cfg.mix)
    log.info("pack: tokens by source %s; mixing rates %s", tokenized["tokens"],
             {s: round(r, 3) for s, r in rates.items()})
    group_files = sorted(glob.glob(os.path.join(out_dir, "tokens", "group-*.parquet")))
    ds = ray.data.from_items([{"path": p} for p in group_files], override_num_blocks=len(group_files))
    ds = ds.map_batches(partial(_pack_files, cfg=cfg.pack, seed=cfg.seed, rates=rates, shard_dir=shard_dir),
                        batch_size=1, batch_format="pyarrow")
    shards = [dict(r, source_tokens=json.loads(r["source_tokens"])) for r in ds.take_all()]
    images = _write_images(out_dir, shard_dir)
    storage.copy_local(os.path.join(out_dir, "tokenizer", "tokenizer.json"), storage.join(shard_dir, "tokenizer.json"))
    achieved: Counter[str] = Counter()
    for s in shards:
        achieved.update(s["source_tokens"])
    total = sum(achieved.values()) or 1
    header = {
        "seq_len": cfg.pack.seq_len,
        "tokenizer": {"file": "tokenizer.json", "sha256": tokenizer["sha256"], "vocab_size": tokenizer["vocab_size"],
                      "special_tokens": tokenizer["special_tokens"]},
        "mask": cfg.pack.mask.model_dump(),
        "packing": {"mode": cfg.pack.mode, "window": cfg.pack.window, "compression": cfg.pack.compression},
        "mix": {"target": cfg.mix.weights, "max_repeat": cfg.mix.max_repeat, "rates": rates,
                "tokens_before_mix": tokenized["tokens"],
                "achieved": {s: round(n / total, 4) for s, n in sorted(achieved.items())}},
        "seed": cfg.seed,
        "images": images,
        "image_tokens": cfg.tokenize.image_layout(),
    }
    manifest = write_manifest(shard_dir, shards, header)
    summary = {k: manifest[k] for k in ("rows", "tokens", "source_tokens")}
    summary["fill"] = round(manifest["tokens"] / max(1, manifest["rows"] * cfg.pack.seq_len), 4)
    for key in ("documents", "pieces", "truncated_documents", "overlong_documents"):
        summary[key] = sum(s[key] for s in shards)
    summary.update(shards=len(shards), mix=header["mix"], documents_before_mix=tokenized["documents"])
    summary["shard_dir"] = shard_dir
    mark_done(out_dir, "pack", config_hash, {"manifest": summary})
    return summary


if __name__ == "__main__":  # python -m jobs.pack --config …: this pass and, when not done yet, those before it
    import sys

    from jobs.run import main

    sys.exit(main(until="pack"))
