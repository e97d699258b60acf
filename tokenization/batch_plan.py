"""From a global batch in tokens to what each rank loads: rows per micro-batch and accumulation steps.

The usual figure is 4M tokens (4,194,304 = 1024 rows of 4096); DeepSeek's papers schedule larger
ones as training goes (DeepSeek-V2: 2304 rising to 9216 sequences of 4K tokens). A step is
``world_size`` ranks x ``accumulation`` micro-batches x ``micro_batch`` rows x ``seq_len`` tokens;
the micro-batch is the largest that divides a rank's rows and fits the memory bound the trainer
gives (the rows one device holds with its model, activations and optimizer state: measure it
once; FSDP and DDP alike give each rank its own micro-batch).
"""

from __future__ import annotations

from dataclasses import dataclass

DEEPSEEK_TOKENS_PER_STEP = 4 * 1024 * 1024


@dataclass(frozen=True)
class BatchPlan:
    tokens_per_step: int
    seq_len: int
    world_size: int
    micro_batch: int  # rows per rank per forward/backward
    accumulation: int  # micro-batches per rank per optimizer step

    @property
    def rows_per_step(self) -> int:
        return self.tokens_per_step // self.seq_len

    def describe(self) -> str:
        return (
            f"batch: {self.tokens_per_step:,} tokens per step = {self.rows_per_step} rows of {self.seq_len} = "
            f"{self.world_size} rank(s) x {self.accumulation} accumulation step(s) x {self.micro_batch} row(s)"
        )


def _nearest_multiples(value: int, unit: int) -> str:
    below = value // unit * unit
    return f"{below:,} or {below + unit:,}" if below else f"{unit:,}"


def plan_batch(tokens_per_step: int, seq_len: int, world_size: int, max_micro_batch: int) -> BatchPlan:
    """The micro-batch and accumulation steps that make exactly ``tokens_per_step`` per step; an
    error that names the nearest workable figure when the numbers do not divide."""
    if min(tokens_per_step, seq_len, world_size, max_micro_batch) <= 0:
        raise ValueError("tokens_per_step, seq_len, world_size and max_micro_batch must be positive")
    if tokens_per_step % seq_len:
        near = _nearest_multiples(tokens_per_step, seq_len)
        raise ValueError(f"tokens_per_step {tokens_per_step:,} is not a multiple of seq_len {seq_len}: try {near}")
    rows = tokens_per_step // seq_len
    if rows % world_size:
        near = _nearest_multiples(tokens_per_step, seq_len * world_size)
        raise ValueError(
            f"tokens_per_step {tokens_per_step:,} makes {rows} rows, which do not split over {world_size} ranks: "
            f"try {near} tokens"
        )
    per_rank = rows // world_size
    micro = max(d for d in range(1, min(per_rank, max_micro_batch) + 1) if per_rank % d == 0)
    return BatchPlan(tokens_per_step, seq_len, world_size, micro, per_rank // micro)
