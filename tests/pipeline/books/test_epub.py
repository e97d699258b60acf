import struct
import zipfile

import pytest

from pipeline.books.epub import read_epub
from pipeline.read.records import RecordError

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)
OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:title>The Two Chapters</dc:title><dc:creator>Ann Writer</dc:creator><dc:creator>Bo Helper</dc:creator>
    <dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
    <item id="cover" href="images/cover.svg" media-type="image/svg+xml"/>
    <item id="c1" href="text/chapter%201.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine>{spine}</spine>
</package>"""
SPINE = '<itemref idref="cover"/><itemref idref="c1"/><itemref idref="c2"/>'


def _chapter(title: str, body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f"<title>{title}</title></head><body><h2>{title}</h2><p>{body}</p></body></html>"
    )


def _epub(path, files: dict[str, str | bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return str(path)


def _book(spine: str = SPINE, drop: str | None = None) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {  # archive order differs from reading order on purpose
        "mimetype": "application/epub+zip",
        "OEBPS/text/ch2.xhtml": _chapter("Chapter Two", "The end."),
        "OEBPS/content.opf": OPF.format(spine=spine),
        "OEBPS/images/cover.svg": "<svg/>",
        "META-INF/container.xml": CONTAINER,
        "OEBPS/text/chapter 1.xhtml": _chapter("Chapter One", "It began\n  here."),
    }
    return {k: v for k, v in files.items() if k != drop}


def _read(path, max_bytes: int = 1 << 20):
    return read_epub(path, max_bytes, 100, "cp1252")


def test_chapters_in_spine_order_with_opf_metadata(tmp_path):
    record = _read(_epub(tmp_path / "b.epub", _book()))
    assert record["text"] == "Chapter One\n\nIt began here.\n\nChapter Two\n\nThe end."
    assert (record["title"], record["author"], record["language"]) == (
        "The Two Chapters",
        "Ann Writer; Bo Helper",
        "en",
    )
    assert record["chapters"] == 2


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (None, "epub_not_zip"),
        (_book(drop="META-INF/container.xml"), "epub_no_container"),
        (_book(drop="OEBPS/content.opf"), "epub_no_package"),
        (_book(drop="OEBPS/text/ch2.xhtml"), "epub_missing_chapter"),
        (_book(spine=SPINE + '<itemref idref="c3"/>'), "epub_missing_chapter"),
        (_book(spine='<itemref idref="cover"/>'), "epub_no_chapters"),
        ({**_book(), "META-INF/container.xml": '<!DOCTYPE c [<!ENTITY a "aaaa">]><c>&a;</c>'}, "epub_bad_xml"),
    ],
)
def test_malformed_epub_is_refused_whole_with_a_reason(tmp_path, files, reason):
    path = tmp_path / "bad.epub"
    if files is None:
        path.write_bytes(b"PK\x03\x04 but not really a zip")
    else:
        _epub(path, files)
    with pytest.raises(RecordError) as err:
        _read(str(path))
    assert err.value.reason == reason


def test_zip_bomb_is_refused_on_declared_and_on_inflated_size(tmp_path):
    bomb = _book()
    bomb["OEBPS/text/ch2.xhtml"] = _chapter("Two", "a" * 200_000)  # deflates to a few hundred bytes
    path = _epub(tmp_path / "bomb.epub", bomb)
    with pytest.raises(RecordError, match="declared uncompressed size") as err:
        _read(path, max_bytes=100_000)
    assert err.value.reason == "epub_too_large"
    # a zip that declares a small size for a large member: inflating stops there and the CRC fails
    with open(path, "rb") as f:
        data = bytearray(f.read())
    entry = data.index(b"PK\x01\x02")
    while not data[entry + 46 :].startswith(b"OEBPS/text/ch2.xhtml"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 1000)  # central directory: uncompressed size
    liar = tmp_path / "liar.epub"
    liar.write_bytes(bytes(data))
    with pytest.raises(RecordError) as err:
        _read(str(liar), max_bytes=100_000)
    assert err.value.reason == "epub_corrupt"
