"""The run's printed summary: one line per source with its languages, kept/dropped and main reason."""

from jobs.run import _language_lines


def test_language_lines_list_each_sources_languages_most_documents_first():
    rows = [
        {"source": "web", "language": "zh", "kept": 4, "dropped": 11, "quarantined": 0,
         "reasons": [{"status": "dropped", "stage": "gopher_quality", "reason": "alpha_words", "docs": 7}]},
        {"source": "web", "language": "en", "kept": 29, "dropped": 134, "quarantined": 0,
         "reasons": [{"status": "dropped", "stage": "c4", "reason": "curly_bracket", "docs": 15}]},
        {"source": "web", "language": "el", "kept": 1, "dropped": 0, "quarantined": 0, "reasons": []},
        {"source": "multimodal", "language": None, "kept": 0, "dropped": 0, "quarantined": 4, "reasons": []},
    ]  # fmt: skip
    assert _language_lines(rows) == [
        "  languages   web         kept/dropped: en 29/134 (c4:curly_bracket), zh 4/11 (gopher_quality:alpha_words),"
        " el 1/0",
    ]  # a source with only quarantined rows has no line
