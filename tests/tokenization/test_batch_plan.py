import logging

import pytest

from tests.tokenization.test_loader import SEQ, write_shard_dir
from tokenization.batch_plan import DEEPSEEK_TOKENS_PER_STEP, plan_batch


def test_four_million_tokens_over_64_ranks():
    plan = plan_batch(DEEPSEEK_TOKENS_PER_STEP, 4096, world_size=64, max_micro_batch=4)
    assert (plan.rows_per_step, plan.micro_batch, plan.accumulation) == (1024, 4, 4)
    assert plan.world_size * plan.accumulation * plan.micro_batch * plan.seq_len == DEEPSEEK_TOKENS_PER_STEP
    assert "4,194,304 tokens per step = 1024 rows of 4096 = 64 rank(s) x 4 accumulation step(s) x 4 row(s)" in (
        plan.describe()
    )


def test_the_micro_batch_divides_the_ranks_rows():
    plan = plan_batch(24 * 4096, 4096, world_size=2, max_micro_batch=5)  # 12 rows per rank: 4 fits, 5 does not divide
    assert (plan.micro_batch, plan.accumulation) == (4, 3)


@pytest.mark.parametrize(
    ("tokens", "world", "message"),
    [
        (4_000_000, 8, "not a multiple of seq_len 4096: try 3,997,696 or 4,001,792"),
        (3 * 4096, 2, "makes 3 rows, which do not split over 2 ranks: try 8,192 or 16,384 tokens"),
    ],
)
def test_figures_that_do_not_divide_name_the_nearest(tokens, world, message):
    with pytest.raises(ValueError, match=message):
        plan_batch(tokens, 4096, world_size=world, max_micro_batch=8)


def test_the_loader_takes_a_token_budget_and_says_what_it_made(tmp_path, caplog):
    torch = pytest.importorskip("torch")
    from tokenization.loader import PackedLoader

    shard_dir = write_shard_dir(tmp_path)
    with caplog.at_level(logging.INFO, logger="corpusmill"):
        loader = PackedLoader(shard_dir, tokens_per_step=8 * SEQ, max_micro_batch=3, world_size=2, attention="dense")
    assert (loader.batch_size, loader.plan.accumulation) == (2, 2)
    assert "1,024 tokens per step = 8 rows of 128 = 2 rank(s) x 2 accumulation step(s) x 2 row(s)" in caplog.text
    assert next(iter(loader))["input_ids"].shape == torch.Size([2, SEQ])
    with pytest.raises(ValueError, match="give max_micro_batch"):
        PackedLoader(shard_dir, 4, tokens_per_step=8 * SEQ)
