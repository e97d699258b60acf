"""stats.json's schema: its reference in docs/ is generated from it, and it refuses what it does not name."""

import os

from jobs.stats_schema import BEGIN, DOCS, END, check_stats, schema_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_docs_hold_the_schema_as_generated():
    with open(os.path.join(ROOT, DOCS), encoding="utf-8") as f:
        text = f.read()
    generated = text.partition(BEGIN)[2].partition(END)[0]
    assert generated.strip() == schema_markdown().strip(), "docs/stats.md is stale: run `make docs`"


def _minimal() -> dict:
    totals = {"in": 1, "kept": 1, "dropped": 0, "quarantined": 0, "merged": 0, "created": 0}
    source = {"in": 1, "kept": 1, "dropped": 0, "quarantined": 0, "kept_chars": 5, "reconciled": True}
    curate = {"reconciled": True, "totals": totals, "sources": {"web": source}, "funnel": [], "reasons": []}
    curate |= {"rewrite_events": [], "seconds": 1.0, "timings": {}}
    return {"schema_version": 1, "curate": curate, "timings": {}}


def test_a_curate_only_run_conforms_and_departures_are_named_by_path():
    assert check_stats(_minimal()) == []
    stats = _minimal()
    stats["curate"]["sources"]["web"]["kept_chars"] = "five"
    stats["curate"]["totals"]["surprise"] = 1
    del stats["schema_version"]
    problems = check_stats(stats)
    assert any(p.startswith("schema_version:") for p in problems)
    assert any(p.startswith("curate.sources.web.kept_chars:") for p in problems)
    assert any(p.startswith("curate.totals.surprise: Extra inputs") for p in problems)
