"""The quality step's settings and inputs: mistakes are named before any work, and what it reads is in the
pass hash (its model's content, its reference files' state)."""

import os
import re

import pytest

from jobs.cli import main
from jobs.config import load_config
from jobs.quality import quality_inputs
from jobs.usage import EXIT_USAGE, UsageError
from tests.jobs.conftest import book_corpus_config, output_of
from tests.jobs.test_output_dir import _config

TRAIN = {"positives": ["web"], "negatives": ["web"]}


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        ({"train": TRAIN, "model": "m.bin"}, r"curate\.quality: .*exactly one of train .* or model"),
        ({}, r"curate\.quality: .*exactly one of train"),
        (
            {"train": {**TRAIN, "positivs": ["web"]}},
            r"curate\.quality\.train\.positivs: unknown key; did you mean positives\?",
        ),
        ({"train": TRAIN, "select": "top"}, r"curate\.quality\.select: "),
        ({"train": TRAIN, "fraction": 1.5}, r"curate\.quality\.fraction: "),
        ({"train": {"positives": [], "negatives": ["web"]}}, r"curate\.quality\.train\.positives: "),
    ],
)
def test_quality_settings_mistakes_name_their_key(tmp_path, capsys, quality, message):
    assert main(["config", _config(tmp_path, curate={"quality": quality})]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert re.search(message, err), err


def test_training_sets_must_be_sources_or_reference_files(tmp_path):
    cfg = load_config(_config(tmp_path, curate={"quality": {"train": {"positives": ["bok"], "negatives": ["web"]}}}))
    with pytest.raises(UsageError, match=r"curate\.quality\.train\.positives: 'bok' is neither a source \(web\) nor"):
        quality_inputs(cfg)
    (tmp_path / "ref.txt").write_text("x")
    cfg = load_config(
        _config(tmp_path, curate={"quality": {"train": {"positives": ["ref.txt"], "negatives": ["web"]}}})
    )
    with pytest.raises(UsageError, match=r"ref\.txt is not one of \.jsonl, \.jsonl\.gz, \.jsonl\.zst, \.parquet"):
        quality_inputs(cfg)


def test_the_pass_hash_sees_the_model_content_and_the_reference_files(tmp_path):
    (tmp_path / "ref.jsonl").write_text('{"text": "a reference document"}\n')
    cfg = load_config(
        _config(tmp_path, curate={"quality": {"train": {"positives": ["ref.jsonl"], "negatives": ["web"]}}})
    )
    before = quality_inputs(cfg)
    assert before[0][0] == "quality_reference" and before[0][1].endswith("ref.jsonl")
    (tmp_path / "ref.jsonl").write_text('{"text": "another reference document, longer"}\n')
    assert quality_inputs(cfg) != before
    cfg = load_config(_config(tmp_path, curate={"quality": {"model": "m.bin"}}))
    with pytest.raises(UsageError, match=r"curate\.quality\.model: no file .*m\.bin"):
        quality_inputs(cfg)
    (tmp_path / "m.bin").write_bytes(b"one model")
    first = quality_inputs(cfg)
    (tmp_path / "m.bin").write_bytes(b"another model")
    os.utime(tmp_path / "m.bin", (0, 0))
    assert quality_inputs(cfg) != first


@pytest.mark.slow
def test_a_users_model_scores_another_corpus_and_selects_by_threshold(sample_run, tmp_path):
    """``quality: {model: PATH}``: the sample run's classifier, given as a file, judges a corpus of standard
    library modules: every document scored with the score the model gives it, those under the median dropped."""
    import json as json_module

    import pyarrow.parquet as pq

    from jobs.run import run
    from pipeline.quality.scorer import FastTextScorer, file_sha256
    from tests.conftest import stdlib_sources

    out, _ = sample_run
    model = out / "quality" / "model.bin"
    texts = stdlib_sources("email/*.py") + stdlib_sources("json/*.py")
    (tmp_path / "docs.jsonl").write_text("".join(json_module.dumps({"text": t}) + "\n" for t in texts))
    middle = float(sorted(FastTextScorer(str(model), "hq")(texts))[len(texts) // 2])  # about half stay
    quality = {"model": str(model), "sources": ["book"], "select": "threshold", "threshold": middle}
    book_corpus_config(tmp_path, "docs.jsonl", {"quality": quality})
    stats = run(load_config(str(tmp_path / "c.yaml")), str(output_of(tmp_path)), until="curate")["curate"]
    q = stats["quality"]
    assert not q["trained"] and q["model_sha256"] == file_sha256(str(model)) and q["training"] == {}
    kept = pq.read_table(output_of(tmp_path) / "curated" / "book")
    rejects = pq.read_table(output_of(tmp_path) / "rejects" / "book").to_pylist()
    low = [r for r in rejects if r["stage"] == "quality"]
    assert q["scored"] == kept.num_rows + len(low) and q["dropped"] == len(low) > 0 and kept.num_rows > 0
    scorer = FastTextScorer(str(model), "hq")
    for text, meta in zip(kept["text"].to_pylist(), kept["meta"].to_pylist()):
        assert json_module.loads(meta)["quality_score"] == scorer([text])[0] >= middle
    for r in low:
        score = json_module.loads(r["meta"])["quality_score"]
        assert score == scorer([r["text"]])[0] < middle
        assert r["detail"] == f"score {score:.6f} < threshold {middle:.6f}"
    assert stats["reconciled"]


@pytest.mark.slow
def test_a_model_without_the_configured_label_is_one_config_error(sample_run, tmp_path):
    import json as json_module

    from jobs.run import run

    out, _ = sample_run
    (tmp_path / "docs.jsonl").write_text(json_module.dumps({"text": "A short document. " * 20}) + "\n")
    quality = {"model": str(out / "quality" / "model.bin"), "label": "good", "sources": ["book"]}
    book_corpus_config(tmp_path, "docs.jsonl", {"quality": quality})
    with pytest.raises(UsageError, match=r"curate\.quality\.label: 'good' is not a label of .*model\.bin"):
        run(load_config(str(tmp_path / "c.yaml")), str(output_of(tmp_path)), until="curate")
