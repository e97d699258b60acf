"""Our web quality filters against datatrove's on the same documents, same run, one core.

Usage: python -m benchmarks.web_filters [--disk-pages 1500] [--batch 256] [--out benchmarks/results/web_filters.json]
Needs datatrove and spaCy (benchmarks/requirements-web.txt; not project dependencies).

Documents: the sample's web pages, plus HTML pages found on this machine outside the sources
the sample was built from: the Rust toolchain's books and std/alloc API pages, and the HTML
under /usr/share/doc (nodejs, valgrind, libxslt...), npm and the Google Cloud SDK. Both sets go
through the project's HTML path (readers, extraction, ``clean``) via :func:`web_documents`.

The stack is FineWeb's: Gopher repetition, Gopher quality, C4 (filter_no_terminal_punct=False)
and FineWeb quality, each applied to the same input documents. datatrove runs document by
document through its four filters, as its pipeline does (so its filters share its cached spaCy
words); ours runs batch by batch, starting with an empty word cache. The two take turns batch by
batch, so a busy spell on a shared machine hits both. Agreement: per filter, the share of
documents on which both keep or both drop (C4: our line rewrite then our document filter).
Last line: JSON with ours_docs_per_s, datatrove_docs_per_s, speedup and agreement.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from pipeline.read.readers import SourceSpec, expand_inputs, read_input  # noqa: E402
from pipeline.text import batch_words as text_stats
from pipeline.text.c4_filters import C4Config, c4_document, c4_lines  # noqa: E402
from pipeline.text.clean import CleanConfig, clean  # noqa: E402
from pipeline.text.fineweb_filters import FineWebQualityConfig, fineweb_quality  # noqa: E402
from pipeline.text.gopher_quality import GopherQualityConfig, gopher_quality  # noqa: E402
from pipeline.text.gopher_repetition import GopherRepetitionConfig, gopher_repetition  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUST_DOCS = os.path.expanduser("~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html")
DISK_ROOTS = [RUST_DOCS, "/usr/share/doc", "/usr/lib/node_modules/npm", "/usr/lib/google-cloud-sdk"]
# The sample's own sources, and the Rust pages that are machine-made (41k near-identical
# intrinsics pages, highlighted source files).
SKIP = (
    "/usr/share/doc/python3",
    "/usr/share/doc/apache2-doc",
    "/usr/share/doc/debian-handbook",
    "/usr/share/doc/debian-reference",
    f"{RUST_DOCS}/core/",
    f"{RUST_DOCS}/src/",
)
FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")
# datatrove's reason names for ours, where they differ
DT_REASONS = {
    "too_few_words": "gopher_short_doc",
    "too_many_words": "gopher_long_doc",
    "short_words": "gopher_below_avg_threshold",
    "long_words": "gopher_above_avg_threshold",
    "hash_ratio": "gopher_too_many_hashes",
    "ellipsis_ratio": "gopher_too_many_ellipsis",
    "bullet_lines": "gopher_too_many_bullets",
    "ellipsis_lines": "gopher_too_many_end_ellipsis",
    "alpha_words": "gopher_below_alpha_threshold",
    "stop_words": "gopher_enough_stop_words",
}


def web_documents(pattern: str) -> list[str]:
    """Texts of the JSON-lines web pages (``url``, ``html``) at ``pattern``, as the curation pass reads them."""
    spec = SourceSpec(name="web", paths=[pattern], text_field="html", content="html", meta_fields=["url"])
    table = pa.concat_tables([t for inp in expand_inputs(spec, REPO) for t in read_input(spec, inp)])
    table = clean(table.filter(pc.equal(table["status"], "kept")), CleanConfig())
    return [t for t in table["text"].to_pylist() if t]


def disk_pages(limit: int, folder: str) -> str:
    """Up to ``limit`` HTML pages from this machine (a stable hash order), written as JSON lines."""
    paths = [
        os.path.join(d, f)
        for root in DISK_ROOTS
        for d, _, files in os.walk(root)
        for f in files
        if f.endswith((".html", ".htm"))
    ]
    paths = [p for p in paths if not p.startswith(SKIP)]
    paths.sort(key=lambda p: hashlib.blake2b(p.encode(), digest_size=8).digest())
    out = os.path.join(folder, "pages.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for path in paths[:limit]:
            with open(path, encoding="utf-8", errors="replace") as page:
                f.write(json.dumps({"url": "file://" + path, "html": page.read()}) + "\n")
    return out


def ours() -> dict[str, Callable[[pa.Table], list[bool]]]:
    def kept(table: pa.Table) -> list[bool]:
        return pc.is_null(table["drop_reason"]).to_pylist()

    c4 = C4Config()
    return {
        "gopher_repetition": lambda t: gopher_repetition(t, GopherRepetitionConfig()),
        "gopher_quality": lambda t: gopher_quality(t, GopherQualityConfig()),
        "c4": lambda t: c4_document(c4_lines(t, c4), c4),
        "fineweb": lambda t: fineweb_quality(t, FineWebQualityConfig()),
    }


def run(texts: list[str], batch: int) -> dict:
    """Both stacks over ``texts`` taking turns batch by batch: seconds, decisions and reasons per filter."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    theirs = dict(
        zip(
            FILTERS,
            (
                GopherRepetitionFilter(),
                GopherQualityFilter(),
                C4QualityFilter(filter_no_terminal_punct=False),
                FineWebQualityFilter(),
            ),
        )
    )
    stages = ours()
    seconds = {side: dict.fromkeys(FILTERS, 0.0) for side in ("ours", "datatrove")}
    reasons: dict[str, dict[str, list]] = {side: {f: [] for f in FILTERS} for side in ("ours", "datatrove")}
    text_stats._CACHE.clear()  # start cold: no chunk seen
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        table = pa.table({"text": pa.array(chunk, pa.large_string())})
        with text_stats.shared_words():  # as run_row_stages runs a batch: the stages share its words
            for name, stage in stages.items():
                t = time.perf_counter()
                out = stage(table)
                seconds["ours"][name] += time.perf_counter() - t
                reasons["ours"][name] += out["drop_reason"].to_pylist()
        for i, text in enumerate(chunk):
            doc = Document(text=text, id=str(start + i))
            for name, filt in theirs.items():
                mine = copy.copy(doc)  # C4 rewrites the text it is given
                t = time.perf_counter()
                res = filt.filter(mine)
                seconds["datatrove"][name] += time.perf_counter() - t
                reasons["datatrove"][name].append(None if res is True else res[1] if isinstance(res, tuple) else "")
    return {"seconds": seconds, "reasons": reasons}


