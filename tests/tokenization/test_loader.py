from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tests.tokenization.shards.test_shards import _group
from tokenization.shards.masks import EXACT, MaskMismatchError, dense_mask, document_layout
from tokenization.shards.reader import ShardError
from tokenization.shards.shards import PackConfig, build_rows, verify_shards, write_manifest, write_shard

torch = pytest.importorskip("torch")
from tokenization.loader import EpochSampler, PackedDataset, PackedLoader, collate_packed  # noqa: E402

SEQ, BLOCK = 128, 16


def write_shard_dir(
    out, groups: int = 2, docs: int = 20, lengths: list[int] | None = None, policy: str = "block_sparse"
) -> str:
    """Shards of synthetic token rows (one document per row unless ``lengths`` says otherwise)."""
    mask = {"policy": policy, "block_size": BLOCK, "window": 1, "global_blocks": 1, "random_blocks": 1}
    cfg = PackConfig(seq_len=SEQ, mask=mask)
    entries = []
    for g in range(groups):
        table, info = build_rows(_group(lengths or [100 + g] * docs, seed=g), cfg, seed=0, group_key=str(g))
        entry = write_shard(table, str(out / f"shard-{g:05d}.arrow"), batch_rows=7)
        entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
        entries.append(entry)
    write_manifest(str(out), entries, {"seq_len": SEQ, "mask": cfg.mask.model_dump()})
    return str(out)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory) -> str:
    return write_shard_dir(tmp_path_factory.mktemp("shards"))  # 40 rows


def _indices(loader) -> list[int]:
    return [i for batch in loader for i in batch["index"].tolist()]


def test_two_ranks_two_workers_see_every_row_once(shard_dir):
    per_rank = [_indices(PackedLoader(shard_dir, 3, rank=r, world_size=2, num_workers=2, seed=7)) for r in range(2)]
    assert len(per_rank[0]) == len(per_rank[1]) == 20
    assert sorted(per_rank[0] + per_rank[1]) == list(range(40))


def test_remainder_drop_and_pad(shard_dir):
    dropped = [_indices(PackedLoader(shard_dir, 2, rank=r, world_size=3, remainder="drop")) for r in range(3)]
    assert all(len(r) == 13 for r in dropped) and len({i for r in dropped for i in r}) == 39
    padded = [_indices(PackedLoader(shard_dir, 2, rank=r, world_size=3, remainder="pad")) for r in range(3)]
    flat = [i for r in padded for i in r]
    assert all(len(r) == 14 for r in padded) and set(flat) == set(range(40)) and len(flat) == 42


def test_seed_and_epoch_change_the_order():
    sampler = EpochSampler(100, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(100))
    assert list(EpochSampler(100, seed=3)) == first and list(EpochSampler(100, seed=4)) != first


def test_a_start_past_the_epochs_end_leaves_nothing_not_a_negative_length():
    """A position restored into an epoch with fewer rows (another world size, a cut order) is past its end:
    the sampler then has no index left, and its length says so (list() and len(DataLoader) ask it)."""
    sampler = EpochSampler(10, seed=3)
    sampler.start = 25
    assert len(sampler) == 0 and list(sampler) == []
    sampler.start = 4
    assert len(sampler) == 6 == len(list(sampler))


@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_gives_the_batches_of_an_uninterrupted_run(shard_dir, world, workers):
    for rank in range(world):
        make = partial(PackedLoader, shard_dir, 3, rank=rank, world_size=world, seed=11)
        whole = make(num_workers=workers)
        whole.set_epoch(2)
        expected = [b["input_ids"] for b in whole]
        first = make(num_workers=workers)
        first.set_epoch(2)
        seen, stop = [], len(expected) // 2
        for batch in first:
            seen.append(batch["input_ids"])
            if len(seen) == stop:
                break
        state = first.state_dict()
        resumed = make(num_workers=2 - workers)  # and with the other number of workers
        resumed.load_state_dict(state)
        seen += [b["input_ids"] for b in resumed]
        assert len(seen) == len(expected) and all(torch.equal(a, b) for a, b in zip(seen, expected))


@pytest.mark.parametrize("attention", ["none", "varlen", "flex"])
def test_batches_made_in_process_equal_the_dataloaders(shard_dir, attention):
    """Without workers the loader builds batches itself; every array must be the DataLoader's."""
    layout = {"none": "causal", "varlen": "documents_only"}.get(attention, "stored")
    make = partial(PackedLoader, shard_dir, 3, seed=5, attention=attention, layout=layout)
    ours, theirs = list(make(num_workers=0)), list(make(num_workers=1))
    assert len(ours) == len(theirs) == 14
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        for key in a.keys() - {"block_mask", "max_seqlen"}:
            assert torch.equal(a[key], b[key]), key
        assert a.get("max_seqlen") == b.get("max_seqlen")


