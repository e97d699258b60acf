"""Near-dedup speed: MinHash signatures per core against datasketch and datatrove, then whole passes.

Usage: python -m benchmarks.dedup_speed [--e2e-gb 1 4] [--work /tmp/corpusmill-dedup-bench]
                                        [--out benchmarks/results/dedup_speed.json]
Needs datasketch and datatrove (benchmark only, not project dependencies).

Signatures, one core, the sample's web pages, books and code files: each tool turns text into
112 permutations (14 × 8) of 5-word shingles. Ours: ``shingle_hashes`` + ``signatures`` on
batches of 64 documents. datasketch 2.0: its ``MinHash(num_perm=112, seed)`` (scheme affine32:
the same permutations as ours for the same seed) fed with the same shingles as strings, built
from our normalization, hashed by xxh32 (its fastest documented choice; sha1 is its default).
datatrove (FineWeb's step): ``MinhashDedupSignature.get_shingles`` + ``get_signature``, its own
normalization, spaCy word splitting and 64-bit xxhash. A second line times the permutation
step alone on identical shingle hashes, where datasketch must give our values bit for bit (it is
checked). The tools take turns batch by batch, so a busy spell on a shared machine hits all.

Whole passes: real text found on this machine (source files, documentation and data files under
/usr/share, /usr/lib, /usr/include, /usr/local, the Python installs and the venv, and the text
members of the wheels under /opt), exact duplicates removed as the curate pass would, written as
curated files; then ``run_near_dedup`` on local Ray with 2 CPUs, at each size asked for that the
machine holds. Peak memory per Ray worker: from /proc, polled twice a second.
Last line: JSON with ours_mb_per_s, datasketch_mb_per_s and speedup_vs_datasketch.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks.sample_docs import sample_documents  # noqa: E402
from pipeline.dedup.minhash import permutations, signatures  # noqa: E402
from pipeline.dedup.near import NearDedupConfig  # noqa: E402
from pipeline.dedup.shingles import ShingleConfig, normalize, shingle_hashes  # noqa: E402
from pipeline.schema import DOCUMENT_SCHEMA  # noqa: E402

SEED = 1
CODE = {
    ".py",
    ".pyi",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".js",
    ".ts",
    ".rs",
    ".go",
    ".java",
    ".sh",
    ".pl",
    ".rb",
    ".el",
    ".css",
}
TEXT = {
    ".txt",
    ".md",
    ".rst",
    ".html",
    ".htm",
    ".tex",
    ".po",
    ".xml",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".cfg",
    ".ini",
    ".csv",
}
ROOTS = ["/usr/share", "/usr/lib", "/usr/include", "/usr/local", "/root/.pyenv", sys.prefix, "/opt"]
PART_BYTES = 64 << 20


def signature_speed(batch: int = 64) -> dict:
    """Text → signatures on one core, for ours, datasketch and datatrove, in turns."""
    import xxhash
    from datasketch import MinHash
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    docs = sample_documents()
    texts = docs.filter(pc.not_equal(docs["source"], "multimodal"))["text"].to_pylist()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    cfg, perm = ShingleConfig(), permutations(SEED, 112)
    trove = MinhashDedupSignature(
        tempfile.mkdtemp(), MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=SEED)
    )
    trove._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode())  # datatrove 0.10's xxhash64 refuses str
    spent = {k: 0.0 for k in ("ours", "datasketch", "datatrove", "ours_perm", "datasketch_perm", "datatrove_perm")}
    equal = 0
    normalize(texts[0], cfg)  # build the separator table outside the timings
    for i in range(0, len(texts), batch):
        part = texts[i : i + batch]
        t0 = time.perf_counter()
        hashes, offsets = shingle_hashes(part, cfg)
        signatures(hashes, offsets, perm)
        t1 = time.perf_counter()
        for text in part:
            words = normalize(text, cfg).split(" ")
            m = MinHash(num_perm=112, seed=SEED, hashfunc=xxhash.xxh32_intdigest)
            m.update_batch([" ".join(words[j : j + 5]).encode() for j in range(max(len(words) - 4, 1))])
        t2 = time.perf_counter()
        for text in part:
            shingles = trove.get_shingles(text)
            if shingles.size:
                trove.get_signature(shingles)
        t3 = time.perf_counter()
        sig = signatures(hashes, offsets, perm)
        t4 = time.perf_counter()
        for j in range(len(part)):
            m = MinHash(num_perm=112, seed=SEED, hashfunc=lambda x: x & 0xFFFFFFFF)
            m.update_batch(hashes[offsets[j] : offsets[j + 1]].tolist())
            equal += m.hashvalues.tolist() == sig[j].tolist()
        t5 = time.perf_counter()
        for j in range(len(part)):
            if offsets[j + 1] > offsets[j]:
                trove.get_signature(hashes[offsets[j] : offsets[j + 1]].reshape(-1, 1))
        t6 = time.perf_counter()
        for key, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            spent[key] += dt
    rates = {k: round(mb / v, 3) for k, v in spent.items()}
    return {
        "documents": len(texts),
        "mb": round(mb, 2),
        "mb_per_s": rates,
        "datasketch_equal_signatures": f"{equal}/{len(texts)}",
    }


def _real_text() -> Iterator[tuple[str, str, bytes]]:
    """(source, where, bytes) for every text file under ROOTS and text member of an archive, in a fixed order."""
    for root in ROOTS:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                path, ext = os.path.join(d, f), os.path.splitext(f)[1].lower()
                if os.path.islink(path):
                    continue
                if ext in CODE | TEXT:
                    try:
                        if os.path.getsize(path) < (8 << 20):
                            with open(path, "rb") as fh:
                                yield ("code" if ext in CODE else "text"), path, fh.read()
                    except OSError:
                        continue
                elif ext in (".whl", ".zip") and root == "/opt":
                    try:
                        with zipfile.ZipFile(path) as z:
                            for info in sorted(z.infolist(), key=lambda x: x.filename):
                                e = os.path.splitext(info.filename)[1].lower()
                                if e in CODE | TEXT and info.file_size < (8 << 20):
                                    yield ("code" if e in CODE else "text"), f"{path}!{info.filename}", z.read(info)
                    except (OSError, zipfile.BadZipFile):
                        continue


def distinct_utf8(items: Iterator[tuple[str, str, bytes]]) -> Iterator[tuple[str, str, bytes, str]]:
    """``(source, where, bytes, text)`` of the items that decode as UTF-8, each content once."""
    seen: set[bytes] = set()
    for source, where, data in items:
        key = hashlib.blake2b(data, digest_size=16).digest()
        if key in seen:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        seen.add(key)
        yield source, where, data, text


def cached_corpus(manifest: str, limit_bytes: int) -> dict | None:
    """The manifest of a corpus already built with this size limit, else None."""
    if not os.path.exists(manifest):
        return None
    with open(manifest) as f:
        info = json.load(f)
    return info if info["limit"] == limit_bytes else None


def build_corpus(work: str, limit_bytes: int) -> dict:
    """Curated files of real text up to ``limit_bytes``: exact duplicates and non-UTF-8 files left out."""
    manifest = os.path.join(work, "corpus.json")
    if info := cached_corpus(manifest, limit_bytes):
        return info
    shutil.rmtree(work, ignore_errors=True)
    size, parts, docs = 0, {}, 0
    buffers: dict[str, list[dict]] = {"code": [], "text": []}
    counter = {"code": 0, "text": 0}

    def flush(source: str) -> None:
        rows, buffers[source] = buffers[source], []
        if rows:
            part = parts.setdefault(source, 0)
            path = os.path.join(work, "corpus", "curated", source, f"part-{part:05d}.parquet")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(
                pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), path, compression="zstd", row_group_size=2048
            )
            parts[source] += 1

    pending = {"code": 0, "text": 0}
    for source, where, data, text in distinct_utf8(
        i for i in _real_text() if len(i[2]) >= 200 and b"\0" not in i[2][:4096]
    ):
        buffers[source].append(
            {
                "id": f"{source}/{counter[source]:09d}",
                "source": source,
                "text": text,
                "meta": json.dumps({"path": where}),
                "images": [],
            }
        )
        counter[source] += 1
        pending[source] += len(data)
        size, docs = size + len(data), docs + 1
        if pending[source] >= PART_BYTES:
            flush(source)
            pending[source] = 0
        if size >= limit_bytes:
            break
    for source in buffers:
        flush(source)
    info = {"limit": limit_bytes, "bytes": size, "documents": docs}
    with open(manifest, "w") as f:
        json.dump(info, f)
    return info


def _corpus_prefix(work: str, limit: int, dest: str) -> tuple[int, int]:
    """Copy the first curated files (ids in stream order) up to ``limit`` text bytes into ``dest``."""
    shutil.rmtree(dest, ignore_errors=True)
    files = sorted(
        (os.path.join(d, f) for d, _, fs in os.walk(os.path.join(work, "corpus", "curated")) for f in fs),
        key=lambda p: (os.path.basename(p), p),
    )
    total = docs = 0
    for path in files:
        if total >= limit:
            break
        t = pq.read_table(path, columns=["text"])
        total += int(pc.sum(pc.binary_length(t["text"].cast(pa.large_binary()))).as_py())
        docs += t.num_rows
        target = os.path.join(dest, os.path.relpath(path, os.path.join(work, "corpus")))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
    return total, docs


class _Peak(threading.Thread):
    """Peak RSS and private memory of each Ray worker process, polled from /proc."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.rss: dict[int, int] = {}
        self.private: dict[int, int] = {}
        self.heap: dict[int, int] = {}  # anonymous memory: the private part that is not object-store pages
        self.task: dict[int, str] = {}  # what the worker ran when its private memory peaked
        self.heap_task: dict[int, str] = {}
        self.heap_by_task: dict[str, int] = {}
        self.last: dict[int, str] = {}  # the last task seen in each worker (an idle worker keeps its heap)
        self.by_task: dict[str, int] = {}  # peak private memory of any worker while it ran (or idled after) a task
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read(200)
                    if not cmd.startswith(b"ray::"):
                        continue
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        fields = {ln.split(":")[0]: int(ln.split()[1]) for ln in f if ln.split()[-1:] == ["kB"]}
                except (OSError, ValueError, IndexError):
                    continue
                p = int(pid)
                self.rss[p] = max(self.rss.get(p, 0), fields.get("Rss", 0))
                private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
                task = cmd.split(b"\0")[0].decode(errors="replace")
                if task == "ray::IDLE" and p in self.last:
                    task = f"ray::IDLE after {self.last[p]}"
                elif task != "ray::IDLE":
                    self.last[p] = task.removeprefix("ray::")
                self.by_task[task] = max(self.by_task.get(task, 0), private)
                heap = fields.get("Anonymous", 0)
                self.heap_by_task[task] = max(self.heap_by_task.get(task, 0), heap)
                if heap > self.heap.get(p, 0):
                    self.heap[p] = heap
                    self.heap_task[p] = task
                if private > self.private.get(p, 0):
                    self.private[p] = private
                    self.task[p] = task


