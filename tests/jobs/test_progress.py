"""Progress lines: readable in a log file, with rate and ETA from the reported counts."""

import logging
import time

from jobs.progress import Progress, _Step, fmt_seconds, progress_line, report


def _wait_for_counts(progress: Progress, step: str, expected: list[int]) -> None:
    """Reports are fire-and-forget, and a done line waits for none of them: wait until they land."""
    deadline = time.time() + 60
    while progress._counts().get(step) != expected:
        assert time.time() < deadline, progress._counts()
        time.sleep(0.05)


def test_line_gives_units_docs_megabytes_rate_and_eta():
    step = _Step("files", total_units=120, total_bytes=1_800_000_000, started=100.0)
    line = progress_line("curate/read", step, [30, 12345, 450_000_000], now=200.0)
    assert line == ("curate/read: 30/120 files (25%), 12,345 docs, 450.0 of 1,800.0 MB, 4.5 MB/s, ETA 5m00s")


def test_line_without_totals_or_counts():
    assert progress_line("x", _Step(None, None, None, 0.0), [0, 0, 0], now=3725.0) == "x: running for 1h02m"
    line = progress_line("pack/shards", _Step("groups", None, None, 0.0), [3, 0, 2_000_000], now=2.0)
    assert line == "pack/shards: 3 groups, 2.0 MB, 1.0 MB/s" and fmt_seconds(59.6) == "1m00s"


def test_tasks_report_to_the_driver_and_steps_are_timed(ray_local, caplog):
    import ray

    @ray.remote
    def work(counter, i: int) -> None:
        report(counter, "demo", units=1, docs=10, nbytes=1_000_000)

    progress = Progress(interval_s=0.2)
    caplog.set_level(logging.INFO, logger="corpusmill")
    try:
        with progress.step("demo", "files", total_units=4, total_bytes=4_000_000):
            ray.get([work.remote(progress.counter, i) for i in range(4)])
            time.sleep(0.5)
            _wait_for_counts(progress, "demo", [4, 40, 4_000_000])
    finally:
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("progress demo: ") for m in lines)
    assert any(m.startswith("done demo: 4/4 files (100%), 40 docs, 4.0 of 4.0 MB") for m in lines)
    assert progress.timings["demo"] >= 0.5
    report(None, "demo", units=1)  # outside a tracked run: nothing to do, no error


def test_a_lost_counter_repeats_the_last_figures_and_fails_no_task(ray_local, caplog):
    import ray

    @ray.remote
    def work(counter) -> int:
        report(counter, "demo", units=1, docs=5, nbytes=1_000)
        return 1

    progress = Progress(interval_s=60)
    caplog.set_level(logging.INFO, logger="corpusmill")
    try:
        with progress.step("demo", "files", total_units=4):
            ray.get([work.remote(progress.counter) for _ in range(2)])
            _wait_for_counts(progress, "demo", [2, 10, 2_000])
            ray.kill(progress.counter)
            assert ray.get([work.remote(progress.counter) for _ in range(2)]) == [1, 1]
    finally:
        progress.close()
    assert any(r.getMessage().startswith("done demo: 2/4 files (50%), 10 docs") for r in caplog.records)
