"""Whole pipeline speed (curate → tokenizer → pack): MB of raw input per second per core, and 100 TB projected.

Usage: python -m benchmarks.end_to_end [--gb 1] [--work $TMPDIR/corpusmill-e2e-bench] [--cpus N]
                                       [--out benchmarks/results/end_to_end.json] [--skip-sample]
                                       [--net-device DEV]

Two runs of ``jobs.run.run`` (force=True) on local Ray with ``--cpus`` CPUs: the bundled sample, then at least
``--gb`` GB of raw input built (and cached, ``raw.json``) from the real files ``dedup_speed._real_text`` finds
here: HTML pages as web records (JSONL, zstd), prose (.txt/.md/.rst, 2 KB or more) as books (JSONL, gzip), source
files as code rows as The Stack has them (Parquet, MIT licence, repository: two folders below site-packages,
pythonX.Y or the root), and the sample's multimodal sources; exact duplicates, non-UTF-8 and NUL-byte files left out.

Measured: each run's wall-clock seconds; its input MB on disk and uncompressed (JSONL decompressed, Parquet's
uncompressed column bytes), the rate per core from the uncompressed MB; each step's share of the step timings
the run records (``stats["timings"]``); "other" is the wall time no step accounts for (Ray start, driver).

Caveats: the mix is what this machine holds (code and documentation, little HTML next to a crawl); the tokenizer
trains on a capped sample, a fixed cost a larger corpus spreads thinner; the 100 TB projection assumes the
per-core rate of this 2-core machine holds on 64-core nodes at any size, which nothing here shows (shuffles
cross the network on a cluster; dedup and packing hold state that grows with the corpus).
Also the driver's peak resident memory during each run and each step (VmHWM, reset as each starts), and with
``--net-device`` the bytes that network device sent and received during each step (on the two-node cluster of
``cluster_scaling.py``, the link between the nodes).
Last line: JSON with mb_per_s_per_core (the raw run), stage_share, driver_peak_rss_mb and the projection.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from typing import IO, Any

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import ray  # noqa: E402
import zstandard  # noqa: E402

from benchmarks.dedup_speed import CODE, PART_BYTES, ROOTS, _real_text, cached_corpus, distinct_utf8  # noqa: E402
from jobs.config import RunConfig, load_config  # noqa: E402
from pipeline.code.language import code_language  # noqa: E402
from pipeline.read.compressed import open_binary  # noqa: E402
from pipeline.read.readers import expand_inputs  # noqa: E402

BOOKS, BOOK_MIN = {".txt", ".md", ".rst"}, 2048
FILES = {"web": "web/part-{:05d}.jsonl.zst", "book": "books/part-{:05d}.jsonl.gz", "code": "code/part-{:05d}.parquet"}
CODE_SCHEMA = pa.schema([(c, pa.string()) for c in ("repo", "path", "license", "language", "content")])
_NEST = re.compile(r"site-packages|dist-packages|python\d(\.\d+)?")
TB_100_MB, NODE_CORES = 100e6, 64


def _repo(where: str) -> str:
    """Two folders naming a file's repository: below the last site-packages or pythonX.Y folder if any
    (``numpy/core``), else below the root it was found under (or the archive member's own folders)."""
    if "!" in where:
        archive, member = where.split("!", 1)
        parts = member.split("/")[:-1] or [os.path.basename(archive)]
    else:
        root = max((r for r in ROOTS if where.startswith(r.rstrip("/") + "/")), key=len, default="/")
        parts = os.path.relpath(where, root).split(os.sep)[:-1] or [os.path.basename(root)]
    for i in range(len(parts) - 1, -1, -1):
        if _NEST.fullmatch(parts[i]):
            parts = parts[i + 1 :] or parts[i : i + 1]
            break
    return "/".join(parts[:2])


def _kind(where: str, data: bytes) -> str | None:
    ext = os.path.splitext(where)[1].lower()
    return (
        "web"
        if ext in (".html", ".htm")
        else "code"
        if ext in CODE
        else "book"
        if ext in BOOKS and len(data) >= BOOK_MIN
        else None
    )


def build_raw_corpus(work: str, limit_bytes: int) -> dict:
    """Raw web (JSONL zstd), book (JSONL gzip) and code (Parquet) files under ``work/raw`` up to ``limit_bytes``."""
    raw, manifest = os.path.join(work, "raw"), os.path.join(work, "raw.json")
    if info := cached_corpus(manifest, limit_bytes):
        return info
    shutil.rmtree(raw, ignore_errors=True)
    parts, pending, by_source, files = ({s: 0 for s in FILES} for _ in range(4))
    handles: dict[str, IO[bytes]] = {}
    rows: list[dict] = []

    def close(source: str) -> None:
        path = os.path.join(raw, FILES[source].format(parts[source]))
        if source == "code":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, schema=CODE_SCHEMA), path, compression="zstd")
            rows.clear()
        else:
            handles.pop(source).close()
        parts[source], pending[source] = parts[source] + 1, 0

    wanted = ((_kind(where, data), where, data) for _, where, data in _real_text())
    for source, where, data, text in distinct_utf8(i for i in wanted if i[0] and i[2] and b"\0" not in i[2]):
        if source == "code":
            lang = code_language(where.split("!")[-1], text[:200].split("\n", 1)[0]) or ""
            rows.append({"repo": _repo(where), "path": where, "license": "MIT", "language": lang, "content": text})
        else:
            if source not in handles:
                path = os.path.join(raw, FILES[source].format(parts[source]))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                handles[source] = (
                    zstandard.open(path, "wb")  # noqa: SIM115
                    if source == "web"  # closed in close()
                    else gzip.open(path, "wb", compresslevel=6)  # noqa: SIM115
                )
            record = (
                {"html": text, "url": f"file://{where}"}
                if source == "web"
                else {"text": text, "title": os.path.basename(where), "author": "", "language": "en"}
            )
            handles[source].write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        by_source[source] += len(data)
        pending[source] += len(data)
        files[source] += 1
        if pending[source] >= PART_BYTES:
            close(source)
        if sum(by_source.values()) >= limit_bytes:
            break
    for source in FILES:
        if pending[source]:
            close(source)
    info = {
        "limit": limit_bytes,
        "bytes": sum(by_source.values()),
        "bytes_by_source": by_source,
        "files": sum(files.values()),
        "files_by_source": files,
    }
    with open(manifest, "w") as f:
        json.dump(info, f)
    return info


