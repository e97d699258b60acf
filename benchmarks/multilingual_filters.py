"""Our FineWeb-2 filters against datatrove's, configured as FineWeb-2's pipeline configures them.

Usage: python -m benchmarks.multilingual_filters --docs DOCS.jsonl [--docs MORE.jsonl] [--batch 128]
       [--per-language 400] [--out benchmarks/results/multilingual_filters.json]
Needs datatrove, spaCy and the segmenters datatrove picks (benchmarks/requirements-web.txt).

Documents: JSON lines with ``lang`` (a lid.176 code) and ``text``, real text of known language
(``python -m benchmarks.multilingual_corpus`` builds them from Debian's localized manuals and man
pages, which the sample does not use). Each text goes through our ``clean`` first, as in the
pipeline; both sides then judge the same string.

datatrove's side is ``fineweb-2-pipeline.py``'s filter block: GopherRepetitionFilter (paragraph
and line-character rules off, the config's dup_line_frac / top_n_grams / dup_n_grams),
FineWebQualityFilter (short_line_thr=999, char_duplicates_ratio=0.1, the config's line_punct_thr
and new_line_ratio), GopherQualityFilter (the config's word lengths, alphabetic ratio and stop
words, min_stop_words=2), each with ``language=<iso3>_<Script>`` so that it splits words with
that language's tokenizer. Ours: the same stages as the pipeline runs them, rows labelled with
their language. The two take turns batch by batch on one core. Agreement: per language and
filter, the share of documents both keep or both drop. Last line: JSON with ``agreement``
(language -> filter -> share) and ``speedup`` (language -> ours/datatrove documents per second).
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import time

import pyarrow as pa

from pipeline.text import batch_words
from pipeline.text.clean import CleanConfig, clean
from pipeline.text.fineweb_filters import FineWebQualityConfig, fineweb_quality
from pipeline.text.gopher_quality import GopherQualityConfig, gopher_quality
from pipeline.text.gopher_repetition import GopherRepetitionConfig, gopher_repetition
from pipeline.text.language_profiles import profile

FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")


def datatrove_filters(language: str) -> dict:
    """The three filters as fineweb-2-pipeline.py builds them for one language."""
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    p = profile(language)
    raw = p.label
    return {
        "gopher_repetition": GopherRepetitionFilter(
            language=raw,
            dup_para_frac=0,
            dup_line_char_frac=0,
            dup_para_char_frac=0,
            dup_line_frac=p.dup_line_frac,
            top_n_grams=tuple(p.top_n_grams.items()),
            dup_n_grams=tuple(p.dup_n_grams.items()),
        ),
        "fineweb_quality": FineWebQualityFilter(
            language=raw,
            short_line_thr=999,
            char_duplicates_ratio=0.1,
            line_punct_thr=p.line_punct_thr or 0.0,
            new_line_ratio=p.new_line_ratio,
        ),
        "gopher_quality": GopherQualityFilter(
            language=raw,
            max_avg_word_length=p.max_avg_word_length,
            min_avg_word_length=p.min_avg_word_length or 0,
            stop_words=list(p.stop_words),
            max_non_alpha_words_ratio=p.min_alpha_words_ratio,
            min_stop_words=2,
        ),
    }


OURS = {
    "gopher_repetition": lambda t: gopher_repetition(t, GopherRepetitionConfig()),
    "fineweb_quality": lambda t: fineweb_quality(t, FineWebQualityConfig()),
    "gopher_quality": lambda t: gopher_quality(t, GopherQualityConfig()),
}


def load(paths: list[str], per_language: int) -> dict[str, list[str]]:
    """Cleaned texts per language with a FineWeb-2 profile, at most ``per_language`` each, spread over the file."""
    by_lang: dict[str, list[str]] = collections.defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                if profile(doc["lang"]) is not None:
                    by_lang[doc["lang"]].append(doc["text"])
    out = {}
    for lang, texts in sorted(by_lang.items()):
        step = max(1, len(texts) // per_language)
        table = clean(pa.table({"text": pa.array(texts[::step][:per_language], pa.large_string())}), CleanConfig())
        out[lang] = [t for t in table["text"].to_pylist() if t]
    return out


def run(language: str, texts: list[str], batch: int) -> dict:
    """Both sides over ``texts``, taking turns batch by batch: seconds and drop reasons per filter."""
    from datatrove.data import Document

    theirs = datatrove_filters(language)
    seconds = {"ours": 0.0, "datatrove": 0.0}
    reasons: dict[str, dict[str, list]] = {side: {f: [] for f in FILTERS} for side in ("ours", "datatrove")}
    batch_words._CACHE.clear()
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        table = pa.table({"text": pa.array(chunk, pa.large_string()), "language": [language] * len(chunk)})
        t = time.perf_counter()
        with batch_words.shared_words():
            for name, stage in OURS.items():
                reasons["ours"][name] += stage(table)["drop_reason"].to_pylist()
        seconds["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        for i, text in enumerate(chunk):
            doc = Document(text=text, id=str(start + i))
            for name, filt in theirs.items():
                res = filt.filter(copy.copy(doc))
                reasons["datatrove"][name].append(None if res is True else res[1] if isinstance(res, tuple) else "")
        seconds["datatrove"] += time.perf_counter() - t
    return {"seconds": seconds, "reasons": reasons}


def agreement(ours: list, theirs: list) -> dict:
    both = list(zip(ours, theirs))
    return {
        "decisions": round(sum((o is None) == (t is None) for o, t in both) / max(len(both), 1), 4),
        "dropped_ours": sum(o is not None for o, _ in both),
        "dropped_datatrove": sum(t is not None for _, t in both),
        "differing": [i for i, (o, t) in enumerate(both) if (o is None) != (t is None)][:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", action="append", required=True, help="JSON lines with lang and text")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--per-language", type=int, default=400)
    parser.add_argument("--languages", default=None, help="comma-separated lid.176 codes (default: all found)")
    parser.add_argument("--out", default="benchmarks/results/multilingual_filters.json")
    args = parser.parse_args()
    pa.set_cpu_count(1)
    sets = load(args.docs, args.per_language)
    if args.languages:
        sets = {k: v for k, v in sets.items() if k in args.languages.split(",")}
    result: dict = {"batch": args.batch, "languages": {}}
    print(f"{'lang':5s} {'docs':>5s} {'MB':>6s} {'filter':18s} {'agree':>7s} {'drop ours/dt':>13s}")
    skipped = {}
    for lang, texts in sets.items():
        from datatrove.data import Document

        try:
            for filt in datatrove_filters(lang).values():  # warm both sides' tokenizers
                filt.filter(Document(text="warm up", id="0"))
        except ImportError as e:  # datatrove's segmenter for it is not installed (pyvi, kiwipiepy...)
            skipped[lang] = str(e).splitlines()[0]
            print(f"{lang:5s} skipped: {skipped[lang]}")
            continue
        OURS["gopher_quality"](pa.table({"text": pa.array(["warm up"], pa.large_string()), "language": [lang]}))
        r = run(lang, texts, args.batch)
        mb = sum(len(t.encode()) for t in texts) / 1e6
        seconds = {k: round(v, 2) for k, v in r["seconds"].items()}
        entry = {"documents": len(texts), "mb": round(mb, 2), "seconds": seconds}
        entry["speedup"] = round(r["seconds"]["datatrove"] / max(r["seconds"]["ours"], 1e-9), 2)
        entry["agreement"] = {f: agreement(r["reasons"]["ours"][f], r["reasons"]["datatrove"][f]) for f in FILTERS}
        result["languages"][lang] = entry
        for f in FILTERS:
            a = entry["agreement"][f]
            print(
                f"{lang:5s} {len(texts):5d} {mb:6.2f} {f:18s} {a['decisions']:7.4f} "
                f"{a['dropped_ours']:>6d}/{a['dropped_datatrove']:<6d}"
            )
        print(f"{lang:5s} speedup {entry['speedup']}x ({seconds['ours']} s vs {seconds['datatrove']} s)")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
    result["skipped"] = skipped
    langs = result["languages"]
    summary = {
        "agreement": {lang: {f: e["agreement"][f]["decisions"] for f in FILTERS} for lang, e in langs.items()},
        "speedup": {lang: e["speedup"] for lang, e in langs.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
