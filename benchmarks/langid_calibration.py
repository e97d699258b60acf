"""Per-language minimum lid.176 confidence, derived as FineWeb-2 derived its GlotLID ones.

Usage: python -m benchmarks.langid_calibration --calibrate DOCS.jsonl [--calibrate MORE.jsonl]
       --heldout HELD.jsonl [--write pipeline/text/fineweb2/lid176_min_scores.json]

FineWeb-2 (Penedo et al. 2025, section 4.2) sets each language's threshold from the confidence
distribution X of the documents its language ID labels with that language:
tau = max(0.3, min(0.9, median(X) - std(X))). Its configs' ``language_score`` values are GlotLID
confidences, which lid.176 scores do not resemble, so the same rule is applied here to lid.176's
scores (``pipeline.text.langid.predict``, the pipeline's windows) on real documents of known
language: Debian's translated manuals and man pages (``--calibrate``). The documents lid.176
labels with their own language form X. English keeps FineWeb's 0.65 (same model, its own value).

Then, on documents not used to calibrate (``--heldout``), it reports per language the share of
documents labelled that language that the threshold keeps, and how many were labelled at all.
Languages with fewer than ``--min-docs`` calibration documents get no threshold (None: scores are
recorded, nothing is dropped). Last line: JSON with the thresholds and held-out kept shares.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics

from pipeline.text.langid import predict
from pipeline.text.language_profiles import PROFILED

ENGLISH = 0.65  # FineWeb's LanguageFilter threshold, on this same model (Penedo et al. 2024)


def scores(paths: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Per declared language, each document's (predicted label, score)."""
    texts: dict[str, list[str]] = collections.defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                texts[doc["lang"]].append(doc["text"])
    return {lang: predict(docs) for lang, docs in sorted(texts.items())}


def threshold(own: list[float]) -> float:
    """FineWeb-2's rule on one language's scores: one standard deviation below the median, in [0.3, 0.9]."""
    return round(max(0.3, min(0.9, statistics.median(own) - statistics.pstdev(own))), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calibrate", action="append", required=True)
    parser.add_argument("--heldout", action="append", default=[])
    parser.add_argument("--min-docs", type=int, default=20)
    parser.add_argument("--write", default=None, help="write the thresholds here (JSON)")
    args = parser.parse_args()
    calibration, heldout = scores(args.calibrate), scores(args.heldout)
    table: dict[str, dict] = {}
    for lang in sorted(set(PROFILED) | {"en"}):
        own = [s for label, s in calibration.get(lang, []) if label == lang]
        entry: dict = {"documents": len(calibration.get(lang, [])), "labelled": len(own)}
        if lang == "en":
            entry["min_score"] = ENGLISH
        elif len(own) >= args.min_docs:
            entry.update(median=round(statistics.median(own), 4), std=round(statistics.pstdev(own), 4))
            entry["min_score"] = threshold(own)
        else:
            entry["min_score"] = None
        held = [s for label, s in heldout.get(lang, []) if label == lang]
        if held and entry["min_score"] is not None:
            entry["heldout_labelled"] = len(held)
            entry["heldout_kept"] = round(sum(s >= entry["min_score"] for s in held) / len(held), 4)
        table[lang] = entry
        print(lang, entry)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as f:
            doc = {
                "_method": "tau = max(0.3, min(0.9, median - std)) of lid.176 scores of documents labelled "
                "with their own language (FineWeb-2, section 4.2); en: FineWeb's 0.65; None: too few documents",
                "_source": "benchmarks/langid_calibration.py over Debian bookworm translated manuals and man pages "
                "(debian-faq, developers-reference, debian-edu-doc, manpages-l10n, gnome-user-docs, mate-user-guide, "
                "libreoffice-help-hi); none of them in data/sample",
                "languages": table,
            }
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
    print(json.dumps({lang: [e["min_score"], e.get("heldout_kept")] for lang, e in table.items()}))


if __name__ == "__main__":
    main()
