import base64
import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.read.readers import InputFile, SourceSpec, detect_format, expand_inputs, read_input
from pipeline.schema import IMAGE_MARKER, KEPT, QUARANTINED, WORK_SCHEMA
from pipeline.web.html_extract import ExtractConfig
from pipeline.web.html_image_sources import ImageSkipped, image_source, load_image
from pipeline.web.html_interleaved import HtmlImagesConfig
from tests.conftest import REPO

PAIRS = {r["key"]: r for r in pq.read_table(f"{REPO}/data/sample/multimodal/pairs.parquet").to_pylist()}
PNG = PAIRS["matplotlib/home"]["image"]  # real images from the sample
GIF = PAIRS["apache/mod_filter_new.gif"]["image"]
SHA = {hashlib.sha256(PNG).hexdigest(): "png", hashlib.sha256(GIF).hexdigest(): "gif"}


def _site(tmp_path, html: str, page: str = "docs/page.html") -> str:
    (tmp_path / "img").mkdir(parents=True, exist_ok=True)
    (tmp_path / "img/home.png").write_bytes(PNG)
    (tmp_path / "img/filter model.gif").write_bytes(GIF)
    (tmp_path / "img/broken.png").write_bytes(PNG[:40])
    (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / page).write_text(html, encoding="utf-8")
    return page


def _read(tmp_path, page: str, **spec) -> dict:
    spec = SourceSpec(name="multimodal", paths=[f"**/{os.path.basename(page)}"], **spec)  # root: tmp_path
    (inp,) = expand_inputs(spec, str(tmp_path))
    tables = list(read_input(spec, inp))
    assert all(t.schema == WORK_SCHEMA for t in tables)
    (row,) = pa.concat_tables(tables).to_pylist()
    row["meta"] = json.loads(row["meta"])
    row["kinds"] = [SHA[i["sha256"]] for i in row["images"]]
    return row


PAGE = """<html><head><title>Filters
 guide</title><style>p { color: red }</style><script>var x = "script text";</script></head>
<body><nav><a href="/">Home</a> <img src="../img/home.png" alt="nav icon"></nav>
<header><p>Site banner</p></header>
<article><header><h1>Smart filtering</h1></header>
<p>Filters form a <b>chain</b>,<br>one after another.</p>
<img src="../img/filter%20model.gif?v=2" alt="The mod_filter model">
<p>Text between <em>the</em> images.</p>
<figure><img src="data:image/png;base64,{b64}" alt="Home button"><figcaption>Home button</figcaption></figure>
<p>Remote: <img src="https://example.org/a.png" alt="remote alt"><img src="//cdn.example.org/b.png"></p>
<img src="../img/broken.png" alt="broken alt"><img src="../img/none.png"><img alt="no source">
<pre>line 1
  line 2</pre>
<table><tr><td>a</td><td>b</td></tr></table>
</article><footer>Copyright footer</footer><div class="menu">Menu entry</div></body></html>"""


def test_text_and_images_in_reading_order(tmp_path):
    page = _site(tmp_path, PAGE.replace("{b64}", base64.b64encode(PNG).decode()))
    row = _read(tmp_path, page)
    assert row["status"] == KEPT and row["id"] == "multimodal/docs/page.html#0"
    assert row["text"] == (
        "Smart filtering\n\n"
        "Filters form a chain,\none after another.\n"
        f"{IMAGE_MARKER}\nThe mod_filter model\n"
        "Text between the images.\n"
        f"{IMAGE_MARKER}\nHome button\n"  # the alt equals the caption: not repeated
        "Remote:\n"
        "line 1\n  line 2\n"
        "a b"
    )
    assert row["kinds"] == ["gif", "png"]
    assert row["meta"] == {
        "title": "Filters guide",
        "images_skipped": 5,  # the <nav> icon is chrome: not counted
        "images_skipped_reasons": {"missing": 2, "remote": 2, "unreadable": 1},
    }


def test_alt_off_and_figcaption_kept_in_place(tmp_path):
    page = _site(
        tmp_path,
        "<p>Before</p><figure><figcaption>Figure 1. Home</figcaption>"
        '<img src="../img/home.png" alt="A house"></figure><p>After</p>',
    )
    assert _read(tmp_path, page)["text"] == f"Before\nFigure 1. Home\n{IMAGE_MARKER}\nA house\nAfter"
    off = _read(tmp_path, page, html_images=HtmlImagesConfig(keep_alt=False))
    assert off["text"] == f"Before\nFigure 1. Home\n{IMAGE_MARKER}\nAfter"


def test_images_stay_below_the_source_root(tmp_path):
    root = tmp_path / "site"
    page = _site(
        root,
        '<p>x</p><img src="../../secret.png"><img src="/etc/passwd"><img src="link.png"><img src="../img/home.png">',
    )
    (tmp_path / "secret.png").write_bytes(PNG)
    os.symlink(tmp_path / "secret.png", root / "docs/link.png")
    row = _read(root, page)
    assert row["kinds"] == ["png"] and row["meta"]["images_skipped_reasons"] == {"outside_root": 3}


