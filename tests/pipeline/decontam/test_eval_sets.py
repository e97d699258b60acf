import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.decontam.config import EvalSetConfig
from pipeline.decontam.eval_sets import load_items
from tests.pipeline.decontam.conftest import HUMANEVAL

RECORDS = [
    {"qid": "a", "question": "What is two plus two?", "answers": ["4", "four"]},
    {"qid": "b", "question": "Name a prime.", "answers": ["2"]},
]
SET = EvalSetConfig(task="qa", path="x", id_field="qid", query_fields=["question"], label_fields=["answers"])


def test_humaneval_as_shipped():
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    items = load_items(
        EvalSetConfig(
            task="he",
            path="x",
            id_field="task_id",
            query_fields=["prompt"],
            label_fields=["canonical_solution", "test"],
        ),
        HUMANEVAL,
    )
    assert len(items) == 164 and items[0].item_id == "HumanEval/0"
    assert items[0].queries == (first["prompt"],) and items[0].labels == (first["canonical_solution"], first["test"])


def test_jsonl_parquet_and_a_datasets_directory_give_the_same_items(tmp_path):
    from datasets import Dataset

    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "s.parquet")
    Dataset.from_list(RECORDS).save_to_disk(str(tmp_path / "ds"))
    got = [load_items(SET, str(tmp_path / name)) for name in ("s.jsonl", "s.parquet", "ds")]
    assert got[0] == got[1] == got[2]
    assert got[0][0].item_id == "a" and got[0][0].labels == ("4", "four")  # a list field: one label each


def test_a_missing_field_names_the_set_item_and_field(tmp_path):
    (tmp_path / "s.jsonl").write_text(json.dumps({"qid": "a", "question": "q"}) + "\n")
    with pytest.raises(ValueError, match=r"qa item 0 .* has no field 'answers'"):
        load_items(SET, str(tmp_path / "s.jsonl"))
