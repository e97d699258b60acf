"""Decontamination on local Ray: planted evaluation items leave (or are cut out), near misses stay, every
record is accounted for, and a missing set is a config error before any work."""

import gzip
import json
import os

import pyarrow.parquet as pq
import pytest

from jobs.config import load_config
from jobs.decontam import decontam_inputs
from jobs.usage import UsageError
from tests.conftest import REPO
from tests.jobs.conftest import book_corpus_config, output_of

HUMANEVAL = os.path.join(REPO, "data", "eval", "HumanEval.jsonl.gz")
QUESTION = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. "
    "How much in dollars does she make every day at the farmers' market?"
)


def _corpus(tmp_path, decontam: dict) -> str:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        solution = [json.loads(line) for line in f][12]["canonical_solution"]
    docs = {
        "pasted": "# helpers.py\nimport sys\n\n\ndef pick(strings):\n" + solution + "\n\nprint(pick(sys.argv))\n",
        "question": "<h1>Homework help</h1>\nCan someone solve this? " + QUESTION + "\nThanks!",
        "near_copy": "Forum.\n" + QUESTION.upper().replace(" ", "   ") + "\nReplies: none yet, but here is more text.",
        "nine_words": "\n".join(solution.split("\n")[:1]) + "\n# (only the first line of it)\nx = 1\n",
        "clean": "Ducks lay eggs every day; a farmer may sell them at the market for a few dollars each week.",
    }
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()))
    (tmp_path / "gsm.jsonl").write_text(
        json.dumps({"question": QUESTION, "answer": "Janet sells 9 eggs. #### 18"}) + "\n"
    )
    sets = [
        {
            "task": "humaneval",
            "path": HUMANEVAL,
            "id_field": "task_id",
            "query_fields": ["prompt"],
            "label_fields": ["canonical_solution"],
        },
        {"task": "gsm8k_style", "path": "gsm.jsonl", "query_fields": ["question"], "label_fields": ["answer"]},
    ]
    return book_corpus_config(tmp_path, "docs.jsonl", {"decontam": {"sets": sets, **decontam}}, ["id"])


def _texts(path) -> dict[str, str]:
    t = pq.read_table(path)
    return {json.loads(m)["id"]: x for m, x in zip(t["meta"].to_pylist(), t["text"].to_pylist())}


@pytest.mark.slow
def test_planted_items_leave_and_near_misses_stay(tmp_path, ray_local):
    from jobs.run import run

    cfg = load_config(_corpus(tmp_path, {"rule": "deepseek_coder"}))
    stats = run(cfg, str(output_of(tmp_path)), until="curate")["curate"]
    assert stats["reconciled"]
    kept = _texts(output_of(tmp_path) / "curated" / "book")
    assert sorted(kept) == ["clean", "near_copy", "nine_words"]  # as written: other case and spacing differ
    rejects = {
        json.loads(r["meta"])["id"]: r for r in pq.read_table(output_of(tmp_path) / "rejects" / "book").to_pylist()
    }
    assert rejects["pasted"]["stage"] == "decontam" and rejects["pasted"]["reason"] == "contaminated"
    assert rejects["pasted"]["detail"].startswith("task=humaneval item=HumanEval/12 ngram=")
    assert rejects["question"]["detail"].startswith("task=gsm8k_style item=0 ngram=")
    d = stats["decontam"]
    assert d["tasks"]["humaneval"]["items"] == 164 and d["tasks"]["humaneval"]["items_found"] == 1
    assert d["tasks"]["humaneval"]["found_item_ids"] == ["HumanEval/12"]
    assert d["tasks"]["gsm8k_style"]["documents"] == {"book": 1} and d["documents"] == {"book": 2}


