import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.quality.apply import apply_selection, score_file
from pipeline.quality.config import QualityConfig
from pipeline.schema import DOCUMENT_SCHEMA

CFG = QualityConfig(train={"positives": ["book"], "negatives": ["web"]}, languages=["en", "zh"])


def _curated(root, texts, languages):
    metas = [json.dumps({"language": lang, "language_score": 0.9}) if lang else None for lang in languages]
    t = pa.table(
        {
            "id": [f"web-{i:03d}" for i in range(len(texts))],
            "source": ["web"] * len(texts),
            "text": pa.array(texts, pa.large_string()),
            "meta": pa.array(metas, pa.string()),
            "images": pa.array([[] for _ in texts], DOCUMENT_SCHEMA.field("images").type),
        },
        DOCUMENT_SCHEMA,
    )
    path = root / "curated" / "web" / "part-00000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(t, path)
    return path


def _length_score(texts):  # a stand-in model: longer is better
    return np.round(np.array([min(len(t), 1000) / 1000 for t in texts]), 6)


def test_documents_in_scope_are_scored_kept_or_moved_with_the_score_and_counted(tmp_path, stdlib_texts):
    texts = [t[: 100 * (i + 1)] for i, t in enumerate(stdlib_texts[:6])] + ["x" * 50, "y" * 900]
    languages = ["en", "en", "zh", "en", "zh", "en", "fr", None]  # fr and unknown: out of scope
    path = _curated(tmp_path, texts, languages)
    scores = tmp_path / "scores.parquet"
    dist = score_file(str(path), str(scores), _length_score, CFG)
    assert sum(dist["docs"].to_pylist()) == 6 and set(dist["group"].to_pylist()) == {"web/en", "web/zh"}

    def decide(ids, groups, s):
        return [None if x >= 0.35 else f"score {x:.6f} < threshold 0.350000" for x in s]

    result = apply_selection(str(tmp_path), "curated/web/part-00000.parquet", str(scores), decide, {})
    kept = pq.read_table(path)
    rejects = pq.read_table(tmp_path / "rejects" / "web" / "quality-part-00000.parquet")
    assert kept.num_rows + rejects.num_rows == len(texts)
    assert rejects["id"].to_pylist() == ["web-000", "web-001", "web-002"] == sorted(result["dropped"])
    assert set(rejects["stage"].to_pylist()) == {"quality"} and set(rejects["reason"].to_pylist()) == {"low_score"}
    assert rejects["detail"][0].as_py() == "score 0.100000 < threshold 0.350000"
    metas = {i: json.loads(m) if m else {} for i, m in zip(kept["id"].to_pylist(), kept["meta"].to_pylist())}
    assert metas["web-003"]["quality_score"] == 0.4 and "quality_score" not in metas["web-006"]  # fr: not scored
    assert "quality_score" not in metas["web-007"]
    assert json.loads(rejects["meta"][0].as_py())["quality_score"] == 0.1
    # stats rows: kept down and dropped up by the same documents and characters, per language
    by = {(c["status"], c["language"]): (c["docs"], c["chars"]) for c in result["counts"]}
    assert by[("dropped", "en")] == (2, 300) and by[("kept", "en")] == (-2, -300)
    assert by[("dropped", "zh")] == (1, 300)
    assert result["histogram"]["web/en"]["dropped"][2] == 1 and sum(result["histogram"]["web/en"]["kept"]) == 2
    assert [round(s, 6) for s, _ in result["examples"]["kept"]["web/en"]] == [0.4, 0.6]


def test_a_file_whose_documents_all_leave_is_removed(tmp_path):
    path = _curated(tmp_path, ["short one", "short two"], ["en", "en"])
    scores = tmp_path / "scores.parquet"
    score_file(str(path), str(scores), _length_score, CFG)
    result = apply_selection(
        str(tmp_path), "curated/web/part-00000.parquet", str(scores), lambda i, g, s: ["low"] * 2, {}
    )
    assert not path.exists() and len(result["dropped"]) == 2


def test_histograms_span_each_groups_own_scores():
    import numpy as np

    from pipeline.quality.apply import BINS, bin_of
    from pipeline.quality.select import distribution, score_ranges

    parts = [distribution(["a", "a", "b"], np.array([0.01, 0.03, 0.5])), distribution(["a"], np.array([0.02]))]
    assert score_ranges(parts) == {"a": (0.01, 0.03), "b": (0.5, 0.5)}
    assert [bin_of(x, 0.01, 0.03) for x in (0.01, 0.02, 0.03)] == [0, BINS // 2, BINS - 1]
    assert bin_of(0.5, 0.5, 0.5) == 0
