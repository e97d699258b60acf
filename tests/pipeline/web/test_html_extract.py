import json
import signal
import threading
import time

import pyarrow as pa
import pytest
import trafilatura
import zstandard
from pydantic import ValidationError
from resiliparse.extract.html2text import extract_plain_text

from pipeline.read.readers import InputFile, SourceSpec, read_input
from pipeline.schema import KEPT, QUARANTINED
from pipeline.web import html_extract as html_extract
from pipeline.web.html_extract import (
    ExtractConfig,
    ExtractError,
    ExtractTimeout,
    check_shape,
    deadline,
    extract_html,
)
from tests.conftest import REPO

PARAGRAPHS = [
    "The tide along the North Sea coast rises and falls twice a day, and the difference between high and "
    "low water grows from a few decimetres in the north to more than three metres in the German Bight.",
    "Harbour masters publish tables a year ahead; they are computed from harmonic constants measured over "
    "many years at each gauge, and storms can shift the actual water level by a metre or more.",
    "Walkers who cross the mudflats to the islands plan their route around low water and leave with a "
    "guide, because the channels fill faster than a person can walk.",
]
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tide tables\n of the North Sea</title></head>'
    '<body><nav><ul><li><a href="/">Home</a></li><li><a href="/maps">Maps</a></li></ul></nav>'
    "<main><article><h1>Tide tables of the North Sea</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article></main><footer><p>Copyright 2024 Coastal Office. All rights reserved.</p>"
    '<a href="/cookies">Cookie settings</a></footer></body></html>'
)


def slow_for_trafilatura() -> str:
    """1.2 MB of paragraphs: trafilatura walks them in Python for seconds (3 s on a 2-core machine)."""
    body = "".join(f"<p>Paragraph {i} of a very long page, with words enough to be text.</p>" for i in range(20000))
    return f"<html><head><title>long</title></head><body><div>{body}</div></body></html>"


def slow_for_resiliparse() -> str:
    """47 kB of 400-deep div blocks: under the shape limits, but resiliparse's main-content pass takes about 0.1 s in
    one native call."""
    body = ("<div>" + "x<div>" * 399 + "</div>" * 400) * 8
    body += "".join(f"<p>Paragraph {i} inside deep nesting.</p>" for i in range(200))
    return f"<html><head><title>deep</title></head><body>{body}</body></html>"


def page(body: str) -> str:
    return f"<html><head><title>shape</title></head><body>{body}</body></html>"


# Pages past a limit (times: resiliparse without the check, 2 cores). Nesting deeper than browsers build is too
# deep whatever it costs; the other shapes cost seconds of native work that the time guard cannot interrupt.
PATHOLOGICAL = {
    "100k nested divs (80-95 s)": ("<div>" * 100_000 + "</div>" * 100_000, "extract_too_deep"),
    "20k unclosed divs (10 s)": ("<div>x" * 20_000, "extract_too_deep"),
    "nested tables": ("<table><tr><td>" * 2_000 + "x" + "</td></tr></table>" * 2_000, "extract_too_deep"),
    "nested b and span": ("<b><span>" * 1_000, "extract_too_deep"),
    "svg groups": ("<svg>" + "<g>" * 1_000, "extract_too_deep"),
    "divs a stray end tag cannot close": ("<div>x</span>" * 30_000, "extract_too_deep"),
    "deep after astral characters": ("\U0001f600" * 100 + "<div>é" * 1_000, "extract_too_deep"),
    "5 MiB of 256-deep div blocks (9 s)": (("<div>x" * 256 + "</div>" * 256) * 1_700, "extract_too_complex"),
    "formatting re-created in each div (6.4 s)": (
        "<div>" + "".join(f"<font color={i}>" for i in range(256)) + "</div>" + "<div>x</div>" * 8_000,
        "extract_too_complex",
    ),
    "25k options in one select (2.9 s)": ("<select>" + "<option>x" * 25_000 + "</select>", "extract_too_complex"),
    "16k attributes on one element (0.56 s)": (
        "<div " + " ".join(f"a{i}" for i in range(16_000)) + ">x</div>",
        "extract_too_complex",
    ),
    "attributes with '>' in their values": (
        "<div " + " ".join(f'a{i}=">"' for i in range(1_000)) + ">x</div>",
        "extract_too_complex",
    ),
    "attributes after astral characters": (
        "\U0001f600é" * 100 + "<div " + " ".join(f"é{i}" for i in range(1_000)) + ">x</div>",
        "extract_too_complex",
    ),
}


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_shapes_are_quarantined_before_parsing(name, extractor):
    body, reason = PATHOLOGICAL[name]
    start = time.perf_counter()
    with pytest.raises(ExtractError) as err:
        extract_html(page(body), ExtractConfig(extractor=extractor))
    assert time.perf_counter() - start < 1.0  # the parsers never ran: timeout_s is 2 s
    assert err.value.reason == reason


