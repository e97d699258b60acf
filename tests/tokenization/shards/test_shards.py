import sys

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from tokenization.shards.masks import document_layout, unpack_bits
from tokenization.shards.reader import IGNORE_INDEX, PackedShards
from tokenization.shards.shards import PackConfig, build_rows, read_manifest, write_manifest, write_shard
from tokenization.tokenizer.special_tokens import IMAGE_END_ID, IMAGE_ID, IMAGE_START_ID, PAD_ID
from tokenization.tokenizer.tokenize import TOKENS_SCHEMA

IMAGE_TOKENS = (IMAGE_START_ID, IMAGE_ID, IMAGE_END_ID)


def _group(lengths: list[int], seed: int = 0, n_image: int = 6) -> pa.Table:
    """Random tokens; every 4th document has an image span at token 2 and, when long enough, a
    second one over tokens 250..257 (across the 128- and 256-token row boundaries)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(lengths):
        ids = rng.integers(20, 900, size=n).astype(np.uint32)
        shas = []
        for k, at in enumerate([2, 250]):
            if i % 4 == 0 and n > at + n_image + 3:
                ids[at : at + n_image + 2] = [IMAGE_START_ID] + [IMAGE_ID] * n_image + [IMAGE_END_ID]
                shas.append(f"{i:062x}{k:02x}")
        rows.append(
            {
                "id": f"d{i:03d}",
                "source": ["web", "code"][i % 2],
                "token_ids": ids.tolist(),
                "image_sha256": shas,
                "pack_group": 0,
                "pack_key": f"{rng.integers(1 << 30):08x}",
            }
        )
    return pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA)


def test_shard_rows_schema_masks_and_reader(tmp_path):
    cfg = PackConfig(seq_len=256, mask={"policy": "document", "block_size": 16})
    lengths = [30, 300, 7, 120, 256, 64, 1, 90, 511]
    table, info = build_rows(_group(lengths), cfg)
    assert table.schema.field("input_ids").type == pa.list_(pa.uint32(), 256)
    assert table.schema.field("loss_mask").type == pa.binary(32)
    assert info["tokens"] == sum(lengths) and info["documents"] == len(lengths)
    entry = write_shard(table, str(tmp_path / "shard-00000.arrow"), batch_rows=3)
    entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
    write_manifest(str(tmp_path), [entry], {"seq_len": 256})
    assert read_manifest(str(tmp_path))["rows"] == table.num_rows
    with pa.memory_map(str(tmp_path / "shard-00000.arrow")) as src:
        reader = ipc.open_file(src)
        assert reader.num_record_batches == -(-table.num_rows // 3)
        assert reader.read_all().equals(table)

    shards = PackedShards(str(tmp_path))
    for r, rec in enumerate(table.to_pylist()):
        cu = np.array(rec["cu_seqlens"])
        layout = unpack_bits(rec["block_layout"], (16, 16))
        assert np.array_equal(layout, document_layout(cu, 256, 16))
        row = shards.row(r)
        ids = row["input_ids"]
        assert np.all(ids[cu[-1] :] == PAD_ID)
        for start, end in zip(cu[:-1], cu[1:]):
            assert np.array_equal(row["position_ids"][start:end], np.arange(end - start))
            for t in range(start, end - 1):  # no image token is ever a target; the text after an image is
                expected = ids[t + 1] if ids[t + 1] not in IMAGE_TOKENS else IGNORE_INDEX
                assert row["labels"][t] == expected
            assert row["labels"][end - 1] == IGNORE_INDEX  # never predict across a document boundary
        assert np.all(row["labels"][cu[-1] :] == IGNORE_INDEX)
        assert np.array_equal(row["loss_mask"][: cu[-1]], ~np.isin(ids[: cu[-1]], IMAGE_TOKENS))
        covered = np.zeros(256, bool)
        for image in rec["images"]:  # whole spans: <|image_start|> 6 x <|image|> <|image_end|>
            a, n = image["start"], image["length"]
            assert n == 8 and ids[a : a + n].tolist() == [IMAGE_START_ID] + [IMAGE_ID] * 6 + [IMAGE_END_ID]
            covered[a : a + n] = True
            doc = rec["doc_ids"][int(np.searchsorted(cu, a, side="right")) - 1]
            assert image["sha256"].startswith(f"{int(doc[1:]):062x}")  # the span's own document's image
        assert np.array_equal(covered, np.isin(ids, IMAGE_TOKENS))  # no token of an image outside a listed span
    assert sum(len(rec["images"]) for rec in table.to_pylist()) == 4  # docs 0, 4, 8 (two) keep all their images


def test_rows_from_reused_arrays_equal_fresh_ones_and_held_batches_stay(tmp_path):
    """Batches come from a pool of arrays: stale contents must never show, a batch the trainer
    still holds must never be overwritten, and positions run per document or over the row."""
    cfg = PackConfig(seq_len=256, mask={"policy": "document", "block_size": 16})
    table, info = build_rows(_group([30, 300, 7, 120, 256, 64, 1, 90, 511, 40, 3]), cfg)
    entry = write_shard(table, str(tmp_path / "shard-00000.arrow"), batch_rows=3)
    entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
    write_manifest(str(tmp_path), [entry], {"seq_len": 256})
    pooled, fresh = PackedShards(str(tmp_path)), PackedShards(str(tmp_path))
    fresh._buffers = type(fresh._buffers)(keep=0)  # every array new
    rng, held = np.random.default_rng(0), []
    for step in range(40):
        for array in pooled._buffers._arrays:
            if sys.getrefcount(array) <= 2:  # the pool's list and this name: free for the next batch
                array.fill(-7)  # stale contents as unlike a batch as can be
        indices = rng.choice(len(pooled), 3).tolist()
        got, want = pooled.rows(indices), fresh.rows(indices)
        for key in ("input_ids", "labels", "position_ids", "loss_mask"):
            assert np.array_equal(got[key], want[key]), (step, key)
        held.append((got, want))
        if len(held) > 3:
            held.pop(0)
        for batch, copy in held:  # batches a trainer still holds keep their values
            assert all(np.array_equal(batch[k], copy[k]) for k in ("input_ids", "labels", "position_ids")), step
    assert len(pooled._buffers._arrays) > 3  # the pool was used, and grew while batches were held
    for r in range(len(pooled)):
        cu = table.column("cu_seqlens")[r].as_py()
        segments = cu + ([256] if cu[-1] < 256 else [])  # documents, then the padding
        expected = np.concatenate([np.arange(b - a) for a, b in zip(segments, segments[1:])])
        assert np.array_equal(pooled.rows([r])["position_ids"][0], expected)
        assert np.array_equal(pooled.rows([r], positions="row")["position_ids"][0], np.arange(256))


def test_split_into_shards_by_rows_and_bytes_with_zstd(tmp_path):
    from tokenization.shards.shards import shard_counts, split_rows

    cfg = PackConfig(seq_len=256, mask={"block_size": 16}, max_shard_rows=3, compression="zstd")
    table, info = build_rows(_group([30, 300, 7, 120, 256, 64, 1, 90, 511, 200, 45]), cfg)
    parts = split_rows(table, cfg)
    assert table.num_rows > 3 and all(p.num_rows == 3 for p in parts[:-1]) and 0 < parts[-1].num_rows <= 3
    assert sum(p.num_rows for p in parts) == table.num_rows
    by_bytes = split_rows(
        table, cfg.model_copy(update={"max_shard_rows": None, "max_shard_bytes": 2 * table.nbytes // table.num_rows})
    )
    assert all(p.num_rows <= 2 for p in by_bytes) and sum(p.num_rows for p in by_bytes) == table.num_rows
    entries = []
    for k, part in enumerate(parts):
        entry = write_shard(part, str(tmp_path / f"shard-00000-{k:04d}.arrow"), batch_rows=2, compression="zstd")
        entries.append({**entry, **shard_counts(part)})
    assert sum(e["tokens"] for e in entries) == info["tokens"]
    write_manifest(str(tmp_path), entries, {"seq_len": 256, "mask": cfg.mask.model_dump()})
    shards = PackedShards(str(tmp_path))
    assert len(shards) == table.num_rows
    for r, rec in enumerate(table.to_pylist()):
        assert shards.row(r)["input_ids"].tolist()[: rec["cu_seqlens"][-1]] == rec["input_ids"][: rec["cu_seqlens"][-1]]


def test_every_mode_keeps_image_spans_whole_and_refuses_unpaired_markers():
    import pytest

    lengths = [30, 300, 7, 120, 256, 64, 1, 90, 511, 260, 77, 31, 700]
    for mode in ("best_fit", "concat", "greedy"):
        table, _ = build_rows(_group(lengths), PackConfig(seq_len=256, mode=mode, mask={"block_size": 16}))
        spans = [(rec["input_ids"], s) for rec in table.to_pylist() for s in rec["images"]]
        assert len(spans) == 6  # docs 0, 4, 8, 12 at token 2; 8 and 12 at 250 (across the first row end)
        assert all(
            ids[s["start"] : s["start"] + 8] == [IMAGE_START_ID] + [IMAGE_ID] * 6 + [IMAGE_END_ID] for ids, s in spans
        )
    broken = _group([40]).to_pylist()
    broken[0]["token_ids"][5] = IMAGE_START_ID  # a second start before the first span's end
    with pytest.raises(ValueError, match="do not pair up"):
        build_rows(pa.Table.from_pylist(broken, schema=TOKENS_SCHEMA), PackConfig(seq_len=256, mask={"block_size": 16}))
