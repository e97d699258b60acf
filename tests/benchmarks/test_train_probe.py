"""The training probe on small shards of real text (no Ray): the loss falls, a mid-run restore
reproduces the uninterrupted curve exactly, held-out rows stay out of training, cropping keeps the
mask exact, and the command ends with one JSON line of figures."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow as pa
import pytest

from tests.conftest import stdlib_sources
from tokenization.shards.shards import PackConfig, build_rows, write_manifest, write_shard
from tokenization.tokenizer.tokenize import TOKENS_SCHEMA

torch = pytest.importorskip("torch")
from benchmarks import train_probe as tp  # noqa: E402

SEQ, BLOCK, VOCAB = 128, 16, 1000
TINY = {"d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 64, "batch_size": 4, "lr": 1e-2, "warmup": 2}
TINY_ARGS = ["--seq-len", "64", "--batch", "4", "--d-model", "32", "--layers", "1", "--heads", "2", "--lr", "1e-2"]


def write_text_shards(out, tokenizer: str, texts: list[str], policy: str = "block_sparse") -> str:
    """Two shards of packed standard-library sources (each cut to 300 tokens), as a run writes them."""
    from tokenizers import Tokenizer

    encoded = Tokenizer.from_file(tokenizer).encode_batch(texts)
    cfg = PackConfig(seq_len=SEQ, mask={"policy": policy, "block_size": BLOCK, "window": 1, "global_blocks": 1})
    entries = []
    for g in range(2):
        docs = [
            {"id": f"d{i}", "source": "code", "token_ids": e.ids[:300], "image_sha256": [], "pack_group": g}
            | {"pack_key": f"{i:08x}"}
            for i, e in enumerate(encoded)
            if i % 2 == g
        ]
        table, info = build_rows(pa.Table.from_pylist(docs, schema=TOKENS_SCHEMA), cfg, seed=0, group_key=str(g))
        entry = write_shard(table, str(out / f"shard-{g:05d}.arrow"), batch_rows=8)
        entry.update(rows=info["rows"], tokens=info["tokens"], source_tokens=info["source_tokens"])
        entries.append(entry)
    header = {"seq_len": SEQ, "mask": cfg.mask.model_dump(), "tokenizer": {"vocab_size": VOCAB}}
    write_manifest(str(out), entries, header)
    return str(out)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Matrices this small gain nothing from a second thread, and on 2 shared cores lose ~20x to waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, small_tokenizer) -> str:  # noqa: F811
    """A run's output directory: OUT/shards, block-sparse masks."""
    run = tmp_path_factory.mktemp("run")
    (run / "shards").mkdir()
    write_text_shards(run / "shards", small_tokenizer, stdlib_sources(limit=24))
    return str(run)


@pytest.fixture(scope="module")
def shards(run_dir) -> str:
    return tp.shard_dir_of(run_dir)


def _cfg(shards: str) -> tp.ProbeConfig:
    return tp.ProbeConfig(vocab_size=tp.vocab_size(shards), **TINY)


def _batches_per_epoch(shards: str) -> int:
    return len(tp.PackedLoader(shards, TINY["batch_size"], attention="dense"))


def test_loss_falls_on_the_shards(shards):
    result = tp.train(shards, _cfg(shards), steps=40)
    first, last = tp.smoothed(result.losses)
    assert len(result.losses) == result.steps == 40 and all(map(torch.isfinite, torch.tensor(result.losses)))
    # below the entropy of the very targets it saw: it predicts from context, not from frequencies alone
    assert last < tp.unigram_loss(result.targets) < first
    assert 0 < result.counted_tokens < result.tokens <= 40 * TINY["batch_size"] * TINY["seq_len"]


@pytest.mark.parametrize("where", ["mid-epoch", "epoch-end"])
def test_restore_reproduces_the_uninterrupted_curve(shards, where):
    cfg, per_epoch = _cfg(shards), _batches_per_epoch(shards)
    split = per_epoch // 2 + 1 if where == "mid-epoch" else per_epoch
    reference = tp.train(shards, cfg, steps=per_epoch + 4).losses  # into the second epoch
    check = tp.resume_check(shards, cfg, reference, split=split)
    assert check["equal"] and check["max_abs_diff"] == 0.0 and check["losses"] == reference
    assert check["split_at"] == split and check["steps"] == len(reference)