def test_resume_refuses_a_different_layout(shard_dir):
    state = PackedLoader(shard_dir, 3, world_size=2).state_dict()
    with pytest.raises(ValueError, match="world_size"):
        PackedLoader(shard_dir, 3, world_size=4).load_state_dict(state)


def test_works_with_stateful_dataloader(shard_dir):
    from torchdata.stateful_dataloader import StatefulDataLoader

    def make() -> StatefulDataLoader:
        return StatefulDataLoader(
            PackedDataset(shard_dir),
            batch_size=4,
            sampler=EpochSampler(40, seed=5),
            collate_fn=collate_packed,
            num_workers=2,
        )

    expected = [b["index"].tolist() for b in make()]
    loader, seen = make(), []
    for batch in loader:
        seen.append(batch["index"].tolist())
        if len(seen) == 4:
            break
    state = loader.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    assert seen + [b["index"].tolist() for b in resumed] == expected


MIXED = [30, 50, 20, 70, 10, 90, 5, 60, 110, 40]  # several documents per row, and padding


def _reference(dataset: PackedDataset, policy: str, stored: bool = True) -> np.ndarray:
    """The rule's mask of every row ([rows, L, L]) under ``policy``, with the stored layouts or
    (``stored=False``) with every block a document spans: plain document-causal attention."""
    masks = []
    for i in range(len(dataset)):
        cu = dataset.shards.row(i)["cu_seqlens"]
        layout = dataset.shards.block_layout(i) if stored else document_layout(cu, SEQ, BLOCK)
        masks.append(dense_mask(cu, SEQ, layout, BLOCK, policy))
    return np.stack(masks)


def _varlen_masks(batch: dict, rows: int) -> np.ndarray:
    """The mask FlashAttention's varlen realizes from the batch's flattened cu_seqlens."""
    segment = np.zeros(rows * SEQ, dtype=np.int64)
    segment[batch["cu_seqlens"][1:-1].numpy()] = 1
    segment = np.cumsum(segment).reshape(rows, SEQ)
    return (segment[:, :, None] == segment[:, None, :]) & np.tril(np.ones((SEQ, SEQ), dtype=bool))


