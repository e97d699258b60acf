import codecs

import pytest

from pipeline.web.html_file import decode_html, page_url

KOREAN = "<html><body><p>한국어 문서</p></body></html>"
FRENCH = "<html><body><p>Déjà vu – « naïve » café</p></body></html>"  # the dash and quotes differ in cp1252


def test_declared_charset_decodes_bytes_that_are_not_utf8():
    assert decode_html(KOREAN.encode("euc-kr"), "EUC-KR") == KOREAN
    assert decode_html(FRENCH.encode("cp1252"), "windows-1252") == FRENCH


def test_meta_charset_when_http_says_nothing():
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=EUC-KR"></head>' + KOREAN
    assert decode_html(page.encode("euc-kr")) == page
    assert decode_html(b'<meta charset="utf-16">' + "Ok é".encode("cp1252")).endswith("Ok \ufffd")  # read as UTF-8


def test_valid_utf8_wins_over_a_wrong_label_and_cp1252_is_the_last_resort():
    assert decode_html(FRENCH.encode("utf-8"), "iso-8859-1") == FRENCH
    assert decode_html(FRENCH.encode("cp1252")) == FRENCH
    assert decode_html(codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), "iso-8859-1") == FRENCH


def test_iso_8859_1_label_means_cp1252_as_in_browsers():
    assert decode_html(b"<p>\x93quoted\x94</p>", "ISO-8859-1") == "<p>\u201cquoted\u201d</p>"


@pytest.mark.parametrize(
    ("head", "url"),
    [
        (
            '<link rel="canonical" href="https://e.org/a"><meta property="og:url" content="https://e.org/b">',
            "https://e.org/a",
        ),
        (
            '<link href="/style.css" rel="stylesheet"><meta property="og:url" content=" https://e.org/b ">',
            "https://e.org/b",
        ),
        ('<link rel="alternate canonical" href="https://e.org/c">', "https://e.org/c"),
        ('<link rel="canonical" href="">', None),
        ("", None),
    ],
)
def test_page_url_from_canonical_link_then_og_url(head, url):
    assert page_url(f"<html><head><title>t</title>{head}</head><body><p>x</p></body></html>") == url


def test_page_url_ignores_links_in_the_body():
    assert page_url('<html><head></head><body><link rel="canonical" href="https://e.org/x"></body></html>') is None
