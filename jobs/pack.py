"""The packing pass: tokenize curated documents in an actor pool, pack them, write shards and the manifest.

Documents are spread over ``num_pack_groups`` groups by a seeded hash of their id; one
Ray Data hash shuffle brings each group together, and each group is packed in its own
seeded order and written as one shard, so the shards do not depend on block or worker counts.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
from functools import partial
from typing import Any

import pyarrow as pa
import ray.data

from jobs.config import RunConfig
from jobs.markers import done, mark_done, reset
from jobs.ray_session import pool_size
from tokenization.shards import PackConfig, build_rows, write_manifest, write_shard
from tokenization.tokenize import TokenizeStage

log = logging.getLogger("corpusmill")

INFO_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64()), ("documents", pa.int64()),
                         ("pieces", pa.int64()), ("truncated_documents", pa.int64()),
                         ("overlong_documents", pa.int64()), ("tokens", pa.int64()), ("source_tokens", pa.string()),
                         ("bytes", pa.int64()), ("sha256", pa.string())])


def _pack_group(group: pa.Table, cfg: PackConfig, seed: int, shard_dir: str) -> pa.Table:
    key = f"{group['pack_group'][0].as_py():05d}"
    table, info = build_rows(group, cfg, seed, key)
    written = write_shard(table, os.path.join(shard_dir, f"shard-{key}.arrow"), cfg.batch_rows)
    info.update(written, source_tokens=json.dumps(info["source_tokens"]))
    return pa.Table.from_pylist([info], schema=INFO_SCHEMA)


def run_pack(cfg: RunConfig, out_dir: str, tokenizer: dict[str, Any], cpus: int, force: bool = False) -> dict:
    shard_dir = os.path.join(out_dir, "shards")
    config_hash = cfg.stage_hash("sources", "curate", "tokenizer", "tokenize", "pack", "seed")
    if not force and (prev := done(shard_dir, config_hash)):
        log.info("pack: shards already written with these settings, skipped")
        return prev["manifest"]
    reset(shard_dir)
    files = sorted(glob.glob(os.path.join(out_dir, "curated", "*", "*.parquet")))
    if not files:
        raise RuntimeError("no curated documents to pack: every record was dropped or quarantined")
    tok_path = os.path.join(out_dir, "tokenizer", "tokenizer.json")
    ds = ray.data.read_parquet(files).select_columns(["id", "source", "text", "meta", "images"])
    ds = ds.map_batches(TokenizeStage, batch_size=256, batch_format="pyarrow",
                        compute=ray.data.ActorPoolStrategy(size=pool_size(cpus)),
                        fn_constructor_kwargs={"tokenizer_path": tok_path, "seed": cfg.seed,
                                               "num_pack_groups": cfg.pack.num_pack_groups,
                                               "config": cfg.tokenize.model_dump()})
    ds = ds.groupby("pack_group", num_partitions=min(cfg.pack.num_pack_groups, 64)).map_groups(
        partial(_pack_group, cfg=cfg.pack, seed=cfg.seed, shard_dir=shard_dir), batch_format="pyarrow")
    shards = [dict(r, source_tokens=json.loads(r["source_tokens"])) for r in ds.take_all()]
    shutil.copyfile(tok_path, os.path.join(shard_dir, "tokenizer.json"))
    header = {
        "seq_len": cfg.pack.seq_len,
        "tokenizer": {"file": "tokenizer.json", "sha256": tokenizer["sha256"], "vocab_size": tokenizer["vocab_size"],
                      "special_tokens": tokenizer["special_tokens"]},
        "mask": cfg.pack.mask.model_dump(),
        "packing": {"mode": cfg.pack.mode, "window": cfg.pack.window},
        "seed": cfg.seed,
    }
    manifest = write_manifest(shard_dir, shards, header)
    summary = {k: manifest[k] for k in ("rows", "tokens", "source_tokens")}
    summary["fill"] = round(manifest["tokens"] / max(1, manifest["rows"] * cfg.pack.seq_len), 4)
    summary["documents"] = sum(s["documents"] for s in shards)
    for key in ("pieces", "truncated_documents", "overlong_documents"):
        summary[key] = sum(s[key] for s in shards)
    summary["shards"] = len(shards)
    mark_done(shard_dir, config_hash, {"manifest": summary})
    return summary