def _flex_output_error(batch: dict, reference: np.ndarray) -> float:
    """FlexAttention with the batch's BlockMask against SDPA with the reference mask."""
    import warnings

    from torch.nn.attention.flex_attention import flex_attention

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(len(reference), 2, SEQ, 8, generator=gen) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=torch.from_numpy(reference)[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention warns that it is not compiled
        out = flex_attention(q, k, v, block_mask=batch["block_mask"])
    return float((out - expected).abs().max())


def _realized(shard_dir: str, attention: str, layout: str = "stored") -> tuple[np.ndarray | None, dict, int]:
    loader = PackedLoader(shard_dir, 64, shuffle=False, attention=attention, layout=layout, device="cpu")
    batch = next(iter(loader))
    rows = len(batch["index"])
    if attention == "dense":
        return batch["attn_mask"][:, 0].numpy(), batch, rows
    if attention == "varlen":
        return _varlen_masks(batch, rows), batch, rows
    if attention == "none":
        return np.broadcast_to(np.tril(np.ones((SEQ, SEQ), dtype=bool)), (rows, SEQ, SEQ)), batch, rows
    return None, batch, rows  # flex: compared through its output


@pytest.mark.parametrize("policy", ["causal", "document", "block_sparse"])
@pytest.mark.parametrize("attention", ["dense", "flex", "varlen", "none"])
def test_each_materializer_is_exact_for_the_shards_policy_or_refused(tmp_path, policy, attention):
    shard_dir = write_shard_dir(tmp_path, groups=1, lengths=MIXED, policy=policy)
    if policy not in EXACT[attention]:
        with pytest.raises(MaskMismatchError, match=f"cannot express these shards' '{policy}' mask; exact for it"):
            PackedLoader(shard_dir, 4, attention=attention)
        return
    dataset = PackedDataset(shard_dir, attention="dense")
    reference = _reference(dataset, policy)
    assert len(reference) > 1 and any(len(dataset.shards.row(i)["cu_seqlens"]) > 2 for i in range(len(dataset)))
    realized, batch, rows = _realized(shard_dir, attention)
    assert rows == len(reference)
    if realized is None:
        assert _flex_output_error(batch, reference) < 1e-5
        return
    filled = np.array([dataset.shards.row(i)["cu_seqlens"][-1] for i in range(rows)])
    queries = np.arange(SEQ)[None, :] < filled[:, None]  # padding's outputs are never in the loss
    assert (~queries).any() and np.array_equal(realized[queries], reference[queries])
    if attention == "dense":
        assert np.array_equal(realized, reference)  # padding attends only to itself as well


def test_an_approximation_is_chosen_by_name_and_attends_more(tmp_path):
    shard_dir = write_shard_dir(tmp_path, groups=1, lengths=MIXED * 2, policy="block_sparse")
    dataset = PackedDataset(shard_dir, attention="dense")
    stored, documents = _reference(dataset, "block_sparse"), _reference(dataset, "document", stored=False)
    varlen, batch, rows = _realized(shard_dir, "varlen", layout="documents_only")
    filled = np.array([dataset.shards.row(i)["cu_seqlens"][-1] for i in range(rows)])
    queries = np.arange(SEQ)[None, :] < filled[:, None]
    assert np.array_equal(varlen[queries], documents[queries])
    assert documents[queries].sum() > stored[queries].sum()  # the approximation attends more pairs
    assert (documents | ~stored).all()  # and never fewer
    dense = next(iter(PackedLoader(shard_dir, 64, shuffle=False, attention="dense", layout="documents_only")))
    assert np.array_equal(dense["attn_mask"][:, 0].numpy()[queries], documents[queries])
    with pytest.raises(MaskMismatchError, match="layout='documents_only'"):
        PackedLoader(shard_dir, 4, attention="none", layout="documents_only")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_block_mask_built_on_gpu_equals_cpu(shard_dir):
    cpu = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="flex", device="cpu")))["block_mask"]
    gpu = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="flex", device="cuda")))["block_mask"]
    assert torch.equal(cpu.to_dense(), gpu.to_dense().cpu())
    pinned = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="dense", pin_memory=True)))
    assert pinned["input_ids"].is_pinned() and pinned["labels"].is_pinned()


def test_pin_memory_without_an_accelerator_gives_the_same_batches(shard_dir):
    import warnings

    plain = list(PackedLoader(shard_dir, 4, shuffle=False, attention="dense"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that there is nothing to pin to
        pinned = list(PackedLoader(shard_dir, 4, shuffle=False, attention="dense", pin_memory=True))
    assert len(plain) == len(pinned) > 1
    for a, b in zip(plain, pinned):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))


