import pyarrow as pa

from pipeline.accounting import build_stats, count_outcomes
from pipeline.exact_dedup import add_content_keys, dedup_group
from pipeline.records import quarantine_row
from pipeline.schema import DROPPED, KEPT, QUARANTINED, WORK_SCHEMA
from pipeline.stages import CurateConfig, run_row_stages, stage_order


def _doc(ident: str, text: str, source: str = "web", images: list | None = None) -> dict:
    return {"id": ident, "source": source, "text": text, "meta": "{}", "images": images or [],
            "status": KEPT, "stage": None, "reason": None, "detail": None, "rewrites": []}


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=WORK_SCHEMA)


def test_row_stages_record_rewrites_drops_and_pass_quarantined_rows():
    rows = [_doc("a", "fine text"), _doc("b", "needs\x00 cleaning  "), _doc("c", " \x07 "),
            quarantine_row("d", "web", "read", "invalid_json", "bad")]
    out = {r["id"]: r for r in run_row_stages(_table(rows), CurateConfig()).to_pylist()}
    assert out["a"]["status"] == KEPT and out["a"]["rewrites"] == []
    assert out["b"]["text"] == "needs cleaning" and out["b"]["rewrites"] == ["clean"]
    assert (out["c"]["status"], out["c"]["stage"], out["c"]["reason"]) == (DROPPED, "min_length", "too_short")
    assert out["d"]["status"] == QUARANTINED and out["d"]["stage"] == "read"


def test_exact_dedup_keeps_smallest_id_and_names_the_survivor():
    img = [{"sha256": "ab" * 32, "width": 1, "height": 1, "bytes": b"x"}]
    rows = [_doc("web/b#1", "same"), _doc("book/a#0", "same", "book"), _doc("web/c#2", "other"),
            _doc("mm/x#0", "same", "multimodal", img)]
    table = dedup_group(add_content_keys(_table(rows), 4))
    got = {r["id"]: (r["status"], r["reason"], r["detail"]) for r in table.to_pylist()}
    assert got["book/a#0"] == (KEPT, None, None)
    assert got["web/b#1"] == (DROPPED, "exact_duplicate", "book/a#0")
    assert got["web/c#2"][0] == KEPT and got["mm/x#0"][0] == KEPT  # an image makes the content differ


def test_exact_dedup_result_does_not_depend_on_row_order():
    rows = [_doc(f"web/f#{i}", "dup" if i % 3 else f"unique {i}") for i in range(30)]
    a = dedup_group(add_content_keys(_table(rows), 8)).sort_by("id")
    b = dedup_group(add_content_keys(_table(rows[::-1]), 8)).sort_by("id")
    assert a.equals(b)


def test_stats_reconcile_and_detect_lost_records():
    rows = [_doc("a", "x"), _doc("b", "\x00"), quarantine_row("c", "web", "read", "invalid_json", "")]
    table = run_row_stages(_table(rows), CurateConfig())
    counts = count_outcomes(table).to_pylist()
    order = stage_order(CurateConfig())
    stats = build_stats(counts, {"web": 3}, order)
    assert stats["reconciled"] and stats["totals"] == {"in": 3, "kept": 1, "dropped": 1, "quarantined": 1}
    funnel = {f["stage"]: f for f in stats["funnel"]}
    assert funnel["read"]["quarantined"] == 1 and funnel["min_length"]["dropped"] == 1
    assert funnel["clean"]["rewritten"] == 1 and funnel["exact_dedup"]["out"] == 1
    assert not build_stats(counts, {"web": 4}, order)["reconciled"]  # one record read but never accounted