def agreement(ours_r: list, theirs_r: list) -> dict:
    both = list(zip(ours_r, theirs_r))
    same = sum((o is None) == (t is None) for o, t in both)
    dropped = [(o, t) for o, t in both if o is not None and t is not None]
    same_reason = sum(DT_REASONS.get(o, o) == t for o, t in dropped)
    return {
        "decisions": round(same / max(len(both), 1), 4),
        "dropped_ours": sum(o is not None for o, _ in both),
        "dropped_datatrove": sum(t is not None for _, t in both),
        "same_reason_when_both_drop": round(same_reason / max(len(dropped), 1), 4),
        "differing_docs": [i for i, (o, t) in enumerate(both) if (o is None) != (t is None)][:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--disk-pages", type=int, default=1500, help="HTML pages taken from this machine")
    parser.add_argument("--batch", type=int, default=256, help="documents per stage call (the runner's batch)")
    parser.add_argument("--out", default="benchmarks/results/web_filters.json")
    args = parser.parse_args()
    pa.set_cpu_count(1)  # one core for both: Arrow kernels may otherwise use a thread pool

    sets = {"sample": web_documents("data/sample/web/*.jsonl.zst")}
    with tempfile.TemporaryDirectory() as tmp:
        sets["disk"] = web_documents(disk_pages(args.disk_pages, tmp))
    gopher_quality(pa.table({"text": pa.array(["warm up."], pa.large_string())}), GopherQualityConfig())
    result: dict = {"cpus": os.cpu_count(), "batch": args.batch, "sets": {}}
    total = {"docs": 0, "ours": 0.0, "datatrove": 0.0}
    merged: dict[str, dict[str, list]] = {side: {f: [] for f in FILTERS} for side in ("ours", "datatrove")}
    for name, texts in sets.items():
        r = run(texts, args.batch)
        docs, mb = len(texts), sum(len(t.encode()) for t in texts) / 1e6
        entry = {"documents": docs, "mb": round(mb, 3)}
        for side in ("ours", "datatrove"):
            secs = r["seconds"][side]
            entry[side] = {
                "docs_per_s": round(docs / sum(secs.values()), 2),
                "per_filter_docs_per_s": {f: round(docs / s, 1) for f, s in secs.items()},
            }
            total[side] += sum(secs.values())
            for f in FILTERS:
                merged[side][f] += r["reasons"][side][f]
        entry["speedup"] = round(entry["ours"]["docs_per_s"] / entry["datatrove"]["docs_per_s"], 2)
        entry["agreement"] = {f: agreement(r["reasons"]["ours"][f], r["reasons"]["datatrove"][f]) for f in FILTERS}
        total["docs"] += docs
        result["sets"][name] = entry
        print(f"{name}: {docs} documents, {mb:.1f} MB")
        print(f"  {'filter':18s} {'ours docs/s':>12s} {'datatrove':>10s} {'agree':>7s} {'drop ours/dt':>13s}")
        for f in FILTERS:
            a = entry["agreement"][f]
            print(
                f"  {f:18s} {entry['ours']['per_filter_docs_per_s'][f]:12.1f} "
                f"{entry['datatrove']['per_filter_docs_per_s'][f]:10.1f} {a['decisions']:7.4f} "
                f"{a['dropped_ours']:>6d}/{a['dropped_datatrove']:<6d}"
            )
        print(
            f"  {'stack':18s} {entry['ours']['docs_per_s']:12.1f} {entry['datatrove']['docs_per_s']:10.1f}"
            f"   speedup {entry['speedup']}x"
        )
    summary = {
        "ours_docs_per_s": round(total["docs"] / total["ours"], 2),
        "datatrove_docs_per_s": round(total["docs"] / total["datatrove"], 2),
    }
    summary["speedup"] = round(summary["ours_docs_per_s"] / summary["datatrove_docs_per_s"], 2)
    summary["agreement"] = {f: agreement(merged["ours"][f], merged["datatrove"][f])["decisions"] for f in FILTERS}
    result.update(summary)
    print(
        f"all: {total['docs']} documents; ours {summary['ours_docs_per_s']} docs/s, datatrove "
        f"{summary['datatrove_docs_per_s']} docs/s per core: {summary['speedup']}x"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
