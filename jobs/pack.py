"""The packing pass: tokenize, mix, pack, write shards and the manifest.

Step 1 tokenizes curated documents in tasks on every core and brings each pack group (a seeded
hash of the document id) together with one Ray Data shuffle, writing
``tokens/group-*.parquet`` and returning per-source token counts. The driver turns those
counts into mixing rates. Step 2 maps over the group files: each is mixed, packed in its own
seeded order and cut into shards of about ``max_shard_bytes``. A last shuffle by sha256 prefix
writes the image store. No step depends on block or worker counts.
"""

from __future__ import annotations

import glob
import logging
import os
from collections import Counter
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.config import RunConfig
from jobs.markers import done, mark_done, read_receipts, recorded_hash, reset, resume_dir, write_json_atomic
from jobs.progress import Progress, report, text_bytes
from jobs.ray_steps import TASKS_PER_CPU, data_context, file_bundles, grouped_map, per_item, read_parquet_files
from jobs.usage import UsageError
from pipeline.accounting import identified_language
from pipeline.curated_io import write_parquet_atomic
from tokenization.mixing import MixPlan, apply_mix, off_target, plan_mix
from tokenization.shards import storage as storage
from tokenization.shards.histograms import fill_counts, fill_edges, histogram, log2_counts, log2_edges, merge
from tokenization.shards.image_store import image_rows, write_image_part
from tokenization.shards.shards import PackConfig, build_rows, shard_counts, split_rows, write_manifest, write_shard
from tokenization.tokenizer.fast_encode import unsupported
from tokenization.tokenizer.tokenize import TokenizeStage, pack_key

log = logging.getLogger("corpusmill")

COUNT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("language", pa.string()),  # language ID's answer (null: code, or not identified)
        ("documents", pa.int64()),
        ("tokens", pa.int64()),
        ("chars", pa.int64()),
        ("bytes", pa.int64()),  # UTF-8
        ("token_bins", pa.list_(pa.int64())),
        ("char_bins", pa.list_(pa.int64())),
    ]
)


