import gzip
import json
import os

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.read.listing import ListingError
from pipeline.read.readers import InputFile, SourceSpec, expand_inputs, read_input
from pipeline.schema import KEPT, QUARANTINED, WORK_SCHEMA
from tests.conftest import stdlib_sources


def _read(spec: SourceSpec, path: str, rel: str | None = None) -> pa.Table:
    inp = InputFile(spec.name, path, rel or os.path.basename(path))
    tables = list(read_input(spec, inp, cache_dir=os.path.join(os.path.dirname(path), "_cache")))
    for t in tables:
        assert t.schema == WORK_SCHEMA
    return pa.concat_tables(tables)


def _jsonl(records: list) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_jsonl_plain_and_compressed(tmp_path, stdlib_texts, suffix):
    data = _jsonl([{"text": t, "url": f"u{i}"} for i, t in enumerate(stdlib_texts)])
    path = tmp_path / f"docs.jsonl{suffix}"
    if suffix == ".gz":
        data = gzip.compress(data)
    elif suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    table = _read(SourceSpec(name="web", paths=[], meta_fields=["url"]), str(path))
    assert table["text"].to_pylist() == stdlib_texts
    assert table["id"].to_pylist() == [f"web/docs.jsonl{suffix}#{i}" for i in range(len(stdlib_texts))]
    assert set(table["status"].to_pylist()) == {KEPT}
    assert json.loads(table["meta"][1].as_py()) == {"url": "u1"}