def test_the_reason_names_the_depth_and_the_limit():
    with pytest.raises(ExtractError) as err:
        extract_html(page("<div>" * 100_000 + "</div>" * 100_000), ExtractConfig())
    assert err.value.detail == "tags nest 100002 deep > max_html_depth=512"
    with pytest.raises(ExtractError) as err:
        extract_html(page("<div>" * 600), ExtractConfig(max_html_depth=1_000, max_tree_work=100_000))
    assert err.value.reason == "extract_too_complex"
    assert err.value.detail.endswith("steps of tree work > max_tree_work=100000")


# Real shapes that look deep to a count of '<'s but are not: implied end tags, void and raw-text elements,
# comments, '/>' in svg, formatting closed again, one heading at a time.
BENIGN = {
    "100k p siblings": "".join(f"<p>Paragraph {i} with words." for i in range(100_000)),
    "unclosed li and br": "<ul>" + "<li>item<br>line" * 20_000 + "</ul>",
    "rows without end tags": "<table>" + "<tr><td>a<td>b" * 20_000 + "</table>",
    "tags in a script": "<script>" + "html += '<div>';" * 20_000 + "</script>",
    "tags in comments": "<!-- <div> -->" * 20_000,
    "self-closing svg": "<svg>" + '<path d="M0 0"/>' * 20_000 + "</svg>",
    "closed formatting": "<b>bold</b> <i>it</i> " * 20_000,
    "headings": "<h1>a<h2>b<h3>c" * 1_000,
    "a few thousand options": "<select>" + "<option>x" * 3_000 + "</select>",
    "256 attributes": "<div " + " ".join(f"a{i}" for i in range(256)) + ">x</div>",
}


@pytest.mark.parametrize("shape_check", ["gated", "full"])
@pytest.mark.parametrize("name", list(BENIGN))
def test_benign_shapes_pass(name, shape_check):
    check_shape(page(BENIGN[name]), ExtractConfig(shape_check=shape_check))


@pytest.fixture(scope="module")
def sample_pages() -> list[str]:
    with zstandard.open(f"{REPO}/data/sample/web/pages.jsonl.zst", "rt", encoding="utf-8") as f:
        return [json.loads(line)["html"] for line in f]


def test_sample_pages_extract_as_without_the_check(sample_pages, monkeypatch):
    pages = sample_pages[::8]
    with_check = [extract_html(p, ExtractConfig(shape_check="full")) for p in pages]
    monkeypatch.setattr(html_extract, "check_shape", lambda html, cfg: None)
    assert with_check == [extract_html(p, ExtractConfig()) for p in pages]


def test_utf8_units_are_the_pages_bytes_read_in_place():
    for html in ["ascii <p>", "Grüße <b>日本</b> 🚀", "", "a lone \ud800 surrogate"]:
        assert bytes(html_extract.utf8_units(html)) == html.encode("utf-8", "surrogatepass")


def test_the_count_of_angle_brackets_bounds_the_exact_scan(sample_pages):
    pages = [*sample_pages[::8], *(page(body) for body in BENIGN.values())]
    pages += [page(body) for body, _ in PATHOLOGICAL.values() if "</span>" not in body]  # end tags match: bounded
    for html in pages:
        units = html_extract.utf8_units(html)
        lt = html_extract.np.flatnonzero(units == 60)
        bound, exact = html_extract._upper_bounds(units, lt), html_extract._tree_shape(units, lt)
        assert bound[0] >= exact[0] and bound[1] >= exact[1]
        tighter = html_extract._upper_bounds(units, lt, work_limit=0)  # formatting elements counted by name
        assert bound[1] >= tighter[1] >= exact[1]


def test_end_tags_that_close_nothing_get_past_the_count_only_on_small_pages():
    hidden = page("<div>x</span>" * 2_000)  # 2,000 divs deep, yet the '<x' and '</' counts balance
    check_shape(hidden, ExtractConfig())
    with pytest.raises(ExtractError) as err:
        check_shape(hidden, ExtractConfig(shape_check="full"))
    assert err.value.detail == "tags nest 2002 deep > max_html_depth=512"
    with pytest.raises(ExtractError) as err:  # 20,000 '<'s: the count's <option> term alone sends it to the scan
        check_shape(page("<div>x</span>" * 10_000), ExtractConfig())
    assert err.value.reason == "extract_too_deep"


