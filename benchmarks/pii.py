"""PII redaction throughput on the sample's web pages: all types together and each type alone, same run.

Usage: python -m benchmarks.pii [--repeats 5] [--batch 1000] [--out benchmarks/results/pii.json]
The pages are read and cleaned as the curation pass does (HTML to text, then ``clean``), not
yet redacted. The settings take turns ``repeats`` times; each keeps its best. Also counts the replacements
per tag. Last line: JSON with docs_per_s and mb_per_s for all types and per type.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Callable

import pyarrow as pa  # noqa: E402

from pipeline.read.readers import SourceSpec, expand_inputs, read_input  # noqa: E402
from pipeline.text.clean import CleanConfig, clean  # noqa: E402
from pipeline.text.pii import PiiConfig, pii_redact  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sample_web_text() -> pa.Table:
    """The sample's web pages as the curation pass sees them after ``clean`` (no other stage)."""
    spec = SourceSpec(
        name="web", paths=["data/sample/web/*.jsonl.zst"], text_field="html", content="html", meta_fields=["url"]
    )
    return clean(
        pa.concat_tables([t for inp in expand_inputs(spec, REPO) for t in read_input(spec, inp)]), CleanConfig()
    )


def best_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each function's best wall time; the functions take turns, so a busy spell hits them alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000, help="documents per stage call")
    parser.add_argument("--out", default="benchmarks/results/pii.json")
    args = parser.parse_args()

    docs = sample_web_text()
    batches = [docs.slice(i, args.batch) for i in range(0, docs.num_rows, args.batch)]
    mb = sum(len(t.encode()) for t in docs["text"].to_pylist()) / 1e6
    off = {"emails": False, "ip_addresses": False, "phones": False, "secrets": False}
    configs = {"all": PiiConfig(), **{kind: PiiConfig(**dict(off, **{kind: True})) for kind in off}}
    result: dict[str, object] = {"documents": docs.num_rows, "mb": round(mb, 3), "cpus": os.cpu_count()}
    runs = {name: (lambda cfg=cfg: [pii_redact(b, cfg) for b in batches]) for name, cfg in configs.items()}
    best = best_seconds(runs, args.repeats)
    for name, seconds in best.items():
        result[name] = {"docs_per_s": round(docs.num_rows / seconds, 1), "mb_per_s": round(mb / seconds, 3)}
        print(f"{name:12s} {result[name]['docs_per_s']:9.1f} docs/s {result[name]['mb_per_s']:7.2f} MB/s")
    tags = Counter(t for b in batches for row in pii_redact(b, PiiConfig())["rewrite_tags"].to_pylist() for t in row)
    result["replacements"] = dict(sorted(tags.items()))
    print(f"{docs.num_rows} documents, {mb:.1f} MB; replacements: {result['replacements']}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in configs}))


if __name__ == "__main__":
    main()
