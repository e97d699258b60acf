import random

import pytest

from pipeline.quality.config import QualityTrainConfig
from pipeline.quality.scorer import FastTextScorer, file_sha256
from pipeline.quality.train import document_examples, held_out, train_classifier

CFG = QualityTrainConfig(positives=["book"], negatives=["code"], example_chars=2000, bucket=20_000)


def _examples(texts, positive, limit=2000):
    return [e for i, t in enumerate(texts) for e in document_examples(7, positive, f"doc-{i}", t, limit)]


def test_the_same_data_and_seed_give_a_byte_identical_model_whatever_the_order(tmp_path, book_texts, code_texts):
    pos, neg = _examples(book_texts, True)[:200], _examples(code_texts, False)[:200]
    first = train_classifier(pos, neg, CFG, ("hq", "cc"), False, 7, str(tmp_path / "a"))
    shuffled_pos, shuffled_neg = pos[:], neg[:]
    random.Random(1).shuffle(shuffled_pos)
    random.Random(2).shuffle(shuffled_neg)
    second = train_classifier(shuffled_pos, shuffled_neg, CFG, ("hq", "cc"), False, 7, str(tmp_path / "b"))
    assert first["model_sha256"] == second["model_sha256"] == file_sha256(str(tmp_path / "b" / "model.bin"))
    assert first == second | {"train_seconds": first["train_seconds"]}
    other_seed = train_classifier(pos, neg, CFG, ("hq", "cc"), False, 8, str(tmp_path / "c"))
    assert other_seed["model_sha256"] != first["model_sha256"]  # the seed is really used


def test_training_is_balanced_holds_out_a_tenth_and_separates_prose_from_code(tmp_path, book_texts, code_texts):
    pos, neg = _examples(book_texts, True), _examples(code_texts, False)[:300]
    result = train_classifier(pos, neg, CFG, ("hq", "cc"), False, 7, str(tmp_path))
    assert result["examples_per_class"] == 300  # the smaller class sets k
    assert result["holdout_examples"] == 60 and result["train_examples"] == 540
    assert result["holdout_roc_auc"] > 0.95 and result["holdout_accuracy"] > 0.8
    scorer = FastTextScorer(str(tmp_path / "model.bin"), "hq")
    prose, code = scorer([book_texts[0][:3000]]), scorer([code_texts[0]])
    assert prose[0] > code[0]
    assert not (tmp_path / "train.txt").exists()  # only its hash is kept


def test_too_few_examples_is_an_error_naming_the_setting(tmp_path, book_texts):
    with pytest.raises(ValueError, match="quality.train: .* at least 10"):
        train_classifier(_examples(book_texts, True), [], CFG, ("hq", "cc"), False, 7, str(tmp_path))


def test_held_out_is_evenly_spaced():
    assert held_out(20, 0.1).tolist() == [False] * 9 + [True] + [False] * 9 + [True]
    assert int(held_out(1000, 0.25).sum()) == 250


def test_models_trained_one_after_another_in_one_process_are_identical(tmp_path, book_texts, code_texts):
    """fastText leaves most of its input matrix as malloc returned it: trained in this process after large
    blocks were freed, it read them (a different model, or a diverging loss). Each training runs in a new
    process whose large allocations are fresh pages."""
    pos, neg = _examples(book_texts, True)[:200], _examples(code_texts, False)[:200]
    shas = set()
    for i in range(3):
        blocks = [bytearray(b"\x7f" * 100_000) for _ in range(600)]  # 60 MB of the heap, full of 0x7f
        sentinel = bytearray(b"\x7f" * 1000)  # above them: freed, they stay in the heap, coalesced
        del blocks
        result = train_classifier(pos, neg, CFG, ("hq", "cc"), False, 7, str(tmp_path / str(i)))
        assert result["lr_used"] == CFG.lr and sentinel  # no divergence, no retry
        shas.add(result["model_sha256"])
    assert len(shas) == 1
