import gzip
import io
import json
import os
import re
from functools import lru_cache

import pyarrow as pa
import pytest
import zstandard
from fastwarc.warc import WarcRecord, WarcRecordType

from pipeline.read.readers import InputFile, SourceSpec, read_input
from pipeline.schema import KEPT, QUARANTINED
from pipeline.web.html_extract import ExtractConfig, extract_html
from tests.conftest import REPO

DATE = "2024-05-01T12:00:00Z"


@lru_cache(maxsize=1)
def sample_pages() -> tuple[tuple[str, str, str], ...]:
    """(url, html, charset) of real sample pages: six small UTF-8 ones, one EUC-KR, one ISO-8859-1."""
    with open(os.path.join(REPO, "data/sample/web/pages.jsonl.zst"), "rb") as f:
        records = [json.loads(line) for line in io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f))]
    pages = []
    for r in records:
        charset = re.search(r"charset=[\"']?([\w-]+)", r["html"][:2000], re.IGNORECASE)
        pages.append((r["url"], r["html"], charset[1].lower() if charset else "utf-8"))
    small = [p for p in pages if p[2] == "utf-8" and len(p[1]) < 8000][:6]
    return (*small, next(p for p in pages if p[2] == "euc-kr"), next(p for p in pages if p[2] == "iso-8859-1"))


def _record(kind: WarcRecordType, uri: str, block: bytes, content_type: str) -> bytes:
    record = WarcRecord()
    record.init_headers(kind)
    record.headers["WARC-Target-URI"] = uri
    record.headers["WARC-Date"] = DATE
    record.headers["Content-Type"] = content_type
    record.set_bytes_content(block)
    out = io.BytesIO()
    record.write(out)
    return out.getvalue()