def raw_config(work: str, info: dict) -> RunConfig:
    """The sample config with the raw corpus as its web, book and code sources (the sample's multimodal kept)."""
    cfg = load_config()
    raw = os.path.join(work, "raw")
    first = {s.name: s for s in cfg.sources}
    sources = [
        first[name].model_copy(update={"paths": [os.path.join(raw, FILES[name].replace("{:05d}", "*"))]})
        for name in FILES
        if info["files_by_source"][name]
    ]
    sources += [
        s.model_copy(update={"paths": [os.path.normpath(os.path.join(cfg.base_dir, p)) for p in s.paths]})
        for s in cfg.sources
        if s.name == "multimodal"
    ]
    if cfg.curate.decontam is not None:  # the evaluation sets are relative to the sample config's folder
        for s in cfg.curate.decontam.sets:
            s.path = os.path.normpath(os.path.join(cfg.base_dir, s.path))
    cfg.sources, cfg.base_dir, cfg.output_dir = sources, raw, os.path.join(work, "raw-out")
    cfg.tokenizer.sample_chars = min(200_000_000, max(cfg.tokenizer.sample_chars, info["bytes"] // 5))
    cfg.pack.num_pack_groups = max(4, info["bytes"] // (256 << 20))
    cfg.curate.exact_dedup.num_buckets = 64
    return cfg


def input_bytes(cfg: RunConfig) -> tuple[int, int]:
    """Bytes of the run's input files on disk, and uncompressed (JSONL decompressed, Parquet column data)."""
    paths = {i.path for s in cfg.sources for i in expand_inputs(s, cfg.base_dir) if os.path.isfile(i.path)}
    disk = uncompressed = 0
    for path in sorted(paths):
        disk += os.path.getsize(path)
        if path.endswith((".gz", ".zst")):
            with open_binary(path) as f:
                uncompressed += sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))
        elif path.endswith(".parquet"):
            meta = pq.ParquetFile(path).metadata
            uncompressed += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        else:
            uncompressed += os.path.getsize(path)
    return disk, uncompressed


def _driver_peak_reset() -> None:
    """Start the driver's peak resident memory (VmHWM) afresh: the run, not corpus building, is measured."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _driver_peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


class DriverPeakBySteps(logging.Handler):
    """The driver's peak resident memory during each step: VmHWM read and reset at each ``done <step>`` line,
    so each figure covers the step and the driver's work since the previous one ended."""

    def __init__(self) -> None:
        super().__init__()
        self.peaks: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "done %s in %s":
            self.peaks[str(record.args[0]).split(":")[0]] = round(_driver_peak_mb(), 1)
            _driver_peak_reset()

    def __enter__(self) -> DriverPeakBySteps:
        _driver_peak_reset()
        logging.getLogger("corpusmill").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.peaks["after the last step"] = round(_driver_peak_mb(), 1)
        logging.getLogger("corpusmill").removeHandler(self)


class NetworkBySteps(logging.Handler):
    """Bytes a network device sent and received while each step ran: counters sampled every 0.2 s,
    steps delimited by the ``done <step>`` lines the run logs (a step's window is its logged wall
    time ending there). On the two-node cluster the device is the link between the nodes."""

    def __init__(self, device: str) -> None:
        super().__init__()
        self.stats = f"/sys/class/net/{device}/statistics"
        self.samples: list[tuple[float, int, int]] = []
        self.ends: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _counters(self) -> tuple[int, int]:
        with open(f"{self.stats}/tx_bytes") as tx, open(f"{self.stats}/rx_bytes") as rx:
            return int(tx.read()), int(rx.read())

    def _sample(self) -> None:
        while True:
            self.samples.append((time.time(), *self._counters()))
            if self._stop.wait(0.2):
                return

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "done %s in %s":
            self.ends[str(record.args[0]).split(":")[0]] = record.created

    def __enter__(self) -> NetworkBySteps:
        logging.getLogger("corpusmill").addHandler(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), *self._counters()))
        logging.getLogger("corpusmill").removeHandler(self)

    def by_step(self, timings: dict[str, float]) -> dict[str, dict[str, int]]:
        """Per step, bytes sent and received (MB) in its window; ``whole run`` over every sample."""

        def at(t: float) -> tuple[int, int]:
            return next(((tx, rx) for when, tx, rx in self.samples if when >= t), self.samples[-1][1:])

        out = {}
        for step, end in self.ends.items():
            (tx0, rx0), (tx1, rx1) = at(end - timings.get(step, 0.0)), at(end)
            out[step] = {"sent_mb": round((tx1 - tx0) / 1e6, 1), "received_mb": round((rx1 - rx0) / 1e6, 1)}
        first, last = self.samples[0], self.samples[-1]
        out["whole run"] = {
            "sent_mb": round((last[1] - first[1]) / 1e6, 1),
            "received_mb": round((last[2] - first[2]) / 1e6, 1),
        }
        return out


