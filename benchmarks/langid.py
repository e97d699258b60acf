"""Language-id throughput on the sample's web pages, and how the text sample it reads changes the answer.

Usage: python -m benchmarks.langid [--repeats 5] [--batch 1000] [--out benchmarks/results/langid.json]
Three settings taking turns, same run: the default (5 windows over 10,000 characters), the first
10,000 characters only, and the whole text. For each: docs/s, MB/s, and on how many pages its
language differs from the whole text's. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os

from benchmarks.pii import best_seconds, sample_web_text  # noqa: E402
from pipeline.text.langid import LangIdConfig, langid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000, help="documents per stage call")
    parser.add_argument("--out", default="benchmarks/results/langid.json")
    args = parser.parse_args()

    docs = sample_web_text()
    batches = [docs.slice(i, args.batch) for i in range(0, docs.num_rows, args.batch)]
    mb = sum(len(t.encode()) for t in docs["text"].to_pylist()) / 1e6
    settings = {
        "windows_5x10k": LangIdConfig(),
        "head_10k": LangIdConfig(windows=1),
        "whole_text": LangIdConfig(max_chars=None),
    }
    langid(batches[0].slice(0, 1), LangIdConfig())  # load the model outside the timings

    def languages(cfg: LangIdConfig) -> list[str]:
        return [lang for b in batches for lang in langid(b, cfg)["language"].to_pylist()]

    whole = languages(settings["whole_text"])
    result: dict[str, object] = {"documents": docs.num_rows, "mb": round(mb, 3), "cpus": os.cpu_count()}
    best = best_seconds(
        {name: (lambda cfg=cfg: [langid(b, cfg) for b in batches]) for name, cfg in settings.items()}, args.repeats
    )
    for name, cfg in settings.items():
        seconds = best[name]
        differ = sum(a != b for a, b in zip(languages(cfg), whole))
        result[name] = {
            "docs_per_s": round(docs.num_rows / seconds, 1),
            "mb_per_s": round(mb / seconds, 3),
            "differs_from_whole_text": differ,
        }
        print(
            f"{name:14s} {result[name]['docs_per_s']:8.1f} docs/s {result[name]['mb_per_s']:6.2f} MB/s, "
            f"{differ} of {docs.num_rows} pages differ from the whole text"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in settings}))


if __name__ == "__main__":
    main()