def test_truncated_zstd_keeps_what_was_read_and_quarantines_the_rest(tmp_path):
    texts = stdlib_sources(limit=40)
    data = zstandard.ZstdCompressor().compress(_jsonl([{"text": t} for t in texts]))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) * 2 // 3])
    table = _read(SourceSpec(name="web", paths=[]), str(path))
    status = table["status"].to_pylist()
    assert status[-1] == QUARANTINED and table["reason"][-1].as_py() == "TruncatedInputError"
    assert table["id"][-1].as_py() == "web/cut.jsonl.zst#file"
    assert status.count(KEPT) >= 1 and status.count(QUARANTINED) == 1
    assert table["text"].to_pylist()[: status.count(KEPT)] == texts[: status.count(KEPT)]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shares_of_a_file_together_hold_each_row_once(tmp_path, n):
    """n tasks each cleaning every n-th run of records of one file: together exactly the file's rows, with
    the same ids, and the one quarantine row of a truncated file reported by one share only."""
    texts = stdlib_sources(limit=60)
    data = zstandard.ZstdCompressor().compress(_jsonl([{"text": t} for t in texts]))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) * 3 // 4])
    spec = SourceSpec(name="web", paths=[], batch_rows=5, split_records=7)
    whole = _read(spec, str(path))
    inp = InputFile("web", str(path), "cut.jsonl.zst")
    shares = [
        pa.concat_tables(list(read_input(spec, inp, share=(k, n))) or [whole.schema.empty_table()]) for k in range(n)
    ]
    assert sum(t.num_rows for t in shares) == whole.num_rows > 7 * n
    together = pa.concat_tables(shares).sort_by("id")
    assert together.equals(whole.sort_by("id"))
    assert sum(t["id"].to_pylist().count("web/cut.jsonl.zst#file") for t in shares) == 1
    for k, t in enumerate(shares):  # share k holds runs k, k + n, ...: the rows at those positions
        positions = [int(i.split("#")[1]) for i in t["id"].to_pylist() if not i.endswith("#file")]
        assert all((p // 7) % n == k for p in positions)


def test_large_book_and_web_files_are_split_by_default_others_not():
    assert SourceSpec(name="book", paths=[]).split_mb == 4.0
    assert SourceSpec(name="web", paths=[]).split_mb == 16.0
    assert SourceSpec(name="code", paths=[]).split_mb is None
    assert SourceSpec(name="book", paths=[], split_mb=None).split_mb is None


def test_truncated_gzip_is_quarantined(tmp_path, stdlib_texts):
    data = gzip.compress(_jsonl([{"text": t} for t in stdlib_texts]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    table = _read(SourceSpec(name="book", paths=[]), str(path))
    assert table["status"][-1].as_py() == QUARANTINED
    assert table["reason"][-1].as_py() == "EOFError"


def test_bad_lines_are_quarantined_one_by_one(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"text": "good one"}\n{broken json\n{"text": "caf\xe9 latin-1"}\n[1, 2]\n'
        b'{"other": "no text"}\n' + b'{"text": "' + b"x" * 5000 + b'"}\n{"text": "good two"}\n'
    )
    table = _read(SourceSpec(name="web", paths=[], max_record_bytes=1000), str(path))
    got = list(zip(table["status"].to_pylist(), table["reason"].to_pylist()))
    assert got == [
        (KEPT, None),
        (QUARANTINED, "invalid_json"),
        (QUARANTINED, "invalid_utf8"),
        (QUARANTINED, "not_an_object"),
        (QUARANTINED, "missing_text"),
        (QUARANTINED, "record_too_large"),
        (KEPT, None),
    ]
    assert table["text"][6].as_py() == "good two"
    assert table["id"][6].as_py() == "web/mixed.jsonl#6"
    assert "broken json" in table["text"][1].as_py()  # the raw payload is kept for inspection


def test_missing_file_is_one_quarantine_row(tmp_path):
    table = _read(SourceSpec(name="code", paths=[]), str(tmp_path / "nope.jsonl"))
    assert table.num_rows == 1
    assert table["reason"][0].as_py() == "FileNotFoundError"


def test_parquet_arrow_file_and_stream(tmp_path, stdlib_texts):
    t = pa.table({"content": stdlib_texts, "path": [f"p{i}" for i in range(len(stdlib_texts))]})
    pq.write_table(t, tmp_path / "a.parquet", row_group_size=2)
    with ipc.new_file(str(tmp_path / "b.arrow"), t.schema) as w:
        w.write_table(t, max_chunksize=3)
    with ipc.new_stream(str(tmp_path / "c.arrow"), t.schema) as w:
        w.write_table(t)
    spec = SourceSpec(name="code", paths=[], text_field="content", meta_fields=["path"], batch_rows=2)
    for name in ("a.parquet", "b.arrow", "c.arrow"):
        table = _read(spec, str(tmp_path / name))
        assert table["text"].to_pylist() == stdlib_texts, name
        assert json.loads(table["meta"][2].as_py()) == {"path": "p2"}


def test_parquet_with_wrong_schema_is_quarantined(tmp_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "w.parquet")
    table = _read(SourceSpec(name="code", paths=[], text_field="content"), str(tmp_path / "w.parquet"))
    assert table.num_rows == 1 and table["reason"][0].as_py() == "wrong_schema"


def test_hf_datasets_save_to_disk_and_load_dataset(tmp_path, stdlib_texts):
    import datasets

    datasets.Dataset.from_dict({"text": stdlib_texts}).save_to_disk(str(tmp_path / "saved"))
    table = _read(SourceSpec(name="book", paths=[]), str(tmp_path / "saved"), rel="saved")
    assert table["text"].to_pylist() == stdlib_texts
    (tmp_path / "lines.jsonl").write_bytes(_jsonl([{"text": t} for t in stdlib_texts]))
    spec = SourceSpec(name="book", paths=[], format="hf_load", hf_builder="json")
    assert _read(spec, str(tmp_path / "lines.jsonl"))["text"].to_pylist() == stdlib_texts


def test_expand_inputs_sorted_relative_and_missing(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.jsonl", "d/a.jsonl", "d/sub/c.jsonl"):
        (tmp_path / name).write_text("")
    spec = SourceSpec(name="web", paths=["d/**/*.jsonl", "d/missing.jsonl"])
    rels = [i.rel for i in expand_inputs(spec, str(tmp_path))]
    assert rels == ["a.jsonl", "b.jsonl", "missing.jsonl", "sub/c.jsonl"]  # a named file that is missing: counted


def test_a_glob_that_matches_nothing_is_an_error_naming_it(tmp_path):
    with pytest.raises(ListingError, match=r"gone/\*\.jsonl matches no file"):
        expand_inputs(SourceSpec(name="web", paths=["gone/*.jsonl"]), str(tmp_path))


def test_image_records_get_marker_and_image_struct(tmp_path):
    import io

    from PIL import Image

    buf, jpeg = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (300, 200), (10, 20, 30)).save(buf, "PNG")
    Image.effect_noise((200, 200), 40).save(jpeg, "JPEG")
    truncated = jpeg.getvalue()[: len(jpeg.getvalue()) // 2]  # a valid header, half the data
    pq.write_table(
        pa.table({"caption": ["a dark square", "broken", "cut"], "image": [buf.getvalue(), b"\x89PNG\r\n", truncated]}),
        tmp_path / "p.parquet",
    )
    spec = SourceSpec(name="multimodal", paths=[], text_field="caption", image_field="image")
    table = _read(spec, str(tmp_path / "p.parquet"))
    assert table["text"][0].as_py() == "<|image|>\na dark square"
    image = table["images"][0].as_py()[0]
    assert (image["width"], image["height"]) == (300, 200) and len(image["sha256"]) == 64
    assert table["reason"][1].as_py() == table["reason"][2].as_py() == "image_unreadable"
    assert "truncated" in table["detail"][2].as_py()


def test_the_run_pixel_cap_refuses_a_record_image_from_its_header(tmp_path):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "PNG")
    pq.write_table(pa.table({"caption": ["small enough"], "image": [buf.getvalue()]}), tmp_path / "p.parquet")
    spec = SourceSpec(name="multimodal", paths=[], text_field="caption", image_field="image")
    inp = InputFile("multimodal", str(tmp_path / "p.parquet"), "p.parquet")
    capped = pa.concat_tables(list(read_input(spec, inp, max_pixels=300 * 200 - 1)))
    assert capped["reason"].to_pylist() == ["image_too_many_pixels"]
    assert pa.concat_tables(list(read_input(spec, inp, max_pixels=300 * 200)))["status"].to_pylist() == [KEPT]


def test_image_paths_resolve_against_the_data_file(tmp_path):
    from tests.conftest import REPO

    pairs = pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet", filters=[("key", "=", "matplotlib/home")])
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "data" / "imgs" / "home.png").write_bytes(pairs["image"][0].as_py())
    pq.write_table(
        pa.table(
            {
                "caption": ["path", "HF Image struct", "gone"],
                "image": ["imgs/home.png", None, "imgs/gone.png"],
                "hf": [None, {"bytes": None, "path": "imgs/home.png"}, None],
            }
        ),
        tmp_path / "data" / "pairs.parquet",
    )
    table = _read(
        SourceSpec(name="multimodal", paths=[], text_field="caption", image_field="image"),
        str(tmp_path / "data" / "pairs.parquet"),
    )
    assert table["status"].to_pylist() == [KEPT, QUARANTINED, QUARANTINED]
    assert (table["images"][0].as_py()[0]["width"], table["reason"][2].as_py()) == (24, "image_missing")
    hf = _read(
        SourceSpec(name="multimodal", paths=[], text_field="caption", image_field="hf"),
        str(tmp_path / "data" / "pairs.parquet"),
    )
    assert hf["images"][1].as_py()[0]["sha256"] == table["images"][0].as_py()[0]["sha256"]


def test_images_field_holds_images_whose_markers_the_text_has(tmp_path):
    from tests.conftest import REPO

    rows = pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet", columns=["key", "image"]).to_pylist()
    png, gif = (next(r["image"] for r in rows if r["key"] == k) for k in ("matplotlib/home", "apache/down.gif"))
    pq.write_table(
        pa.table({"text": ["a <|image|> b <|image|>", "one marker <|image|>"], "imgs": [[png, gif], [png, gif]]}),
        tmp_path / "i.parquet",
    )
    table = _read(SourceSpec(name="multimodal", paths=[], images_field="imgs"), str(tmp_path / "i.parquet"))
    assert [(i["width"], i["height"]) for i in table["images"][0].as_py()] == [(24, 24), (11, 11)]
    assert table["text"][0].as_py() == "a <|image|> b <|image|>"
    assert table["reason"][1].as_py() == "image_marker_mismatch"


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.jsonl.zst", "empty.jsonl.gz"])
def test_empty_files_give_no_rows_and_no_error(tmp_path, name):
    data = {
        "empty.jsonl": b"",
        "empty.jsonl.zst": zstandard.ZstdCompressor().compress(b""),
        "empty.jsonl.gz": gzip.compress(b""),
    }[name]
    (tmp_path / name).write_bytes(data)
    inp = InputFile("web", str(tmp_path / name), name)
    assert list(read_input(SourceSpec(name="web", paths=[]), inp)) == []


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.warc.gz", "warc"), ("a.warc", "warc"), ("b.html", "html"), ("b.htm.zst", "html"), ("b.HTML.gz", "html")],
)
def test_web_formats_by_suffix(name, fmt):
    from pipeline.read.readers import detect_format

    assert detect_format(SourceSpec(name="web", paths=[]), name) == fmt


def test_html_files_one_document_each_with_url_and_title(tmp_path):
    from pipeline.web.html_extract import ExtractConfig, extract_html

    body = "<body><main><p>" + "Ebb and flood follow the moon across the mudflats. " * 8 + "</p></main></body></html>"
    pages = {
        "a.html": '<html><head><title>Tides</title><link rel="canonical" href="https://e.org/tides"></head>' + body,
        "b.htm.gz": '<html><head><meta property="og:url" content="https://e.org/b"><title>B</title></head>' + body,
        "c.html.zst": "<html><head><title>No address</title></head>" + body,
    }
    for name, html in pages.items():
        data = html.encode()
        data = gzip.compress(data) if name.endswith(".gz") else data
        data = zstandard.ZstdCompressor().compress(data) if name.endswith(".zst") else data
        (tmp_path / name).write_bytes(data)
    (tmp_path / "empty.html").write_bytes(b"")
    spec = SourceSpec(name="web", paths=["*"])  # no text_field or content: HTML files imply them
    tables = [_read(spec, str(i.path), i.rel) for i in expand_inputs(spec, str(tmp_path)) if i.rel != "empty.html"]
    table = pa.concat_tables(tables)
    assert table["id"].to_pylist() == ["web/a.html#0", "web/b.htm.gz#0", "web/c.html.zst#0"]
    assert [json.loads(m) for m in table["meta"].to_pylist()] == [
        {"url": "https://e.org/tides", "title": "Tides"},
        {"url": "https://e.org/b", "title": "B"},
        {"title": "No address"},
    ]
    assert set(table["text"].to_pylist()) == {extract_html(pages["a.html"], ExtractConfig())[0]}
    assert list(read_input(spec, InputFile("web", str(tmp_path / "empty.html"), "empty.html"))) == []


def test_a_deeply_nested_json_line_is_quarantined_alone(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000  # past the decoder's recursion limit
    path = tmp_path / "nested.jsonl"
    path.write_bytes(_jsonl([{"text": "before"}]) + deep + b"\n" + _jsonl([{"text": "after"}, {"text": "last"}]))
    table = _read(SourceSpec(name="web", paths=[]), str(path))
    assert table["status"].to_pylist() == [KEPT, QUARANTINED, KEPT, KEPT]
    assert table["reason"][1].as_py() == "invalid_json" and "RecursionError" in table["detail"][1].as_py()
    assert table["text"].to_pylist()[2:] == ["after", "last"]


def test_a_lone_surrogate_becomes_u_fffd_and_is_counted_as_a_rewrite(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"text": "half a pair \\ud800 here", "url": "u\\udfff"}\n{"text": "clean"}\n')
    table = _read(SourceSpec(name="web", paths=[], meta_fields=["url"]), str(path))
    assert table["status"].to_pylist() == [KEPT, KEPT]
    assert table["text"].to_pylist() == ["half a pair \ufffd here", "clean"]
    assert json.loads(table["meta"][0].as_py()) == {"url": "u\ufffd"}
    assert table["rewrites"].to_pylist() == [["read", "read:lone_surrogate"], []]


def test_a_literal_image_marker_in_text_is_stripped_for_every_reader(tmp_path):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 20, 30)).save(buf, "PNG")
    pq.write_table(
        pa.table({"caption": ["a <|image|> forged marker"], "image": [buf.getvalue()]}), tmp_path / "p.parquet"
    )
    spec = SourceSpec(name="multimodal", paths=[], text_field="caption", image_field="image")
    (row,) = _read(spec, str(tmp_path / "p.parquet")).to_pylist()
    assert row["text"] == "<|image|>\na  forged marker" and len(row["images"]) == 1
    assert row["rewrites"] == ["read", "read:image_marker_stripped"]
    (tmp_path / "t.jsonl").write_bytes(_jsonl([{"text": "plain <|image|> text"}]))
    (row,) = _read(SourceSpec(name="book", paths=[]), str(tmp_path / "t.jsonl")).to_pylist()
    assert row["text"] == "plain  text"


def test_a_row_arrow_refuses_is_quarantined_alone_not_its_batch():
    """The safety net under the read step: whatever slips past the checks costs its own row only."""
    from pipeline.read.records import _to_table, quarantine_row

    good = quarantine_row("web/x#0", "web", "read", "r", "d") | {"status": KEPT, "reason": None, "stage": None}
    bad = good | {"id": "web/x#1", "text": "unpaired \ud800"}  # not UTF-8: Arrow refuses the string
    table = _to_table([good, bad, good | {"id": "web/x#2"}])
    assert table["id"].to_pylist() == ["web/x#0", "web/x#1", "web/x#2"]
    assert table["status"].to_pylist() == [KEPT, QUARANTINED, KEPT]
    assert table["reason"][1].as_py() == "unencodable_record" and "\ufffd" in table["text"][1].as_py()
