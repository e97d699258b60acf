import numpy as np
import pytest

from pipeline.quality import scorer as scorer_module
from pipeline.quality.config import QualityTrainConfig
from pipeline.quality.model_text import model_line
from pipeline.quality.scorer import FastTextScorer, file_sha256, load_scorer
from pipeline.quality.train import document_examples, train_classifier


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, book_texts, code_texts):
    out = tmp_path_factory.mktemp("model")
    ex = lambda texts, p: [e for i, t in enumerate(texts) for e in document_examples(3, p, str(i), t, 2000)]  # noqa: E731
    cfg = QualityTrainConfig(positives=["b"], negatives=["c"], bucket=20_000)
    train_classifier(ex(book_texts, True)[:300], ex(code_texts, False)[:300], cfg, ("hq", "cc"), False, 3, str(out))
    return str(out / "model.bin")


def test_scores_are_fasttexts_own_probabilities_of_the_label(model_path, book_texts, code_texts):
    from fasttext.FastText import _FastText

    texts = [t[:5000] for t in book_texts[:5]] + code_texts[:20] + ["", "  \n ", "one line __label__hq inside"]
    scorer = FastTextScorer(model_path, "hq")
    assert not scorer.folded and scorer.model.get_dimension() == 100  # fastText's own arithmetic by default
    ours = scorer(texts)
    folded = FastTextScorer(model_path, "hq", fold=True)
    assert folded.folded and folded.model.get_dimension() == 2  # the output layer folded into 2-float rows
    assert np.abs(folded(texts) - ours).max() <= 2e-5
    reference = _FastText(model_path=model_path)
    for text, score in zip(texts, ours):
        labels, probs = reference.predict(model_line(text), k=-1)
        assert abs(dict(zip(labels, probs))["__label__hq"] - score) <= 5e-7
    assert ours.dtype == np.float64 and ours.tolist() == np.round(ours, 6).tolist()
    cc = FastTextScorer(model_path, "cc")(texts)
    assert np.allclose(ours + cc, 1.0, atol=3e-5)  # two labels: fastText smooths each by 1e-5


def test_the_model_is_loaded_once_per_process_and_again_for_a_new_file(model_path, tmp_path):
    before = scorer_module.LOADS
    sha = file_sha256(model_path)
    first = load_scorer(model_path, sha, "hq", False)
    for _ in range(5):
        assert load_scorer(model_path, sha, "hq", False) is first
    assert before + 1 == scorer_module.LOADS
    load_scorer(model_path, "another-content", "hq", False)  # same path, new content: loaded again
    assert before + 2 == scorer_module.LOADS


def test_a_label_the_model_does_not_have_is_an_error_naming_the_setting(model_path):
    with pytest.raises(ValueError, match=r"quality.label: 'hq_typo' is not a label .* \['hq', 'cc'\]|\['cc', 'hq'\]"):
        FastTextScorer(model_path, "hq_typo")
