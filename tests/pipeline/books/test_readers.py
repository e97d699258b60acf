import gzip
import json

import pyarrow as pa
import pytest
import zstandard

from pipeline.books.readers import BookReadConfig, book_items, detect_book_format
from pipeline.read.records import FieldMap, RecordError, rows_to_tables
from pipeline.schema import KEPT, QUARANTINED

PG_TEXT = (
    "\ufeffThe Project Gutenberg EBook of Caf\u00e9 Stories, by Ann Writer\n\n"
    "Title: Caf\u00e9 Stories\n\nAuthor: Ann Writer\n\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK CAF\u00c9 STORIES ***\n\nIt began in a caf\u00e9.\n"
)
BOOK_FIELDS = FieldMap(meta_fields=["title", "author", "language"])


def _one(path, cfg: BookReadConfig | None = None, fmt=None):
    items = list(book_items(str(path), fmt or detect_book_format(str(path)), cfg))
    assert len(items) == 1 and items[0][0] == 0  # one document per book
    return items[0][1]


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_plain_text_book_utf8_with_header_fields(tmp_path, suffix):
    data = PG_TEXT.encode("utf-8")
    data = gzip.compress(data) if suffix == ".gz" else zstandard.ZstdCompressor().compress(data) if suffix else data
    path = tmp_path / f"cafe.txt{suffix}"
    path.write_bytes(data)
    record = _one(path)
    assert record["text"] == PG_TEXT[1:]  # the BOM is dropped, nothing else
    assert (record["title"], record["author"], record["encoding"]) == ("Caf\u00e9 Stories", "Ann Writer", "utf-8")


def test_text_not_utf8_uses_the_declared_charset_then_the_fallback(tmp_path):
    declared = tmp_path / "declared.txt"
    declared.write_bytes(b"Character set encoding: ISO-8859-1\n\nna\xefve\n")
    assert _one(declared)["text"].endswith("na\u00efve\n") and _one(declared)["encoding"] == "iso-8859-1"
    cp1252 = tmp_path / "quotes.txt"
    cp1252.write_bytes(b"\x93Quoted\x94 caf\xe9\n")
    record = _one(cp1252)
    assert record["text"] == "\u201cQuoted\u201d caf\u00e9\n" and record["encoding"] == "cp1252"
    error = _one(cp1252, BookReadConfig(fallback_encoding=None))
    assert isinstance(error, RecordError) and error.reason == "invalid_encoding"


def test_a_book_over_the_size_cap_is_quarantined_unread(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x" * 100)
    error = _one(path, BookReadConfig(max_book_bytes=99))
    assert isinstance(error, RecordError) and error.reason == "book_too_large"
    assert _one(path, BookReadConfig(max_book_bytes=100))["text"] == "x" * 100


def test_html_book_text_title_author_language(tmp_path):
    path = tmp_path / "book.html"
    path.write_bytes(
        b'<html lang="fr"><head><meta charset="iso-8859-1"><title>Le  Livre</title>'
        b'<meta name="author" content="Jean \xc9crivain"><style>p {}</style></head>'
        b"<body><h1>Chapitre I</h1><p>Il \xe9tait une\nfois.</p><p>Vers un<br/>vers deux</p>"
        b"<script>track()</script></body></html>"
    )
    record = _one(path)
    assert record["text"] == "Chapitre I\n\nIl \u00e9tait une fois.\n\nVers un\nvers deux"
    assert (record["title"], record["author"], record["language"]) == ("Le Livre", "Jean \u00c9crivain", "fr")


def test_suffixes_map_to_book_formats():
    assert [detect_book_format(p) for p in ("a.txt", "a.txt.gz", "a.epub", "a.htm", "a.xhtml", "a.pdf")] == [
        "txt",
        "txt",
        "epub",
        "html",
        "html",
        None,
    ]


def test_book_rows_keep_metadata_and_quarantine_with_a_reason(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.epub"
    good.write_text(PG_TEXT[1:])
    bad.write_bytes(b"not a zip at all")
    rows = []
    for path, fmt in ((good, "txt"), (bad, "epub")):
        rows += list(
            rows_to_tables(
                book_items(str(path), fmt),
                source="book",
                rel=path.name,
                fields=BOOK_FIELDS,
                base_dir=str(tmp_path),
                batch_rows=10,
            )
        )
    table = pa.concat_tables(rows)
    assert table["status"].to_pylist() == [KEPT, QUARANTINED]
    assert table["id"].to_pylist() == ["book/good.txt#0", "book/bad.epub#0"]
    assert json.loads(table["meta"][0].as_py()) == {"title": "Caf\u00e9 Stories", "author": "Ann Writer"}
    assert table["reason"][1].as_py() == "epub_not_zip"
