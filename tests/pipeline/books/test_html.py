import pytest

from pipeline.books.html import decode_markup, parse_html_book
from pipeline.read.records import RecordError


def test_book_markup_keeps_headings_headers_verse_and_preformatted_indentation():
    book = parse_html_book(
        "<html><head><title>T</title><meta name='DC.Creator' content='A. Writer'></head><body>"
        "<header><h1>Chapter 1</h1></header><p>Two\n   words.</p><p>Line one<br>Line two</p>"
        "<pre>def f():\n    return 1</pre><aside>A footnote.</aside><script>x()</script></body></html>"
    )
    assert book.text == "Chapter 1\n\nTwo words.\n\nLine one\nLine two\n\ndef f():\n    return 1\n\nA footnote."
    assert (book.title, book.author, book.language) == ("T", "A. Writer", "")


def test_decode_markup_bom_then_utf8_then_declared_then_fallback():
    assert decode_markup("é".encode("utf-16"), None) == ("é", "utf-16")  # with its BOM
    assert decode_markup("<p>é</p>".encode(), None) == ("<p>é</p>", "utf-8")
    assert decode_markup(b'<?xml version="1.0" encoding="ISO-8859-1"?><p>\xe9</p>', None)[1] == "iso-8859-1"
    assert decode_markup(b"<p>\x93\xe9</p>", "cp1252") == ("<p>\u201cé</p>", "cp1252")
    with pytest.raises(RecordError, match="invalid_encoding"):
        decode_markup(b"<p>\xe9</p>", None)