def test_limits_at_zero_turn_the_checks_off():
    off = ExtractConfig(max_html_depth=0, max_tree_work=0, max_html_attributes=0, shape_check="full")
    for body, _ in PATHOLOGICAL.values():
        check_shape(page(body), off)
    with pytest.raises(ValidationError):
        ExtractConfig(max_html_depth=-1)


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_main_text_and_title_without_page_chrome(extractor):
    text, title = extract_html(PAGE, ExtractConfig(extractor=extractor))
    assert title == "Tide tables of the North Sea"
    assert [line for line in text.splitlines() if line] == ["Tide tables of the North Sea", *PARAGRAPHS]


def test_config_picks_the_extractor_and_its_settings():
    by_resiliparse = extract_plain_text(PAGE, main_content=True, alt_texts=False, comments=False)
    by_trafilatura = trafilatura.extract(PAGE, favor_precision=True, include_comments=False, deduplicate=False)
    assert by_resiliparse != by_trafilatura  # blank lines between paragraphs or not
    assert extract_html(PAGE, ExtractConfig())[0] == by_resiliparse.strip()
    assert extract_html(PAGE, ExtractConfig.model_validate({"extractor": "trafilatura"}))[0] == by_trafilatura
    with pytest.raises(ValidationError):
        ExtractConfig.model_validate({"extractor": "readability"})


def test_size_guard_counts_utf8_bytes():
    page = "<html><body><p>" + "é" * 600 + "</p></body></html>"
    size = len(page) + 600  # each é is two bytes
    with pytest.raises(ExtractError) as err:
        extract_html(page, ExtractConfig(max_html_bytes=size - 1))
    assert err.value.reason == "extract_too_large"
    assert extract_html(page, ExtractConfig(max_html_bytes=size))[0] == "é" * 600


def test_trafilatura_is_interrupted_mid_page():
    start = time.perf_counter()
    with pytest.raises(ExtractError) as err:
        extract_html(slow_for_trafilatura(), ExtractConfig(extractor="trafilatura", timeout_s=0.05))
    assert err.value.reason == "extract_timeout"
    assert time.perf_counter() - start < 1.0  # stopped, not merely flagged after seconds of work
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _jsonl(tmp_path, pages: list[str]) -> str:
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps({"html": p, "url": f"https://e.org/{i}"}) + "\n" for i, p in enumerate(pages)))
    return str(path)


@pytest.mark.parametrize(
    ("extractor", "slow", "timeout"),
    [("trafilatura", slow_for_trafilatura, 1.0), ("resiliparse", slow_for_resiliparse, 0.03)],
)
def test_slow_page_is_quarantined_and_the_next_pages_are_read(tmp_path, extractor, slow, timeout):
    spec = SourceSpec(
        name="web",
        paths=[],
        text_field="html",
        content="html",
        meta_fields=["url"],
        extract={"extractor": extractor, "timeout_s": timeout},
    )
    table = pa.concat_tables(read_input(spec, InputFile("web", _jsonl(tmp_path, [PAGE, slow(), PAGE]), "p.jsonl")))
    assert table["status"].to_pylist() == [KEPT, QUARANTINED, KEPT]
    assert table["reason"][1].as_py() == "extract_timeout"
    expected = extract_html(PAGE, ExtractConfig(extractor=extractor))[0]
    assert table["text"][0].as_py() == table["text"][2].as_py() == expected


def test_large_page_is_quarantined_unparsed(tmp_path):
    spec = SourceSpec(name="web", paths=[], text_field="html", content="html", extract={"max_html_bytes": 100_000})
    table = pa.concat_tables(read_input(spec, InputFile("web", _jsonl(tmp_path, [slow_for_trafilatura(), PAGE]), "p")))
    assert list(zip(table["status"].to_pylist(), table["reason"].to_pylist())) == [
        (QUARANTINED, "extract_too_large"),
        (KEPT, None),
    ]


def test_deadline_arms_only_on_the_main_thread_and_restores_the_handler():
    before = signal.getsignal(signal.SIGALRM)
    with deadline(5) as armed:
        assert armed and signal.getitimer(signal.ITIMER_REAL)[0] > 0
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(deadline(5).__enter__()))
    thread.start()
    thread.join()
    assert seen == [False]
    with deadline(0) as armed:
        assert not armed


def test_deadline_leaves_a_running_timer_alone():
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with deadline(0.01) as armed:
            assert not armed
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 29
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _SlowFinalizer:
    def __del__(self) -> None:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:  # the alarm lands here, where Python can only print it
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_alarm_swallowed_by_a_finalizer_still_times_out():
    start = time.perf_counter()
    with pytest.raises(ExtractTimeout), deadline(0.02):
        _SlowFinalizer()  # dropped at once: all the guarded time is spent in its __del__
    assert time.perf_counter() - start < 1.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