@pytest.mark.slow
def test_datatroves_rule_finds_the_near_copy_and_redact_cuts_only_the_item(tmp_path, ray_local):
    from jobs.run import run

    cfg = load_config(_corpus(tmp_path, {"rule": "datatrove", "query_ngrams": True, "mode": "redact"}))
    stats = run(cfg, str(output_of(tmp_path)), until="curate")["curate"]
    assert stats["reconciled"]
    kept = _texts(output_of(tmp_path) / "curated" / "book")
    assert set(kept) == {"pasted", "question", "near_copy", "nine_words", "clean"}  # redacted, not dropped
    assert kept["near_copy"].startswith("Forum.") and kept["near_copy"].endswith("here is more text.")
    assert "DUCKS" not in kept["near_copy"] and "ducks" not in kept["question"].lower()
    assert kept["question"].startswith("<h1>Homework help</h1>") and kept["clean"].startswith("Ducks lay eggs")
    assert "def pick(strings):" in kept["pasted"] and "print(pick(sys.argv))" in kept["pasted"]
    events = {(e["stage"], e["type"]): e["count"] for e in stats["rewrite_events"] if e["source"] == "book"}
    assert events[("decontam", "redacted")] >= 3
    assert stats["decontam"]["mode"] == "redact" and stats["decontam"]["documents"] == {"book": 3}


def test_a_missing_evaluation_set_is_a_config_error_naming_it(tmp_path):
    cfg = load_config(_corpus(tmp_path, {}))
    os.remove(tmp_path / "gsm.jsonl")
    with pytest.raises(UsageError, match=r"curate\.decontam\.sets\.1\.path: no file or directory .*gsm\.jsonl"):
        decontam_inputs(cfg)


LOOP = "for i in range(len(l)):\n    for j in range(i + 1, len(l)):\n        for k in range(j + 1, len(l)):\n"


def _library_corpus(tmp_path, common_documents: int | None, min_coverage: float) -> str:
    """Four library files with the triple loop HumanEval/40 shares with any numeric code, and one file with
    that item's whole solution."""
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        solution = [json.loads(line) for line in f][40]["canonical_solution"]
    docs = {
        f"lib{i}": f"def pairs_{i}(l):\n    out = []\n" + LOOP + f"            out.append(l[i] * l[j] - l[k] + {i})\n"
        for i in range(4)
    }
    docs["pasted"] = "def check(l):\n" + solution + "\n\nprint(check([1, 3, -4]))\n"
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()))
    humaneval = {"task": "humaneval", "path": HUMANEVAL, "id_field": "task_id", "label_fields": ["canonical_solution"]}
    decontam = {"sets": [humaneval], "common_documents": common_documents, "min_coverage": min_coverage}
    return book_corpus_config(tmp_path, "docs.jsonl", {"decontam": decontam}, ["id"])


@pytest.mark.slow
@pytest.mark.parametrize(("common_documents", "min_coverage"), [(None, 0.0), (3, 0.0), (None, 0.7)])
def test_code_many_documents_share_is_not_contamination(tmp_path, ray_local, common_documents, min_coverage):
    """As published every library file with the loop leaves; GPT-3's rule (the loop's n-grams are in 5
    documents, more than 3) or PaLM's coverage (they are 11 of the solution's 23) keeps them."""
    from jobs.run import run

    cfg = load_config(_library_corpus(tmp_path, common_documents, min_coverage))
    stats = run(cfg, str(output_of(tmp_path)), until="curate")["curate"]
    assert stats["reconciled"]
    d = stats["decontam"]
    assert d["common_documents"] == common_documents and d["tasks"]["humaneval"]["found_item_ids"] == ["HumanEval/40"]
    if not common_documents and not min_coverage:
        assert d["documents"] == {"book": 5} and d["common_ngrams"] == 0
        return
    assert set(_texts(output_of(tmp_path) / "curated" / "book")) == {"lib0", "lib1", "lib2", "lib3"}
    assert d["documents"] == {"book": 1}
    if common_documents:
        top = d["common_examples"][0]
        assert d["common_ngrams"] == 11 and top["item"] == "HumanEval/40" and top["documents"] == 5
        assert top["ngram"].startswith("for i in range len l for j")
    else:
        assert d["common_ngrams"] == 0 and d["common_examples"] == []