def test_bad_checksum_and_truncated_shard_are_named(tmp_path):
    shard_dir = write_shard_dir(tmp_path, groups=2)
    assert verify_shards(shard_dir) == []
    path = Path(shard_dir) / "shard-00001.arrow"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    problems = verify_shards(shard_dir)
    assert len(problems) == 1 and problems[0].startswith("shard-00001.arrow") and "sha256" in problems[0]
    path.write_bytes(bytes(data[: len(data) // 2]))
    dataset = PackedDataset(shard_dir)
    assert dataset[0]["input_ids"].shape == (SEQ,)  # the intact shard still reads
    with pytest.raises(ShardError, match="shard-00001.arrow"):
        dataset[len(dataset) - 1]


def _png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_loader_gives_each_span_its_image_bytes_and_pixels(tmp_path, small_tokenizer):
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.schema import DOCUMENT_SCHEMA
    from tokenization.shards.image_store import image_rows, write_image_part
    from tokenization.tokenizer.special_tokens import IMAGE_END_ID, IMAGE_ID, IMAGE_START_ID
    from tokenization.tokenizer.tokenize import TokenizeStage

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in [(12, 20), (30, 9), (7, 7)]]
    arrays.append(rng.integers(0, 256, size=(5, 11), dtype=np.uint8))  # greyscale: decoded to RGB
    images = [
        {"sha256": hashlib.sha256(b := _png(a)).hexdigest(), "width": a.shape[1], "height": a.shape[0], "bytes": b}
        for a in arrays
    ]
    docs = pa.Table.from_pylist(
        [
            {
                "id": f"m{i}",
                "source": "multimodal",
                "text": f"<|image|>\ncaption {i}<|image|> more",
                "meta": "{}",
                "images": [images[i % 4], images[(i + 1) % 4]],
            }
            for i in range(8)
        ]
        + [
            {"id": f"w{i}", "source": "web", "text": "some words of text " * (i + 1), "meta": "{}", "images": []}
            for i in range(6)
        ],
        schema=DOCUMENT_SCHEMA,
    )
    stage = TokenizeStage(small_tokenizer, seed=3, num_pack_groups=1, config={"image_tokens": 5})
    cfg = PackConfig(seq_len=SEQ, mask={"block_size": BLOCK})
    table, info = build_rows(stage(docs), cfg, seed=3, group_key="0")
    again, _ = build_rows(
        TokenizeStage(small_tokenizer, seed=3, num_pack_groups=1, config={"image_tokens": 5})(docs),
        cfg,
        seed=3,
        group_key="0",
    )
    assert table.equals(again)  # deterministic
    entry = write_shard(table, str(tmp_path / "shard-00000.arrow"), batch_rows=4)
    entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
    rows = image_rows(docs)
    store = [
        e
        for p in sorted(set(rows["prefix"].to_pylist()))
        for e in write_image_part(rows.filter(pc.equal(rows["prefix"], p)), str(tmp_path / "images")).to_pylist()
    ]
    write_manifest(str(tmp_path), [entry], {"seq_len": SEQ, "mask": cfg.mask.model_dump(), "images": store})
    assert verify_shards(str(tmp_path)) == []

    by_sha = {img["sha256"]: (img["bytes"], a) for img, a in zip(images, arrays)}
    as_bytes = next(
        iter(PackedLoader(str(tmp_path), 64, shuffle=False, images=True, attention="none", layout="causal"))
    )
    as_pixels = next(
        iter(PackedLoader(str(tmp_path), 64, shuffle=False, images="tensors", attention="none", layout="causal"))
    )
    assert sum(len(s) for s in as_bytes["images"]) == 16
    for r, spans in enumerate(as_bytes["images"]):
        ids, labels = as_bytes["input_ids"][r].tolist(), as_bytes["labels"][r]
        for span, decoded in zip(spans, as_pixels["images"][r]):
            a, n = span["start"], span["length"]
            assert n == 7 and ids[a : a + n] == [IMAGE_START_ID] + [IMAGE_ID] * 5 + [IMAGE_END_ID]
            assert not as_bytes["loss_mask"][r, a : a + n].any()
            assert (labels[max(a - 1, 0) : a + n - 1] == -100).all()  # no image token is a target,
            assert labels[a + n - 1] == ids[a + n]  # the text after the image is
            data, pixels = by_sha[span["sha256"]]
            assert span["bytes"] == data and "bytes" not in decoded
            expected = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
            assert decoded["pixels"].dtype == torch.uint8 and np.array_equal(
                decoded["pixels"].numpy(), expected.transpose(2, 0, 1)
            )
    with pytest.raises(ValueError, match="images must be"):
        PackedDataset(str(tmp_path), images="pixels")


def _edit_manifest(shard_dir: str, edit) -> None:
    import json

    path = Path(shard_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_one_flipped_byte_is_refused_when_the_shard_opens(tmp_path):
    shard_dir = write_shard_dir(tmp_path)
    path = Path(shard_dir) / "shard-00000.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the token ids: the same size, one id off by one
    path.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="shard-00000.arrow .*xxh3-64 differs"):
        PackedDataset(shard_dir, attention="dense")[0]
    assert PackedDataset(shard_dir, attention="dense", verify=False)[0]["input_ids"].shape == (SEQ,)  # opted out
    _edit_manifest(shard_dir, lambda m: [s.pop("xxh3_64") for s in m["shards"]])  # an older manifest: sha256
    with pytest.raises(ShardError, match="sha256 differs"):
        PackedDataset(shard_dir, attention="dense")[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(seq_len=2 * SEQ), f"rows of {SEQ} tokens, the manifest says seq_len {2 * SEQ}"),
        (lambda m: m["shards"][0].update(rows=m["shards"][0]["rows"] + 5), "20 rows, the manifest says 25"),
        (lambda m: m["shards"][0].update(rows=m["shards"][0]["rows"] - 5), "20 rows, the manifest says 15"),
        (lambda m: m.update(tokenizer={"vocab_size": 50}), "token id \\d+ >= vocab_size 50"),
    ],
)
def test_a_manifest_that_disagrees_with_its_shard_is_refused_at_open(tmp_path, edit, message):
    shard_dir = write_shard_dir(tmp_path)
    _edit_manifest(shard_dir, edit)
    with pytest.raises(ShardError, match=message):
        next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="dense", layout="documents_only")))


