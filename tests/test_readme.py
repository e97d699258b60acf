"""The snippets of the README and docs/ run as written."""

import contextlib
import re
from pathlib import Path

import pyarrow as pa

from tests.conftest import REPO
from tests.tokenization.test_loader import write_shard_dir


def _snippet(marker: str) -> str:
    text = "".join(p.read_text() for p in [Path(REPO) / "README.md", *sorted((Path(REPO) / "docs").glob("*.md"))])
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if b.startswith(f"# {marker}\n"))


def test_interop_snippet_reads_shards_with_pyarrow_and_datasets(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    shard_dir = write_shard_dir(tmp_path / "shards")
    namespace: dict = {}
    exec(_snippet("interop").replace('"out/sample/shards"', repr(shard_dir)), namespace)
    rows = sum(pa.ipc.open_file(f).read_all().num_rows for f in namespace["files"])
    assert namespace["ds"].num_rows == rows and len(namespace["ds"][0]["input_ids"]) == 128
    assert namespace["table"].schema.field("input_ids").type == pa.list_(pa.uint32(), 128)


class _Crash(Exception):
    pass


def _run_training_loop(shard_dir: str, checkpoint: dict | None, crash_at: tuple[int, int] | None = None) -> dict:
    """The README's loop as written (only the figures scaled to the test's 128-token rows), with
    stand-ins for the model; returns what it saw and the last checkpoint it saved."""
    code = _snippet("training loop").replace('"out/sample/shards"', repr(shard_dir))
    code = code.replace("tokens_per_step=4_194_304", "tokens_per_step=4 * 128").replace("seq_len=4096", "seq_len=128")
    code = code.replace("max_micro_batch=4", "max_micro_batch=2")
    seen: list = []
    saved: dict = {}

    def train_step(model, batch):
        epoch = namespace["epoch"]
        if crash_at == (epoch, namespace["loader"].batches_done):
            raise _Crash
        seen.append((epoch, batch["index"].tolist()))
        return 1.0

    def optimizer_step(model):
        saved["at"] = len(seen)

    namespace = {"rank": 0, "world_size": 1, "epochs": 3, "device": "cpu", "model": None}
    namespace |= {"checkpoint": checkpoint, "train_step": train_step, "optimizer_step": optimizer_step}
    with contextlib.suppress(_Crash):
        exec(code, namespace)
    return {"seen": seen, "checkpoint": namespace["checkpoint"], "saved_at": saved.get("at", 0)}


def test_the_training_loop_resumes_mid_epoch_1_without_replaying(tmp_path):
    shard_dir = write_shard_dir(tmp_path / "shards")  # 40 rows: 20 batches of 2 per epoch, 2 per step
    whole = _run_training_loop(shard_dir, None)["seen"]
    crashed = _run_training_loop(shard_dir, None, crash_at=(1, 8))  # mid-epoch 1, a batch past its last step
    assert crashed["checkpoint"]["loader"]["epoch"] == 1 and crashed["saved_at"] == 20 + 6 < len(crashed["seen"])
    resumed = _run_training_loop(shard_dir, crashed["checkpoint"])["seen"]
    assert crashed["seen"][: crashed["saved_at"]] + resumed == whole and len(whole) == 3 * 20


def _attend_inputs(shard_dir: str, attention: str, device: str, flat: bool):
    import torch

    from tokenization.loader import PackedLoader

    batch = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention=attention, device=device)))
    rows, seq = batch["input_ids"].shape
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(rows, 2, seq, 16, generator=gen).to(device) for _ in range(3))
    if flat:  # [B * L, heads, dim]
        q, k, v = (t.transpose(1, 2).reshape(rows * seq, 2, 16) for t in (q, k, v))
    return batch, q, k, v


def test_flex_snippet_attends_as_sdpa_with_the_dense_mask(tmp_path):
    import warnings

    import torch

    from tokenization.loader import PackedLoader

    shard_dir = write_shard_dir(tmp_path / "shards", groups=1, lengths=[30, 50, 20, 70, 10, 90])
    batch, q, k, v = _attend_inputs(shard_dir, "flex", "cpu", flat=False)
    namespace: dict = {}
    exec(_snippet("flex attention"), namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention warns that it is not compiled
        out = namespace["attend"](q, k, v, batch)
    dense = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="dense")))["attn_mask"]
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=dense)
    assert float((out - expected).abs().max()) < 1e-5


def test_flash_attention_snippet_on_a_gpu(tmp_path):
    import pytest
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no GPU on this machine")
    pytest.importorskip("flash_attn")
    from tokenization.loader import PackedLoader

    shard_dir = write_shard_dir(tmp_path / "shards", groups=1, lengths=[30, 50, 20, 70, 10, 90], policy="document")
    batch, q, k, v = _attend_inputs(shard_dir, "varlen", "cuda", flat=True)
    namespace: dict = {}
    exec(_snippet("flash attention varlen"), namespace)
    out = namespace["attend"](q.half(), k.half(), v.half(), batch)
    dense = next(iter(PackedLoader(shard_dir, 4, shuffle=False, attention="dense", device="cuda")))["attn_mask"]
    rows, seq = batch["input_ids"].shape
    unflat = [t.reshape(rows, seq, 2, 16).transpose(1, 2).half() for t in (q, k, v)]
    expected = torch.nn.functional.scaled_dot_product_attention(*unflat, attn_mask=dense)
    real = batch["loss_mask"].reshape(-1)  # padding's outputs differ by design and are never used
    assert (
        float(
            (out.reshape(rows, seq, 2, 16).transpose(1, 2) - expected)
            .abs()
            .transpose(1, 2)
            .reshape(-1, 2, 16)[real]
            .max()
        )
        < 2e-3
    )