def measure(name: str, cfg: RunConfig, out_dir: str, cores: int, net_device: str | None = None) -> dict[str, Any]:
    """One whole run, timed: its rate per core, step seconds and shares, its counts, the driver's peak
    memory, and (with ``net_device``) the bytes that device moved per step."""
    from jobs.run import run

    cfg.ray.num_cpus, cfg.output_dir = cores, out_dir
    disk, uncompressed = input_bytes(cfg)
    network = NetworkBySteps(net_device) if net_device else contextlib.nullcontext()
    started = time.perf_counter()
    with network, DriverPeakBySteps() as memory:
        stats = run(cfg, out_dir, force=True)
    wall = time.perf_counter() - started
    peak_mb = max(memory.peaks.values())
    steps = {k: float(v) for k, v in stats["timings"].items()}
    total = sum(steps.values()) or 1.0
    totals, pack = stats["curate"]["totals"], stats["pack"]
    return {
        "name": name,
        "input_mb_on_disk": round(disk / 1e6, 2),
        "input_mb_uncompressed": round(uncompressed / 1e6, 2),
        "wall_s": round(wall, 1),
        "cores": cores,
        "mb_per_s_per_core": round(uncompressed / 1e6 / wall / cores, 3),
        "stage_seconds": {**steps, "other": round(max(0.0, wall - total), 2)},
        "stage_share": {k: round(v / total, 4) for k, v in steps.items()},
        "other_share_of_wall": round(max(0.0, wall - total) / wall, 4),
        "records": {k: totals[k] for k in ("in", "kept", "dropped", "quarantined")},
        "tokens": pack["tokens"],
        "rows": pack["rows"],
        "fill": pack["fill"],
        "driver_peak_rss_mb": round(peak_mb, 1),
        "driver_peak_rss_mb_by_step": memory.peaks,
        **({"network_mb_by_step": network.by_step(steps)} if isinstance(network, NetworkBySteps) else {}),
    }