def _response(uri: str, status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return _record(WarcRecordType.response, uri, head.encode() + body, "application/http; msgtype=response")


def build_warc(gz: bool = True, metadata_after_last: bool = True) -> tuple[bytes, list[tuple[int, int]]]:
    """A crawl of the sample pages: warcinfo, then per page a request, the response and a metadata
    record, with a PNG, a 404 page and a redirect in between. Returns the file and each HTML
    response's (start, end) byte range, in page order."""
    members = [_record(WarcRecordType.warcinfo, "", b"software: test\r\n", "application/warc-fields")]
    html_members = []
    pages = sample_pages()
    for i, (url, html, charset) in enumerate(pages):
        request = f"GET / HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()
        members.append(_record(WarcRecordType.request, url, request, "application/http; msgtype=request"))
        html_members.append(len(members))
        members.append(_response(url, "200 OK", f"text/html; charset={charset}", html.encode(charset)))
        if metadata_after_last or i < len(pages) - 1:
            members.append(_record(WarcRecordType.metadata, url, b"fetchTimeMs: 12\r\n", "application/warc-fields"))
        if i == 2:
            png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
            members.append(_response("https://e.org/logo.png", "200 OK", "image/png", png))
            members.append(_response("https://e.org/gone", "404 Not Found", "text/html", b"<html>Not found</html>"))
            members.append(_response("https://e.org/old", "301 Moved Permanently", "text/html", b"<html>Moved</html>"))
    blobs = [gzip.compress(m) if gz else m for m in members]
    starts = [sum(len(b) for b in blobs[:i]) for i in range(len(blobs) + 1)]
    return b"".join(blobs), [(starts[i], starts[i + 1]) for i in html_members]


def _read(path, **spec_fields) -> pa.Table:
    spec = SourceSpec(name="web", paths=[], **spec_fields)
    return pa.concat_tables(read_input(spec, InputFile("web", str(path), path.name)))


def _expected_texts() -> list[str]:
    return [extract_html(html, ExtractConfig())[0] for _, html, _ in sample_pages()]


@pytest.mark.parametrize("gz", [True, False])
def test_every_html_response_is_a_document_with_url_date_and_record_id(tmp_path, gz):
    data, ranges = build_warc(gz)
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    path.write_bytes(data)
    table = _read(path)
    # requests, metadata, warcinfo, the PNG, the 404 and the redirect are not documents
    assert table.num_rows == len(sample_pages())
    assert set(table["status"].to_pylist()) == {KEPT}
    assert table["id"].to_pylist() == [f"web/{path.name}#{start}" for start, _ in ranges]
    # decoded with each response's HTTP charset (EUC-KR, ISO-8859-1): the same text as the original page
    assert table["text"].to_pylist() == _expected_texts()
    metas = [json.loads(m) for m in table["meta"].to_pylist()]
    assert [m["url"] for m in metas] == [url for url, _, _ in sample_pages()]
    assert all(m["date"] == DATE and m["record_id"].startswith("<urn:uuid:") and m["title"] for m in metas)


def test_corrupt_member_is_quarantined_and_truncated_last_record_too(tmp_path):
    data, ranges = build_warc(metadata_after_last=False)
    (bad_start, bad_end), (last_start, last_end) = ranges[3], ranges[-1]
    mangled = bytearray(data[: last_start + (last_end - last_start) // 2])  # the file ends inside the last record
    mangled[bad_start + 20 : bad_start + 60] = bytes(b ^ 0x5A for b in mangled[bad_start + 20 : bad_start + 60])
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(bytes(mangled))
    table = _read(path)
    rows = list(zip(table["id"].to_pylist(), table["status"].to_pylist(), table["reason"].to_pylist()))
    metadata_start = bad_end  # the stretch ends where the next sound record (page 3's metadata) begins
    assert rows[3] == (f"web/damaged.warc.gz#{bad_start}-{metadata_start}", QUARANTINED, "warc_corrupt")
    assert rows[-1] == (f"web/damaged.warc.gz#{last_start}", QUARANTINED, "warc_truncated")
    kept = [i for i, row in enumerate(rows) if row[1] == KEPT]
    assert kept == [0, 1, 2, 4, 5, 6]
    assert [table["text"][i].as_py() for i in kept] == [_expected_texts()[i] for i in kept]


def test_garbled_header_in_plain_warc_resumes_at_next_record(tmp_path):
    data, ranges = build_warc(gz=False)
    start, end = ranges[2]
    assert data[start : start + 8] == b"WARC/1.1"
    path = tmp_path / "garbled.warc"
    path.write_bytes(data[:start] + b"GARBAGE!" + data[start + 8 :])
    table = _read(path)
    assert table["status"].to_pylist() == [KEPT, KEPT, QUARANTINED] + [KEPT] * 5
    assert table["id"][2].as_py() == f"web/garbled.warc#{start}-{end}"


def test_no_sound_record_after_damage_keeps_what_was_read_and_quarantines_the_rest(tmp_path):
    data, ranges = build_warc(metadata_after_last=False)
    start, end = ranges[-1]
    mangled = data[: start + 20] + bytes(b ^ 0x5A for b in data[start + 20 : start + 60]) + data[start + 60 :]
    path = tmp_path / "tail.warc.gz"
    path.write_bytes(mangled)
    table = _read(path)
    assert table["status"].to_pylist() == [KEPT] * 7 + [QUARANTINED]
    assert table["id"][-1].as_py() == "web/tail.warc.gz#file"
    assert table["reason"][-1].as_py() == "warc_corrupt"
    assert table["text"].to_pylist()[:7] == _expected_texts()[:7]


def test_http_charset_decodes_a_page_that_declares_none(tmp_path):
    html = "<html><head><title>안내</title></head><body><p>한국어 문서는 EUC-KR로 저장되어 있습니다.</p></body></html>"
    for charset, ok in (("EUC-KR", True), (None, False)):
        content_type = f"text/html; charset={charset}" if charset else "text/html"
        path = tmp_path / f"{charset}.warc"
        path.write_bytes(_response("https://e.org/ko", "200 OK", content_type, html.encode("euc-kr")))
        meta = json.loads(_read(path)["meta"][0].as_py())
        assert (meta["title"] == "안내") is ok  # without the header, cp1252 is the last resort


MAX = 4000  # max_record_bytes for the tests below: of their pages' payloads only the second's is larger
PAGES = (1, 4, 3, 2)  # sample pages of 2961, 4875, 3108 and 3388 bytes


def _responses(request: bool = False) -> list[bytes]:
    """Four HTML response records of PAGES, with a request record before the third one when ``request``."""
    pages = [sample_pages()[i] for i in PAGES]
    records = [_response(url, "200 OK", f"text/html; charset={cs}", html.encode(cs)) for url, html, cs in pages]
    if request:
        get = b"GET / HTTP/1.1\r\nHost: e.org\r\n\r\n"
        records.insert(2, _record(WarcRecordType.request, pages[2][0], get, "application/http; msgtype=request"))
    return records


def _lie(record: bytes, length: int) -> bytes:
    """The record with ``length`` as its WARC Content-Length (the first one: the WARC header comes first)."""
    return re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % length, record, count=1)


def _write(path, records: list[bytes], gz: bool) -> list[int]:
    """Writes the records (one gzip member each when ``gz``); returns each one's start offset."""
    blobs = [gzip.compress(r) if gz else r for r in records]
    path.write_bytes(b"".join(blobs))
    return [sum(len(b) for b in blobs[:i]) for i in range(len(blobs))]


def _rows(table: pa.Table) -> list[tuple[str, str, str]]:
    return [(i.split("#")[1], s, r) for i, s, r in zip(*(table[c].to_pylist() for c in ("id", "status", "reason")))]


CLAIMS = {  # a lying Content-Length for the second record, from the records; the max_record_bytes it is read with
    "huge": (lambda records: 10**12, {}),
    "absurd": (lambda records: 10**30, {}),  # FastWARC cannot even parse it: its header reads as garbage
    "past_end": (lambda records: sum(len(r) for r in records[1:]), {}),  # not past max_record_bytes: read, then checked
    "into_next": (lambda records: len(records[1]) + len(records[2]) // 2, {"max_record_bytes": MAX}),
    # read (with half the next record), then garbage where the next header should be: no document of it
    "into_next_read": (lambda records: len(records[1]) + len(records[2]) // 2, {}),
}


@pytest.mark.parametrize("claim", CLAIMS)
@pytest.mark.parametrize("gz", [False, True])
def test_lying_content_length_is_one_corrupt_stretch_and_the_records_after_it_are_read(tmp_path, gz, claim):
    length, spec_fields = CLAIMS[claim]
    records = _responses()
    records[1] = _lie(records[1], length(records))
    path = tmp_path / ("lie.warc.gz" if gz else "lie.warc")
    starts = _write(path, records, gz)
    table = _read(path, **spec_fields)
    assert _rows(table) == [
        (str(starts[0]), KEPT, None),
        (f"{starts[1]}-{starts[2]}", QUARANTINED, "warc_corrupt"),  # the whole record, up to the next sound one
        (str(starts[2]), KEPT, None),
        (str(starts[3]), KEPT, None),
    ]
    assert [table["text"][i].as_py() for i in (0, 2, 3)] == [_expected_texts()[PAGES[i]] for i in (0, 2, 3)]


@pytest.mark.parametrize("claim", ["huge", "past_end"])
@pytest.mark.parametrize("gz", [False, True])
def test_lying_content_length_of_a_non_document_is_a_corrupt_stretch_too(tmp_path, gz, claim):
    records = _responses(request=True)
    records[2] = _lie(records[2], CLAIMS[claim][0](records[1:]))
    path = tmp_path / ("request.warc.gz" if gz else "request.warc")
    starts = _write(path, records, gz)
    rows = _rows(_read(path))
    assert rows == [
        (str(starts[0]), KEPT, None),
        (str(starts[1]), KEPT, None),
        (f"{starts[2]}-{starts[3]}", QUARANTINED, "warc_corrupt"),  # the request, which FastWARC skips unread
        (str(starts[3]), KEPT, None),
        (str(starts[4]), KEPT, None),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_honest_length_past_max_record_bytes_is_too_large_and_reading_goes_on(tmp_path, gz):
    records = _responses()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * (1 << 20)  # a large non-document: skipped unread, nothing reported
    records.insert(2, _response("https://e.org/big.png", "200 OK", "image/png", png))
    path = tmp_path / ("big.warc.gz" if gz else "big.warc")
    starts = _write(path, records, gz)
    table = _read(path, max_record_bytes=MAX)
    assert _rows(table) == [
        (str(starts[0]), KEPT, None),
        (str(starts[1]), QUARANTINED, "record_too_large"),
        (str(starts[3]), KEPT, None),
        (str(starts[4]), KEPT, None),
    ]
    assert [table["text"][i].as_py() for i in (0, 2, 3)] == [_expected_texts()[PAGES[i]] for i in (0, 2, 3)]
