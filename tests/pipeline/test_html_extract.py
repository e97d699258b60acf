import json
import signal
import threading
import time

import pyarrow as pa
import pytest
import trafilatura
from pydantic import ValidationError
from resiliparse.extract.html2text import extract_plain_text

from pipeline.html_extract import ExtractConfig, ExtractError, ExtractTimeout, deadline, extract_html
from pipeline.readers import InputFile, SourceSpec, read_input
from pipeline.schema import KEPT, QUARANTINED

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
    "<main><article><h1>Tide tables of the North Sea</h1>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article></main><footer><p>Copyright 2024 Coastal Office. All rights reserved.</p>"
    '<a href="/cookies">Cookie settings</a></footer></body></html>'
)


def slow_for_trafilatura() -> str:
    """1.2 MB of paragraphs: trafilatura walks them in Python for seconds (3 s on a 2-core machine)."""
    body = "".join(f"<p>Paragraph {i} of a very long page, with words enough to be text.</p>" for i in range(20000))
    return f"<html><head><title>long</title></head><body><div>{body}</div></body></html>"


def slow_for_resiliparse() -> str:
    """67 kB, but 1,500 nested divs: resiliparse's main-content pass takes about 0.3 s in one native call."""
    body = "<div>" * 1500 + "".join(f"<p>Paragraph {i} inside deep nesting.</p>" for i in range(200)) + "</div>" * 1500
    return f"<html><head><title>deep</title></head><body>{body}</body></html>"


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


@pytest.mark.parametrize(("extractor", "slow", "timeout"),
                         [("trafilatura", slow_for_trafilatura, 1.0), ("resiliparse", slow_for_resiliparse, 0.03)])
def test_slow_page_is_quarantined_and_the_next_pages_are_read(tmp_path, extractor, slow, timeout):
    spec = SourceSpec(name="web", paths=[], text_field="html", content="html", meta_fields=["url"],
                      extract={"extractor": extractor, "timeout_s": timeout})
    table = pa.concat_tables(read_input(spec, InputFile("web", _jsonl(tmp_path, [PAGE, slow(), PAGE]), "p.jsonl")))
    assert table["status"].to_pylist() == [KEPT, QUARANTINED, KEPT]
    assert table["reason"][1].as_py() == "extract_timeout"
    expected = extract_html(PAGE, ExtractConfig(extractor=extractor))[0]
    assert table["text"][0].as_py() == table["text"][2].as_py() == expected


def test_large_page_is_quarantined_unparsed(tmp_path):
    spec = SourceSpec(name="web", paths=[], text_field="html", content="html", extract={"max_html_bytes": 100_000})
    table = pa.concat_tables(read_input(spec, InputFile("web", _jsonl(tmp_path, [slow_for_trafilatura(), PAGE]), "p")))
    assert list(zip(table["status"].to_pylist(), table["reason"].to_pylist())) == [
        (QUARANTINED, "extract_too_large"), (KEPT, None)]


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