def projection(rate: float) -> dict[str, Any]:
    """100 TB of raw input at ``rate`` MB/s per core, spread over 64-core nodes (linear scaling assumed)."""
    core_hours = TB_100_MB / rate / 3600
    return {
        "input_tb": 100,
        "core_hours": round(core_hours),
        "cores_per_node": NODE_CORES,
        "hours_by_nodes": {n: round(core_hours / (n * NODE_CORES), 2) for n in (10, 100, 1000)},
        "assumption": "the per-core rate measured on this small machine holds unchanged on 64-core nodes "
        "and at 100 TB (linear scaling); not measured",
    }


def print_tables(runs: list[dict[str, Any]], proj: dict[str, Any]) -> None:
    head = (
        "run",
        "MB disk",
        "MB raw",
        "wall s",
        "cores",
        "MB/s/core",
        "in",
        "kept",
        "dropped",
        "quar.",
        "tokens",
        "rows",
        "fill",
    )
    print("\n" + "".join(f"{h:>12}" for h in head))
    for r in runs:
        cells = (
            r["name"],
            r["input_mb_on_disk"],
            r["input_mb_uncompressed"],
            r["wall_s"],
            r["cores"],
            r["mb_per_s_per_core"],
            *r["records"].values(),
            r["tokens"],
            r["rows"],
            f"{r['fill']:.1%}",
        )
        print("".join(f"{c:>12}" for c in cells))
    print(f"\n{'step (s, share of wall)':<24}" + "".join(f"{r['name']:>22}" for r in runs))
    for step in dict.fromkeys(k for r in runs for k in r["stage_seconds"]):
        print(
            f"{step:<24}"
            + "".join(
                f"{r['stage_seconds'].get(step, 0):>13.1f}{r['stage_seconds'].get(step, 0) / r['wall_s']:>9.1%}"
                for r in runs
            )
        )
    for r in runs:
        print(f"{r['name']}: driver peak resident memory {r['driver_peak_rss_mb']:,.0f} MB; by step (MB): ", end="")
        print(", ".join(f"{step} {mb:,.0f}" for step, mb in r["driver_peak_rss_mb_by_step"].items()))
        for step, moved in r.get("network_mb_by_step", {}).items():
            print(f"  network, {step:<22} sent {moved['sent_mb']:>9,.1f} MB, received {moved['received_mb']:>9,.1f} MB")
    print(
        f"\n100 TB at {runs[-1]['mb_per_s_per_core']} MB/s per core: {proj['core_hours']:,} core-hours; "
        + ", ".join(f"{n} nodes x {NODE_CORES} cores: {h} h" for n, h in proj["hours_by_nodes"].items())
        + f". Assumes {proj['assumption']}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="raw input to build, in GB (at least this much)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "corpusmill-e2e-bench"))
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="Ray CPUs, and the cores rates divide by")
    parser.add_argument("--out", default="benchmarks/results/end_to_end.json")
    parser.add_argument("--skip-sample", action="store_true", help="only the raw corpus run")
    parser.add_argument("--net-device", help="also count the bytes this network device moves per step")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s corpusmill %(message)s", stream=sys.stderr)
    runs = []
    if not args.skip_sample:
        runs.append(measure("sample", load_config(), os.path.join(args.work, "sample-out"), args.cpus))
    started = time.perf_counter()
    info = build_raw_corpus(args.work, int(args.gb * 1e9))
    print(
        f"raw corpus: {info['bytes'] / 1e9:.2f} GB in {info['files']} files ("
        + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in info["bytes_by_source"].items())
        + f"), ready in {time.perf_counter() - started:.0f} s"
    )
    cfg = raw_config(args.work, info)
    runs.append(measure(f"raw {info['bytes'] / 1e9:.2f} GB", cfg, cfg.output_dir, args.cpus, args.net_device))
    ray.shutdown()  # Ray's log forwarding prints until then: the JSON below must be the last line
    main_run, proj = runs[-1], projection(runs[-1]["mb_per_s_per_core"])
    print_tables(runs, proj)
    last = {
        k: main_run[k]
        for k in (
            "mb_per_s_per_core",
            "stage_share",
            "other_share_of_wall",
            "wall_s",
            "cores",
            "input_mb_uncompressed",
            "driver_peak_rss_mb",
        )
    }
    last.update(core_hours_100tb=proj["core_hours"], hours_100tb_by_nodes=proj["hours_by_nodes"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"runs": runs, "raw_corpus": info, "projection": proj, "summary": last}, f, indent=2)
    print(json.dumps(last), flush=True)


if __name__ == "__main__":
    main()