def test_the_trainer_states_its_seq_len_and_schema(tmp_path):
    shard_dir = write_shard_dir(tmp_path)
    assert PackedLoader(shard_dir, 4, seq_len=SEQ).dataset.shards.seq_len == SEQ
    with pytest.raises(ValueError, match=f"expects seq_len 4096; the shards in .* hold {SEQ}"):
        PackedLoader(shard_dir, 4, seq_len=4096)
    _edit_manifest(shard_dir, lambda m: m.update(schema_version=1))
    with pytest.raises(ShardError, match="shard schema v1; this loader reads v2"):
        PackedLoader(shard_dir, 4)


def _train(loader, epochs: int, seen: list, stop: tuple[int, int] | None = None) -> dict | None:
    """The documented loop; returns the loader's state when it stops at (epoch, batch)."""
    for epoch in range(loader.epoch, epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            seen.append((epoch, batch["index"].tolist()))
            if stop == (epoch, loader.batches_done):
                return loader.state_dict()
    return None


@pytest.mark.parametrize("stop", [(1, 3), (0, 14)])  # mid-epoch 1; at the last of the 14 batches of epoch 0
def test_the_documented_loop_resumes_without_replaying(shard_dir, stop):
    make = partial(PackedLoader, shard_dir, 3, seed=5, attention="dense")
    whole: list = []
    _train(make(), 3, whole)
    first: list = []
    state = _train(make(), 3, first, stop)
    resumed = make()
    resumed.load_state_dict(state)
    rest: list = []
    _train(resumed, 3, rest)
    assert first + rest == whole and len(whole) == 3 * len(make()) == 3 * 14
    again = make()
    again.load_state_dict(state)
    if stop[0] > 0:  # the loop that restarts at epoch 0 would replay: refused, with the fix named
        with pytest.raises(ValueError, match=r"at epoch 1 \(batch 3\).*range\(loader.epoch, epochs\)"):
            again.set_epoch(0)


def test_a_finished_pass_moves_to_the_next_epoch(shard_dir):
    loader = PackedLoader(shard_dir, 4, seed=1, attention="dense")
    first = [b["index"].tolist() for b in loader]
    second = [b["index"].tolist() for b in loader]  # no set_epoch: the next epoch, a new order
    assert loader.epoch == 2 and first != second and sorted(sum(first, [])) == sorted(sum(second, []))


@pytest.mark.parametrize("algo", ["global", "shards"])
def test_pad_fills_every_rank_even_from_fewer_rows_than_ranks(algo):
    for rows, world in [(1, 8), (3, 8), (5, 4), (0, 3)]:
        shard_rows = [rows] if algo == "shards" else None
        per_rank = [
            list(EpochSampler(rows, r, world, remainder="pad", algo=algo, shard_rows=shard_rows)) for r in range(world)
        ]
        assert len({len(p) for p in per_rank}) == 1
        assert (len(per_rank[0]) > 0) == (rows > 0) and set(sum(per_rank, [])) == set(range(rows))


def test_positions_run_across_documents_when_attention_does(tmp_path):
    shard_dir = write_shard_dir(tmp_path, groups=1, lengths=MIXED)
    causal = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="none", layout="causal")))
    assert torch.equal(causal["position_ids"], torch.arange(SEQ).repeat(len(causal["index"]), 1))
    documents = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="dense")))
    assert (documents["position_ids"][:, 1:] == 0).any()  # each document starts again at 0


def test_a_state_saved_before_shard_aware_orders_resumes_a_global_loader(shard_dir):
    old = PackedLoader(shard_dir, 3, shuffle_algo="global", attention="dense").state_dict()
    old.pop("shuffle_algo"), old.pop("shuffle_block")  # what an earlier loader saved
    PackedLoader(shard_dir, 3, shuffle_algo="global", attention="dense").load_state_dict(old)
    with pytest.raises(ValueError, match="shuffle_algo was 'global', this loader has 'shards'"):
        PackedLoader(shard_dir, 3, attention="dense").load_state_dict(old)


def test_a_planned_epoch_ends_on_a_whole_step(shard_dir):
    loader = PackedLoader(shard_dir, tokens_per_step=6 * SEQ, max_micro_batch=3, attention="dense")
    assert (loader.batch_size, loader.plan.accumulation) == (3, 2)
    batches = [len(b["index"]) for b in loader]
    assert batches == [3] * 12 and len(loader) == 12  # 40 rows: 6 whole steps, the last 4 rows wait