def end_to_end(work: str, sizes_gb: list[float], cfg: NearDedupConfig, batch_mbs: list[int | None]) -> list[dict]:
    """Whole passes per corpus size and per shuffle input batch (None: the RayConfig default), same Ray."""
    import ray.data

    from jobs.config import RayConfig
    from jobs.near_dedup import run_near_dedup
    from jobs.ray_session import start_ray

    info = build_corpus(work, int(max(sizes_gb) * 1e9))
    print(
        f"real text on this machine: {info['bytes'] / 1e9:.2f} GB in {info['documents']} documents "
        f"(asked for up to {max(sizes_gb)} GB)"
    )
    cpus = start_ray(RayConfig(num_cpus=2, object_store_mb=2048, spill_dir=os.path.join(work, "spill")))
    results, done = [], set()
    ctx = ray.data.DataContext.get_current()
    default_batch = ctx.shuffle_input_batch_bytes
    for batch_mb, gb in itertools.product(batch_mbs, sizes_gb):
        ctx.shuffle_input_batch_bytes = default_batch if batch_mb is None else batch_mb << 20
        run_dir = os.path.join(work, "run")
        total, docs = _corpus_prefix(work, int(gb * 1e9), run_dir)
        if (batch_mb, total) in done:
            print(f"{gb} GB asked: only {total / 1e9:.2f} GB exist, already measured")
            continue
        done.add((batch_mb, total))
        peak = _Peak()
        peak.start()
        started = time.perf_counter()
        out = run_near_dedup(run_dir, cfg, SEED, cpus=cpus)
        seconds = time.perf_counter() - started
        peak.stop.set()
        peak.join()
        r = {
            "asked_gb": gb,
            "gb": round(total / 1e9, 3),
            "documents": docs,
            "cpus": cpus,
            "shuffle_batch_mb": ctx.shuffle_input_batch_bytes >> 20,
            "seconds": round(seconds, 1),
            "mb_per_s": round(total / 1e6 / seconds, 2),
            "mb_per_s_per_cpu": round(total / 1e6 / seconds / cpus, 2),
            "peak_worker_rss_mb": round(max(peak.rss.values(), default=0) / 1024, 1),
            "peak_worker_private_mb": round(max(peak.private.values(), default=0) / 1024, 1),
            "peak_task": peak.task.get(max(peak.private, key=peak.private.get, default=-1), ""),
            "peak_worker_heap_mb": round(max(peak.heap.values(), default=0) / 1024, 1),
            "peak_heap_task": peak.heap_task.get(max(peak.heap, key=peak.heap.get, default=-1), ""),
            "peak_heap_mb_by_task": {
                k: round(v / 1024, 1) for k, v in sorted(peak.heap_by_task.items(), key=lambda kv: -kv[1])
            },
            "peak_private_mb_by_task": {
                k: round(v / 1024, 1) for k, v in sorted(peak.by_task.items(), key=lambda kv: -kv[1])[:8]
            },
            "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "summary": {k: v for k, v in out["summary"].items() if k != "seconds"},
        }
        print(
            f"{r['gb']} GB, {docs} documents, shuffle batch {r['shuffle_batch_mb']} MB: {r['seconds']} s, "
            f"{r['mb_per_s']} MB/s ({r['mb_per_s_per_cpu']} per "
            f"CPU); peak worker RSS {r['peak_worker_rss_mb']} MB (private {r['peak_worker_private_mb']} MB, "
            f"in {r['peak_task']}; heap {r['peak_worker_heap_mb']} MB in {r['peak_heap_task']}); "
            f"{r['summary']}"
        )
        results.append(r)
    shutil.rmtree(os.path.join(work, "run"), ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--e2e-gb", type=float, nargs="*", default=[1, 4])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "corpusmill-dedup-bench"))
    parser.add_argument("--out", default="benchmarks/results/dedup_speed.json")
    parser.add_argument("--partition-mb", type=int, help="near_dedup.partition_mb (default: the config's)")
    parser.add_argument("--skip-signatures", action="store_true", help="whole passes only")
    parser.add_argument(
        "--shuffle-batch-mb",
        type=int,
        nargs="*",
        default=[None],
        help="shuffle input batches to compare (ray.shuffle_batch_mb; Ray Data's own default is 1024)",
    )
    args = parser.parse_args()
    cfg = NearDedupConfig(**({"partition_mb": args.partition_mb} if args.partition_mb else {}))
    if args.skip_signatures:
        result = {
            "partition_mb": cfg.partition_mb,
            "end_to_end": end_to_end(args.work, sorted(args.e2e_gb), cfg, args.shuffle_batch_mb),
        }
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        return

    sig = signature_speed()
    r = sig["mb_per_s"]
    print(f"signatures, one core, {sig['documents']} documents ({sig['mb']} MB), text -> 112 permutations:")
    print(f"  ours {r['ours']} MB/s, datasketch {r['datasketch']} MB/s, datatrove {r['datatrove']} MB/s")
    print(
        f"  permutation step on identical shingle hashes: ours {r['ours_perm']} MB/s, datasketch "
        f"{r['datasketch_perm']} MB/s, datatrove {r['datatrove_perm']} MB/s; datasketch equal to ours: "
        f"{sig['datasketch_equal_signatures']}"
    )
    result = {
        "signatures": sig,
        "ours_mb_per_s": r["ours"],
        "datasketch_mb_per_s": r["datasketch"],
        "datatrove_mb_per_s": r["datatrove"],
        "speedup_vs_datasketch": round(r["ours"] / r["datasketch"], 2),
        "speedup_vs_datatrove": round(r["ours"] / r["datatrove"], 2),
    }
    if args.e2e_gb:
        result["partition_mb"] = cfg.partition_mb
        result["end_to_end"] = end_to_end(args.work, sorted(args.e2e_gb), cfg, args.shuffle_batch_mb)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in ("ours_mb_per_s", "datasketch_mb_per_s", "speedup_vs_datasketch")}))


if __name__ == "__main__":
    main()
