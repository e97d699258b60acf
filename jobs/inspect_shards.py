"""``corpusmill inspect DIR``: the manifest in brief, and one packed row decoded with its documents marked."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from tokenizers import Tokenizer

from jobs.usage import UsageError
from tokenization.shards.shards import read_manifest


def shard_dir_of(path: str) -> str:
    """Accept a run's output directory or its ``shards/`` directory."""
    nested = os.path.join(path, "shards")
    if os.path.exists(os.path.join(nested, "manifest.json")):
        return nested
    if not os.path.exists(os.path.join(path, "manifest.json")):
        raise UsageError(f"{path} holds no shards/manifest.json: pass a finished run's output directory")
    return path


def read_row(shard_path: str, row: int) -> dict:
    with pa.memory_map(shard_path) as source:
        table = ipc.open_file(source).read_all()
    if not 0 <= row < table.num_rows:
        raise UsageError(f"--row {row}: {os.path.basename(shard_path)} has rows 0 to {table.num_rows - 1}")
    return table.slice(row, 1).to_pylist()[0]


def describe(path: str, shard: int = 0, row: int = 0, max_chars: int = 400) -> str:
    shard_dir = shard_dir_of(path)
    m = read_manifest(shard_dir)
    lines = [
        f"{shard_dir}: schema v{m['schema_version']}, {len(m['shards'])} shards, {m['rows']} rows of "
        f"{m['seq_len']} tokens, {m['tokens']} tokens ({m['tokens'] / max(1, m['rows'] * m['seq_len']):.1%} fill)",
        f"mask: {m['mask']}; tokenizer: vocab {m['tokenizer']['vocab_size']}, sha256 {m['tokenizer']['sha256'][:12]}",
        "tokens by source: " + ", ".join(f"{k} {v}" for k, v in m["source_tokens"].items()),
    ]
    for s in m["shards"]:
        lines.append(f"  {s['file']}: {s['rows']} rows, {s['tokens']} tokens, {s['bytes']} bytes")
    if not m["shards"]:
        return "\n".join(lines)
    if not 0 <= shard < len(m["shards"]):
        raise UsageError(f"--shard {shard}: {shard_dir} has shards 0 to {len(m['shards']) - 1}")
    entry = m["shards"][shard]
    record = read_row(os.path.join(shard_dir, entry["file"]), row)
    tok = Tokenizer.from_file(os.path.join(shard_dir, m["tokenizer"]["file"]))
    ids, cu = np.asarray(record["input_ids"]), record["cu_seqlens"]
    lines.append(
        f"\n{entry['file']} row {row}: {len(record['doc_ids'])} documents, {cu[-1]} tokens + "
        f"{m['seq_len'] - cu[-1]} padding"
    )
    for d, (start, end) in enumerate(zip(cu[:-1], cu[1:])):
        text = tok.decode(ids[start:end].tolist(), skip_special_tokens=False)
        short = text if len(text) <= max_chars else text[: max_chars // 2] + " [...] " + text[-max_chars // 2 :]
        lines.append(
            f"──── document {d}: {record['doc_ids'][d]} ({record['sources'][d]}), tokens [{start}, {end}) ────\n{short}"
        )
    return "\n".join(lines)


def write_mask_png(path: str, row: int, png: str) -> str:
    """Draw row ``row`` (its index over all shards, in manifest order) of a shard directory as a PNG."""
    from tokenization.shards.mask_picture import mask_image
    from tokenization.shards.reader import PackedShards

    shards = PackedShards(shard_dir_of(path))
    m = shards.manifest
    image = mask_image(
        shards.row(row)["cu_seqlens"],
        shards.block_layout(row),
        m["seq_len"],
        m["mask"]["block_size"],
        m["mask"]["policy"],
    )
    image.save(png)
    return png
