"""HumanEval as shipped in data/eval, and a GSM8K-style set written here (GSM8K itself ships in no package)."""

from __future__ import annotations

import os

import pytest

from pipeline.decontam.config import DecontamConfig, EvalSetConfig
from pipeline.decontam.eval_sets import EvalItem, load_items
from tests.conftest import REPO

HUMANEVAL = os.path.join(REPO, "data", "eval", "HumanEval.jsonl.gz")
HUMANEVAL_SET = EvalSetConfig(
    task="humaneval", path=HUMANEVAL, id_field="task_id", query_fields=["prompt"], label_fields=["canonical_solution"]
)
MATH_ITEM = EvalItem(
    "gsm8k_style",
    "0",
    (
        "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
        "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
        "egg. How much in dollars does she make every day at the farmers' market?",
    ),
    ("Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day at the farmer's market. #### 18",),
)


@pytest.fixture(scope="session")
def humaneval_items() -> list[EvalItem]:
    return load_items(HUMANEVAL_SET, HUMANEVAL)


def config(rule: str, **kw) -> DecontamConfig:
    return DecontamConfig(sets=[HUMANEVAL_SET], rule=rule, **kw)
