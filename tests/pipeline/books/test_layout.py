import pyarrow as pa

from pipeline.books.layout import BookLayoutConfig, book_layout, clean_layout

PARAGRAPH = [
    "The road ran north out of the village, past the mill and the long wall",
    "of the churchyard, and then up into the hills where the sheep grazed on",
    "the thin grass under a low sky, and nobody could remember who had laid",
    "its stones or why it went where it went, for it led to nothing at all.",
]
JOINED = " ".join(PARAGRAPH)


def _printed_book(pages: int = 8) -> str:
    """A book as text extracted from print: contents, running header, page numbers, an index."""
    lines = [
        "THE ROAD",
        "",
        "CONTENTS",
        "",
        "I. The Mill .... 1",
        "II. The Wall .... 9",
        "III. The Hills .... 17",
        "",
        "I. The Mill",
        "",
    ]
    for page in range(1, pages + 1):
        lines += ["THE ROAD", ""] + PARAGRAPH + [""] + PARAGRAPH + [""] + PARAGRAPH + ["", str(page), ""]
    return "\n".join(lines + ["INDEX", "", "Mill, the, 1, 4", "Road, 2-7", "Sheep, 3", "Stones, 5", "Wall, 6", ""])


def test_printed_book_loses_its_layout_and_keeps_its_text():
    text, tags = clean_layout(_printed_book(), BookLayoutConfig())
    assert text == "\n\n".join(["I. The Mill"] + [JOINED] * 24)
    assert sorted(set(tags)) == ["index", "page_number", "reflow", "running_header", "toc"]
    assert (tags.count("page_number"), tags.count("running_header"), tags.count("toc"), tags.count("index")) == (
        8,
        9,
        1,
        1,
    )  # the title line repeats the header's words: it goes with them


def test_each_rule_is_switchable():
    book = _printed_book()
    for rule, tag in [
        ("page_numbers", "page_number"),
        ("running_headers", "running_header"),
        ("toc", "toc"),
        ("index", "index"),
        ("reflow", "reflow"),
    ]:
        _, tags = clean_layout(book, BookLayoutConfig(**{rule: None}))
        assert tag not in tags
    off = BookLayoutConfig(page_numbers=None, running_headers=None, toc=None, index=None, hyphen_join=None, reflow=None)
    assert clean_layout(book, off) == (book, [])


def test_stage_keeps_one_row_per_book():
    table = pa.table({"id": ["a", "b"], "text": pa.array([_printed_book(), "A short note."], pa.large_string())})
    out = book_layout(table, BookLayoutConfig())
    assert out["id"].to_pylist() == ["a", "b"]
    assert out["text"][1].as_py() == "A short note." and out["rewrite_tags"][1].as_py() == []
    assert len(out["rewrite_tags"][0].as_py()) > 0
