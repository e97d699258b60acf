import json

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cli import main
from jobs.inspect_quality import describe_quality
from jobs.usage import EXIT_USAGE


def _write(path, ids, scores, texts):
    path.parent.mkdir(parents=True, exist_ok=True)
    metas = [json.dumps({"quality_score": s, "language": "en"}) if s is not None else None for s in scores]
    pq.write_table(pa.table({"id": ids, "source": ["web"] * len(ids), "text": texts, "meta": metas}), path)


def test_inspect_quality_lists_the_best_and_worst_scored_documents(tmp_path, capsys):
    (tmp_path / "quality").mkdir()
    _write(
        tmp_path / "curated" / "web" / "part-00000.parquet",
        ["a", "b", "c", "d"],
        [0.9, 0.7, None, 0.8],
        ["best <b>page</b>", "fine page", "not scored", "good\npage"],
    )
    _write(tmp_path / "rejects" / "web" / "quality-part-00000.parquet", ["e", "f"], [0.1, 0.2], ["worst", "bad"])
    _write(tmp_path / "rejects" / "web" / "near_dedup-part-00000.parquet", ["g"], [0.95], ["a near copy"])
    out = describe_quality(str(tmp_path), 2)
    lines = out.splitlines()
    assert lines[0] == "5 documents scored"  # not the unscored one, not the near duplicate
    assert lines[1] == "highest 2:" and lines[2].startswith("0.900000  kept    web/en  a")
    assert "'best <b>page</b>'" in lines[3] and lines[4].startswith("0.800000  kept")
    assert "'good page'" in lines[5]  # one line per document
    assert lines[6] == "lowest 2:" and lines[7].startswith("0.100000  dropped web/en  e")
    assert lines[9].startswith("0.200000  dropped")
    assert main(["inspect", str(tmp_path), "--quality", "1"]) == 0
    assert "highest 1:" in capsys.readouterr().out


def test_inspect_quality_of_a_run_without_the_step_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path), "--quality"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "has no quality/ directory" in err and len(err.splitlines()) == 1