def test_restore_detects_a_wrong_resume(shards, monkeypatch):
    """The check can fail: a loader restored to the start of the epoch replays rows, and the curve differs."""
    cfg = _cfg(shards)
    reference = tp.train(shards, cfg, steps=8).losses
    original = tp.PackedLoader.load_state_dict
    monkeypatch.setattr(tp.PackedLoader, "load_state_dict", lambda self, s: original(self, dict(s, batches_done=0)))
    check = tp.resume_check(shards, cfg, reference, split=4)
    assert not check["equal"] and check["max_abs_diff"] > 0 and check["losses"][:4] == reference[:4]


def test_held_out_rows_are_not_trained_on(shards, monkeypatch):
    cfg, skip = _cfg(shards), tp.holdout_rows(shards, 5)
    handed, trained = set(), set()
    original = tp.prepare

    def spy(batch, *args):
        out = original(batch, *args)
        handed.update(batch["index"].tolist())
        trained.update(out["index"].tolist())
        return out

    monkeypatch.setattr(tp, "prepare", spy)
    result = tp.train(shards, cfg, steps=_batches_per_epoch(shards), skip=skip)
    assert skip and handed == trained | skip and trained.isdisjoint(skip)  # a whole epoch: every row handed over
    val = tp.evaluate(result.model, cfg, shards, "dense", "cpu", every=5, batches=100)
    assert 0 < val["val_counted_tokens"] <= len(skip) * cfg.seq_len
    assert val["val_loss"] < tp.smoothed(result.losses)[0]


def test_vocab_size_without_a_tokenizer_entry(shards, tmp_path):
    """A manifest that names no tokenizer: the largest stored token id, plus one, sizes the model."""
    for f in os.listdir(shards):
        shutil.copy(os.path.join(shards, f), tmp_path / f)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    del manifest["tokenizer"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    loader = tp.PackedLoader(shards, 8, attention="dense", shuffle=False)
    top = max(int(batch["input_ids"].max()) for batch in loader)
    assert tp.vocab_size(str(tmp_path)) == top + 1 <= tp.vocab_size(shards)


def test_crop_keeps_the_mask_exact(shards):
    dense = next(iter(tp.PackedLoader(shards, 4, attention="dense", shuffle=False)))
    flex = next(iter(tp.PackedLoader(shards, 4, attention="flex", shuffle=False)))
    skip, keep = frozenset(dense["index"][1:2].tolist()), [0, 2, 3]
    cropped = tp.prepare(dense, "dense", 48, BLOCK, skip)
    assert torch.equal(cropped["attn_mask"], dense["attn_mask"][keep][:, :, :48, :48])
    assert torch.equal(cropped["labels"], dense["labels"][keep, :48])
    fcrop = tp.prepare(flex, "flex", 48, BLOCK, skip)
    assert torch.equal(fcrop["block_mask"].to_dense(), flex["block_mask"].to_dense()[keep][:, :, :3, :3])
    cu = torch.tensor([0, 50, 128, 130, 200, 256, 300, 384], dtype=torch.int32)  # 3 flattened rows of 128
    out, top = tp.crop_cu_seqlens(cu, 128, 64, [0, 2])
    assert out.tolist() == [0, 50, 64, 108, 128] and top == 50


def test_flex_and_dense_give_the_same_loss(shards):
    losses = tp.agreement(_cfg(shards), shards, "cpu")
    assert set(losses) == {"dense", "flex"} and losses["dense"] == pytest.approx(losses["flex"], rel=1e-5)


def test_command_ends_with_one_json_line(run_dir, small_tokenizer, tmp_path, capsys):  # noqa: F811
    other = tmp_path / "other"
    (other / "shards").mkdir(parents=True)
    write_text_shards(other / "shards", small_tokenizer, stdlib_sources(limit=48)[24:], policy="document")
    png = tmp_path / "curve.png"
    args = [run_dir, "--steps", "24", "--resume-steps", "8", "--png", str(png), "--compare", str(other)]
    args += ["--out", str(tmp_path / "curve.json")]
    code = tp.main(args + TINY_ARGS)
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and last["ok"] and last["dense_falls"] and last["resume_equal"]
    assert last["dense_loss_last"] < last["dense_loss_first"] and last["dense_counted_tokens_per_s"] > 0
    assert last["skipped"] == ["flex", "varlen"] and set(last["val_loss"]) == {run_dir, str(other)}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures = json.loads((tmp_path / "curve.json").read_text())
    budget = figures["materializers"]["dense"]["counted_tokens"]
    assert figures["val"][str(other)]["counted_tokens"] >= budget  # the same counted-token budget, reached