class _TokenizeCountingChars(TokenizeStage):
    """The tokenize stage, keeping each document's length in characters for the report and
    reporting its progress (documents and text bytes per batch)."""

    def __init__(self, counter: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = counter

    def __call__(self, table: pa.Table) -> pa.Table:
        chars = pc.utf8_length(table["text"]).cast(pa.int64())
        nbytes = pc.binary_length(table["text"]).cast(pa.int64())
        language = pa.array([identified_language(m) for m in table["meta"].to_pylist()], pa.string())
        out = super().__call__(table).append_column("chars", chars)
        out = out.append_column("bytes", nbytes).append_column("language", language)
        report(self.counter, "pack/tokenize", units=table.num_rows, nbytes=text_bytes(table))
        return out


_STAGES: dict[str, TokenizeStage] = {}  # per worker process: one loaded tokenizer for every task it runs
TOKENIZE_COLUMNS = ["id", "source", "text", "meta", "images"]


def _stage(stage_args: dict[str, Any]) -> _TokenizeCountingChars:
    """The worker process's stage for these settings and this tokenizer file: a tokenizer is loaded once per
    process, and again when a later run writes another one at the same path (a long-lived cluster's workers)."""
    import json

    st = os.stat(stage_args["tokenizer_path"])
    key = json.dumps([stage_args, st.st_ino, st.st_size, st.st_mtime_ns], sort_keys=True)
    if key not in _STAGES:
        _STAGES.clear()
        _STAGES[key] = _TokenizeCountingChars(**stage_args)
    return _STAGES[key]


def _tokenize_files(batch: pa.Table, counter: Any, stage_args: dict[str, Any]):
    """Read and tokenize one bundle of curated files, 256 rows at a time. Plain tasks, unlike a fixed actor
    pool, fill every CPU slot and leave none idle for the shuffle after them."""
    stage = _stage(stage_args)
    stage.counter = counter
    for path in batch["paths"][0].as_py():
        for b in pq.ParquetFile(path).iter_batches(batch_size=256, columns=TOKENIZE_COLUMNS):
            yield stage(pa.Table.from_batches([b]))


def resolve_encoder(choice: str, tokenizer_path: str) -> tuple[str, str | None]:
    """The engine the tokenize step uses and, where it is not tiktoken, why; checked once, on the driver."""
    if choice == "tokenizers":
        return "tokenizers", "tokenize.encoder: tokenizers"
    reason = unsupported(tokenizer_path)
    if reason is None:
        return "tiktoken", None
    if choice == "tiktoken":
        raise UsageError(f"tokenize.encoder: tiktoken cannot give this tokenizer's tokens: {reason}")
    log.warning("pack: tokenizing with tokenizers, not tiktoken: %s", reason)
    return "tokenizers", reason


def _write_group(group: pa.Table, tokens_dir: str) -> pa.Table:
    key = f"{group['pack_group'][0].as_py():05d}"
    group = group.sort_by([("pack_key", "ascending"), ("id", "ascending")])
    write_parquet_atomic(
        group.drop_columns(["chars", "bytes", "language"]), os.path.join(tokens_dir, f"group-{key}.parquet")
    )
    lengths = pc.list_value_length(group["token_ids"]).to_numpy().astype(np.int64)
    chars, nbytes = group["chars"].to_numpy(), group["bytes"].to_numpy()
    keys = list(zip(group["source"].to_pylist(), group["language"].to_pylist()))
    distinct = sorted(set(keys), key=str)
    index = {key: k for k, key in enumerate(distinct)}
    code = np.fromiter((index[key] for key in keys), np.int64, len(keys))  # one pass, not one per key
    rows = []
    for k, (source, language) in enumerate(distinct):
        mine = code == k
        rows.append(
            {
                "source": source,
                "language": language,
                "documents": int(mine.sum()),
                "tokens": int(lengths[mine].sum()),
                "chars": int(chars[mine].sum()),
                "bytes": int(nbytes[mine].sum()),
                "token_bins": log2_counts(lengths[mine]),
                "char_bins": log2_counts(chars[mine]),
            }
        )
    return pa.Table.from_pylist(rows, schema=COUNT_SCHEMA)


def token_efficiency(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per identified language, how much text a token holds: characters and UTF-8 bytes per token
    of the trained tokenizer (Chinese packs ~1.5 characters into a token where English packs ~4)."""
    sums: dict[str, Counter] = {}
    for row in rows:
        if row["language"] is not None:
            sums.setdefault(row["language"], Counter()).update(
                {k: row[k] for k in ("documents", "tokens", "chars", "bytes")}
            )
    return {
        lang: {
            **dict(c),
            "chars_per_token": round(c["chars"] / max(c["tokens"], 1), 3),
            "bytes_per_token": round(c["bytes"] / max(c["tokens"], 1), 3),
        }
        for lang, c in sorted(sums.items())
    }


def _pack_files(
    batch: pa.Table, cfg: PackConfig, seed: int, rates: dict[str, float], shard_dir: str, groups_dir: str, counter: Any
) -> pa.Table:
    """Mix, pack and shard whole group files; a group's receipt (its shards' entries and its
    figures), written last, marks it done, so a rerun packs only the groups without one."""
    for path in batch["path"].to_pylist():
        key = os.path.basename(path).removeprefix("group-").removesuffix(".parquet")
        group = apply_mix(pq.read_table(path), rates, seed, partial(pack_key, seed))
        infos, fills = [], np.zeros(0)
        if group.num_rows:
            table, group_info = build_rows(group, cfg, seed, key)
            cu = table["cu_seqlens"].combine_chunks()  # a row's fill is its last boundary
            fills = cu.values.to_numpy()[cu.offsets.to_numpy()[1:] - 1] / cfg.seq_len
            for part, rows in enumerate(split_rows(table, cfg)):
                info = dict.fromkeys(("documents", "pieces", "truncated_documents", "overlong_documents"), 0)
                if part == 0:  # the group's packing figures, counted once
                    info.update({k: group_info[k] for k in info})
                info.update(shard_counts(rows))
                info.update(
                    write_shard(
                        rows, storage.join(shard_dir, f"shard-{key}-{part:04d}.arrow"), cfg.batch_rows, cfg.compression
                    )
                )
                infos.append(info)
        lengths = pc.list_value_length(group["token_ids"]).to_numpy()
        mixed = Counter()
        for source, n in zip(group["source"].to_pylist(), lengths.tolist()):
            mixed[source] += n
        receipt = {"shards": infos, "fill_bins": fill_counts(fills), "mixed_tokens": dict(sorted(mixed.items()))}
        write_json_atomic(os.path.join(groups_dir, f"group-{key}.json"), receipt)
        report(counter, "pack/shards", units=1, docs=group.num_rows, nbytes=sum(i["bytes"] for i in infos))
    return pa.table({"groups": [batch.num_rows]})


def _curated_files(out_dir: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(out_dir, "curated", "*", "*.parquet")))
    if not files:
        raise RuntimeError("no curated documents to pack: every record was dropped or quarantined")
    return files


def _tokenize_to_groups(cfg: RunConfig, out_dir: str, cpus: int, progress: Progress, force: bool) -> dict[str, Any]:
    """Tokenize into pack group files, or reuse them when an earlier attempt finished this step."""
    tokens_dir = os.path.join(out_dir, "tokens")
    config_hash = cfg.pass_hash("pack_tokens", {p: recorded_hash(out_dir, p) for p in ("curate", "tokenizer")})
    if not force and (prev := done(out_dir, "pack_tokens", config_hash)):
        log.info("pack: tokens of an earlier attempt with these settings reused")
        return prev["totals"]
    reset(tokens_dir)
    files = _curated_files(out_dir)
    total_docs = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    tokenizer_path = os.path.join(out_dir, "tokenizer", "tokenizer.json")
    engine, why = resolve_encoder(cfg.tokenize.encoder, tokenizer_path)
    stage_args = {
        "tokenizer_path": tokenizer_path,
        "seed": cfg.seed,
        "num_pack_groups": cfg.pack.num_pack_groups,
        "config": cfg.tokenize.model_dump(),
        "engine": engine,
    }
    # every CPU slot for the tokenize tasks: with slot reservation on (ray.shuffle: hash) Ray Data kept slots
    # for the shuffle after them, and on 2 CPUs one task ran at a time (one core busy, 16 s against 9.5 s).
    # No actor waits on these tasks, so nothing starves: the shuffle's aggregators start as they finish.
    no_reservation = data_context(op_resource_reservation_enabled=False)
    with progress.step("pack/tokenize", "docs", total_docs), no_reservation:
        items = [{"paths": b} for b in file_bundles(files, TASKS_PER_CPU * cpus)]
        ds = per_item(items, _tokenize_files, counter=progress.counter, stage_args=stage_args)
        ds = grouped_map(
            ds, "pack_group", min(cfg.pack.num_pack_groups, 64), partial(_write_group, tokens_dir=tokens_dir)
        )
        rows = ds.take_all()
    totals: dict[str, Counter] = {"documents": Counter(), "tokens": Counter()}
    bins: dict[str, dict[str, list[int]]] = {"token_bins": {}, "char_bins": {}}
    for row in rows:
        totals["documents"][row["source"]] += row["documents"]
        totals["tokens"][row["source"]] += row["tokens"]
        for name in bins:
            merge(bins[name], {row["source"]: row[name]})
    if sum(totals["documents"].values()) != total_docs:
        raise RuntimeError(f"tokenized {sum(totals['documents'].values())} of {total_docs} curated documents")
    result = {k: dict(sorted(v.items())) for k, v in totals.items()}
    result["token_efficiency"] = token_efficiency(rows)
    result["encoder"] = {"engine": engine, "reason": why}
    result["histograms"] = {
        "document_tokens": histogram("tokens per document", log2_edges(), bins["token_bins"]),
        "document_chars": histogram("characters per document", log2_edges(), bins["char_bins"]),
    }
    mark_done(out_dir, "pack_tokens", config_hash, {"totals": result}, [tokens_dir])
    return result


def _image_columns(files: list[str]) -> tuple[int, int]:
    """(bytes of the image columns, images) from the Parquet footers, nothing read; a footer without statistics
    counts its row group's images as present."""
    nbytes = count = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                if not column.path_in_schema.startswith("images"):
                    continue
                nbytes += column.total_uncompressed_size
                if column.path_in_schema.endswith(".sha256"):
                    stats = column.statistics
                    known = stats is not None and stats.has_null_count
                    count += column.num_values - stats.null_count if known else max(1, column.num_values)
    return nbytes, count


def _image_partitions(nbytes: int, partition_bytes: int = 256 << 20) -> int:
    """Shuffle partitions for the image store: one per 256 MB of image columns, 1 to 16 (one per first hex digit
    of the sha256 at most); a shuffle partition costs seconds even empty."""
    return max(1, min(16, -(-nbytes // partition_bytes)))


def _write_images(out_dir: str, shard_dir: str) -> list[dict[str, Any]]:
    """The image store beside the shards, from the curated documents' images (one shuffle by sha prefix); no
    shuffle at all when no curated document holds an image."""
    files = _curated_files(out_dir)
    nbytes, count = _image_columns(files)
    if not count:
        return []
    ds = read_parquet_files(files, ["images"])
    ds = ds.map_batches(image_rows, batch_format="pyarrow")
    ds = grouped_map(
        ds, "prefix", _image_partitions(nbytes), partial(write_image_part, images_dir=storage.join(shard_dir, "images"))
    )
    return sorted(ds.take_all(), key=lambda e: e["file"])


def _pack_groups(
    cfg: RunConfig,
    out_dir: str,
    shard_dir: str,
    rates: dict[str, float],
    config_hash: str,
    force: bool,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Pack every group file not packed yet with these settings (``config_hash``); return every group's receipt."""
    groups_dir = os.path.join(out_dir, "_pack_groups")
    if not resume_dir(groups_dir, config_hash, force):
        storage.reset_dir(shard_dir)
    group_files = sorted(glob.glob(os.path.join(out_dir, "tokens", "group-*.parquet")))
    todo = [p for p in group_files if not os.path.exists(os.path.join(groups_dir, os.path.basename(p)[:-8] + ".json"))]
    if len(todo) < len(group_files):
        log.info(
            "pack: %d of %d groups already packed by an earlier attempt, skipped",
            len(group_files) - len(todo),
            len(group_files),
        )
    with progress.step("pack/shards", "groups", len(todo)):
        if todo:
            per_item(
                [{"path": p} for p in todo],
                _pack_files,
                cfg=cfg.pack,
                seed=cfg.seed,
                rates=rates,
                shard_dir=shard_dir,
                groups_dir=groups_dir,
                counter=progress.counter,
            ).materialize()
    return read_receipts(groups_dir, "group-*.json")


def _mix_summary(cfg: RunConfig, plan: MixPlan, tokens: dict[str, int], achieved: dict[str, float]) -> dict[str, Any]:
    """The mix as planned and as packed, per source; a warning names each source off target by more than
    ``mix.tolerance_pts`` and what bound it."""
    gaps = off_target(plan.target, achieved, cfg.mix.tolerance_pts)
    if gaps:
        log.warning(
            "mix: %s",
            "; ".join(f"{s} {g:+.1f} points from target ({plan.binding.get(s, 'no weight')})" for s, g in gaps.items()),
        )
    return {
        "policy": plan.policy,
        "budget": plan.budget,
        "planned_tokens": round(plan.total),
        "max_repeat": cfg.mix.max_repeat,
        "optional": cfg.mix.optional,
        "tolerance_pts": cfg.mix.tolerance_pts,
        "target": {s: round(v, 4) for s, v in plan.target.items()},
        "planned": {s: round(v, 4) for s, v in plan.planned.items()},
        "achieved": {s: round(v, 4) for s, v in achieved.items()},
        "binding": plan.binding,
        "off_target_pts": gaps,
        "rates": plan.rates,
        "tokens_before_mix": tokens,
    }


def run_pack(
    cfg: RunConfig, out_dir: str, tokenizer: dict[str, Any], cpus: int, progress: Progress, force: bool = False
) -> dict:
    shard_dir = cfg.pack.output or os.path.join(out_dir, "shards")
    tokenized = _tokenize_to_groups(cfg, out_dir, cpus, progress, force)
    config_hash = cfg.pass_hash("pack", {"pack_tokens": recorded_hash(out_dir, "pack_tokens")})
    if not force and (prev := done(out_dir, "pack", config_hash)):
        log.info("pack: shards already written with these settings, skipped")
        return prev["manifest"]
    plan = plan_mix(tokenized["tokens"], cfg.mix)
    rates = plan.rates
    log.info(
        "pack: tokens by source %s; mix %s of %d planned tokens, rates %s",
        tokenized["tokens"],
        plan.policy,
        round(plan.total),
        {s: round(r, 3) for s, r in rates.items()},
    )
    receipts = _pack_groups(cfg, out_dir, shard_dir, rates, config_hash, force, progress)
    shards = [info for r in receipts for info in r["shards"]]
    with progress.step("pack/images"):
        images = _write_images(out_dir, shard_dir)
    storage.copy_local(os.path.join(out_dir, "tokenizer", "tokenizer.json"), storage.join(shard_dir, "tokenizer.json"))
    achieved: Counter[str] = Counter()
    mixed: Counter[str] = Counter()
    fill_bins: dict[str, list[int]] = {}
    for r in receipts:
        mixed.update(r["mixed_tokens"])
        merge(fill_bins, {"all": r["fill_bins"]})
    for s in shards:
        achieved.update(s["source_tokens"])
    total = sum(achieved.values()) or 1
    header = {
        "seq_len": cfg.pack.seq_len,
        "tokenizer": {
            "file": "tokenizer.json",
            "sha256": tokenizer["sha256"],
            "vocab_size": tokenizer["vocab_size"],
            "special_tokens": tokenizer["special_tokens"],
        },
        "mask": cfg.pack.mask.model_dump(),
        "packing": {"mode": cfg.pack.mode, "window": cfg.pack.window, "compression": cfg.pack.compression},
        "mix": _mix_summary(cfg, plan, tokenized["tokens"], {s: n / total for s, n in sorted(achieved.items())}),
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
    summary["token_efficiency"] = tokenized.get("token_efficiency", {})
    summary["encoder"] = tokenized["encoder"]
    summary["token_funnel"] = {
        src: {
            "tokenized": tokenized["tokens"].get(src, 0),
            "after_mix": mixed.get(src, 0),
            "packed": achieved.get(src, 0),
        }
        for src in sorted(tokenized["tokens"])
    }
    summary["histograms"] = dict(
        tokenized["histograms"], row_fill=histogram("share of the row's tokens", fill_edges(), fill_bins)
    )
    summary["shard_dir"] = shard_dir
    summary["timings"] = {k: v for k, v in progress.timings.items() if k.startswith("pack/")}
    mark_done(out_dir, "pack", config_hash, {"manifest": summary}, [shard_dir])
    return summary