def test_page_without_text_or_images_is_quarantined_a_bad_image_is_not(tmp_path):
    empty = _site(tmp_path, '<body><img src="http://example.org/x.png" alt="only remote"></body>', "a.html")
    row = _read(tmp_path, empty)
    assert (row["status"], row["reason"]) == (QUARANTINED, "empty_document")
    only_image = _site(tmp_path, '<img src="img/home.png"><img src="img/broken.png">', "b.html")
    row = _read(tmp_path, only_image)
    assert (row["status"], row["text"], row["kinds"]) == (KEPT, IMAGE_MARKER, ["png"])
    assert row["meta"]["images_skipped_reasons"] == {"unreadable": 1}


def test_literal_markers_in_the_page_are_not_images(tmp_path):
    page = _site(tmp_path, f'<p>The token {IMAGE_MARKER} marks an image.</p><img src="img/home.png">', "m.html")
    row = _read(tmp_path, page)
    assert row["text"] == f"The token marks an image.\n{IMAGE_MARKER}" and len(row["images"]) == 1


def test_page_over_the_size_guard(tmp_path):
    page = _site(tmp_path, "<p>" + "word " * 400 + "</p>", "big.html")
    row = _read(tmp_path, page, extract=ExtractConfig(max_html_bytes=1000))
    assert row["reason"] == "extract_too_large"


@pytest.mark.parametrize(
    ("attrs", "src"),
    [
        ({"src": " a.png ", "srcset": "b.png 2x"}, "a.png"),
        ({"srcset": "b.png 1x, c.png 2x"}, "b.png"),
        ({"data-src": "lazy.png"}, "lazy.png"),
        ({"srcset": "data:image/png;base64,AAAA 1x"}, "data:image/png;base64,AAAA"),
    ],
)
def test_image_source_attributes(attrs, src):
    assert image_source(attrs) == src


@pytest.mark.parametrize(
    ("src", "reason"),
    [
        ("data:image/png;base64,!!notbase64", "unreadable"),
        ("data:image/png;base64", "unreadable"),
        ("ftp://example.org/a.png", "remote"),
        ("", "missing"),
        ("x.png", "missing"),
        ("../x.png", "outside_root"),
    ],
)
def test_unresolvable_sources(tmp_path, src, reason):
    with pytest.raises(ImageSkipped) as e:
        load_image(src, str(tmp_path), str(tmp_path), 1 << 20)
    assert e.value.reason == reason


def test_data_uri_over_the_cap(tmp_path):
    with pytest.raises(ImageSkipped, match="too_large"):
        load_image("data:image/png;base64," + base64.b64encode(PNG).decode(), str(tmp_path), str(tmp_path), 100)


def test_html_is_interleaved_in_a_multimodal_source_only():
    assert detect_format(SourceSpec(name="multimodal", paths=[]), "a.htm.gz") == "html_images"
    assert detect_format(SourceSpec(name="web", paths=[]), "a.html") == "html"


def test_sample_pages():
    spec = SourceSpec(name="multimodal", paths=["multimodal/html/**/*.html"])
    rows = {}
    for inp in expand_inputs(spec, f"{REPO}/data/sample"):
        (row,) = pa.concat_tables(list(read_input(spec, inp))).to_pylist()
        rows[inp.rel] = (row["status"], len(row["images"]), row["text"].count(IMAGE_MARKER), json.loads(row["meta"]))
    assert {k: v[:3] for k, v in rows.items()} == {
        "apache/en/filter.html": (KEPT, 11, 11),
        "apache/en/howto/reverse_proxy.html": (KEPT, 18, 18),
        "handbook/en-US/sect.remote-login.html": (KEPT, 4, 4),
    }
    assert rows["apache/en/howto/reverse_proxy.html"][3]["images_skipped_reasons"] == {"missing": 3}
    assert rows["handbook/en-US/sect.remote-login.html"][3]["title"] == "9.2.\xa0Remote Login"


def test_sample_page_figure_in_place():
    path = f"{REPO}/data/sample/multimodal/html/handbook/en-US/sect.remote-login.html"
    spec = SourceSpec(name="multimodal", paths=[])
    (row,) = next(read_input(spec, InputFile("multimodal", path, "handbook/en-US/sect.remote-login.html"))).to_pylist()
    assert (
        f"from one end to the other.\n{IMAGE_MARKER}\nForwarding a local port with SSH\n"
        "Figure\xa09.3.\xa0Forwarding a local port with SSH\n"
    ) in row["text"]


def test_a_pathologically_nested_page_is_refused_before_lxml_parses_it(tmp_path):
    page = _site(tmp_path, "<div>" * 100_000 + "deep" + "</div>" * 100_000, "deep.html")
    row = _read(tmp_path, page)
    assert row["status"] == QUARANTINED and row["reason"] == "extract_too_deep"


def test_the_run_pixel_cap_reaches_a_page_images(tmp_path):
    """Curation passes image_checks.max_pixels down: an image over it is left out from its header."""
    _site(tmp_path, '<p>Text.</p><img src="img/home.png">', "capped.html")
    spec = SourceSpec(name="multimodal", paths=["**/capped.html"])
    (inp,) = expand_inputs(spec, str(tmp_path))
    (row,) = pa.concat_tables(list(read_input(spec, inp, max_pixels=100))).to_pylist()
    meta = json.loads(row["meta"])
    assert row["images"] == [] and meta["images_skipped_reasons"] == {"too_many_pixels": 1}
