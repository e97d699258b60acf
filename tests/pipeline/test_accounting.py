"""Outcomes per language: each source's rows by the language language ID gave them, with reasons,
adding up to the source's totals even after a later pass moves documents from kept to dropped."""

import json

import pyarrow as pa

from pipeline.accounting import build_stats, count_outcomes, identified_language, moved_to_dropped


def _rows(source: str, language: str | None, status: str, stage: str | None, reason: str | None, n: int) -> list:
    return [
        {"source": source, "language": language, "status": status, "stage": stage, "reason": reason, "text": "x" * 10}
    ] * n


def test_counts_per_language_reconcile_with_the_sources_after_a_later_drop():
    rows = (
        _rows("web", "zh", "kept", None, None, 3)
        + _rows("web", "zh", "dropped", "gopher_quality", "alpha_words", 2)
        + _rows("web", "en", "kept", None, None, 4)
        + _rows("web", None, "dropped", "min_length", "too_short", 1)  # before language ID
        + _rows("code", None, "kept", None, None, 5)
    )
    table = pa.Table.from_pylist(rows).append_column("rewrites", pa.array([[]] * len(rows), pa.list_(pa.string())))
    counts = count_outcomes(table).to_pylist() + moved_to_dropped("web", "near_dedup", "near_duplicate", 1, 10, "zh")
    stats = build_stats(counts, {"web": 10, "code": 5}, ["min_length", "gopher_quality", "near_dedup"])
    assert stats["reconciled"]
    langs = {(r["source"], r["language"]): r for r in stats["languages"]}
    assert set(langs) == {("web", "en"), ("web", "zh"), ("web", None)}  # code: no row language
    zh = langs[("web", "zh")]
    assert (zh["kept"], zh["dropped"], zh["kept_chars"]) == (2, 3, 20)
    assert zh["reasons"] == [
        {"status": "dropped", "stage": "gopher_quality", "reason": "alpha_words", "docs": 2},
        {"status": "dropped", "stage": "near_dedup", "reason": "near_duplicate", "docs": 1},
    ]
    web = stats["sources"]["web"]
    assert (
        sum(r["kept"] for r in langs.values()) == web["kept"]
        and sum(r["dropped"] for r in langs.values()) == web["dropped"]
    )


def test_a_later_pass_reads_the_language_from_meta_but_not_codes():
    assert identified_language(json.dumps({"language": "zh", "language_score": 0.97})) == "zh"
    assert identified_language(json.dumps({"language": "Python"})) is None  # a code file's language
    assert identified_language(None) is None


def test_counts_take_given_lengths_for_rows_that_no_longer_carry_their_text():
    """A merged code file leaves the repository pass's shuffle without its text: its length is counted from the
    lengths given, not from the emptied text."""
    rows = _rows("code", None, "merged", "repo_document", None, 2) + _rows("code", None, "kept", None, None, 1)
    rows[0] = {**rows[0], "text": ""}
    table = pa.Table.from_pylist(rows).append_column("rewrites", pa.array([[]] * 3, pa.list_(pa.string())))
    given = {r["status"]: r["chars"] for r in count_outcomes(table, pa.array([10, 10, 10], pa.int64())).to_pylist()}
    assert given == {"merged": 20, "kept": 10}
    assert {r["status"]: r["chars"] for r in count_outcomes(table).to_pylist()} == {"merged": 10, "kept": 10}
