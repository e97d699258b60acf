"""HTML text extractors side by side on the sample's 255 pages: speed and two quality proxies.

Usage: python -m benchmarks.extractors [--repeats 2] [--show 10] [--out benchmarks/results/extractors.json]
       python -m benchmarks.extractors --shape-check [--repeats 3]   (only the cost of the page-shape check)

Both extractors run through ``pipeline.web.html_extract.extract_html`` (what the pipeline runs), with
the time guard off so every page is timed. Quality has no gold standard here, so two proxies:

* ``paragraph_recall``: of the pages' long ``<p>`` paragraphs (>= 100 characters, not repeated
  on 3+ pages of the same site), the share found verbatim (whitespace-normalised) in the output.
  Long paragraphs are almost always main content: this is recall.
* ``chrome_share``: share of output characters in lines that the page shows only inside page
  chrome by its markup (``nav``, ``header``, ``footer``, ``aside``, navigation/banner/contentinfo
  roles, classes or ids with nav, menu, footer, breadcrumb, related): menus, "next/previous"
  bars, copyright and licence footers. Lower is cleaner. Chrome without such markup (Apache's
  language switchers, breadcrumbs) escapes it; the most frequent lines left are printed.

``all_text`` (resiliparse, main_content=False) is the reference without boilerplate removal.
Last line: JSON with each extractor's pages/s and proxies.

``--shape-check`` times resiliparse's extraction of every page without ``check_shape``, with it gated (the
default) and with ``shape_check="full"``, each on a fresh copy of the page: the parser caches a str's UTF-8 on
first use, which would otherwise hide the check's own encoding.
"""

from __future__ import annotations

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import zstandard  # noqa: E402

from pipeline.web import html_extract as html_extract  # noqa: E402
from pipeline.web.html_extract import ExtractConfig, extract_html  # noqa: E402

SAMPLE = "data/sample/web/pages.jsonl.zst"
NAMES = ("resiliparse", "trafilatura")
CHROME = [
    "nav",
    "header",
    "footer",
    "aside",
    "[role=navigation]",
    "[role=banner]",
    "[role=contentinfo]",
    "[class*=nav]",
    "[class*=menu]",
    "[class*=footer]",
    "[class*=breadcrumb]",
    "[class*=related]",
    "[id*=nav]",
    "[id*=menu]",
    "[id*=footer]",
    "[id*=header]",
    "[id*=breadcrumb]",
]


def _norm(text: str) -> str:
    return " ".join(text.replace("¶", " ").split())


def _all_text(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, alt_texts=False)


def _long_paragraphs(html: str) -> list[str]:
    from resiliparse.parse.html import HTMLTree

    elements = HTMLTree.parse(html).document.query_selector_all("p")
    return [p for p in (_norm(e.text) for e in elements) if len(p) >= 100]


def _site(page: dict) -> str:
    return urlsplit(page["url"]).netloc


def _lines(text: str) -> set[str]:
    return {_norm(x) for x in text.splitlines()} - {""}


def _chrome_lines(html: str) -> set[str]:
    """Lines of the page's visible text found only inside elements marked as page chrome."""
    from resiliparse.extract.html2text import extract_plain_text

    rest = extract_plain_text(html, alt_texts=False, skip_elements=CHROME)
    return _lines(_all_text(html)) - _lines(rest)


def _timed(fns: dict, htmls: list[str], repeats: int) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """Each page through every extractor in turn (a load burst hits all alike); per page, the best of ``repeats``."""
    outputs: dict[str, list[str]] = {name: [] for name in fns}
    best: dict[str, list[float]] = {name: [float("inf")] * len(htmls) for name in fns}
    for _ in range(repeats):
        for i, html in enumerate(htmls):
            for name, fn in fns.items():
                start = time.perf_counter()
                text = fn(html)
                best[name][i] = min(best[name][i], time.perf_counter() - start)
                if len(outputs[name]) <= i:
                    outputs[name].append(text)
    return outputs, best


def _shape_check_cost(htmls: list[str], repeats: int) -> dict[str, float]:
    """Seconds of resiliparse extraction over all pages (per page the best of ``repeats``) without the shape check,
    gated and full, modes interleaved page by page so that a load burst hits all alike."""
    check = html_extract.check_shape
    modes = {
        "off": ExtractConfig(timeout_s=0),
        "gated": ExtractConfig(timeout_s=0),
        "full": ExtractConfig(timeout_s=0, shape_check="full"),
    }
    totals = dict.fromkeys(modes, 0.0)
    try:
        for html in htmls:
            best = dict.fromkeys(modes, float("inf"))
            for _ in range(repeats):
                for mode, cfg in modes.items():
                    html_extract.check_shape = (lambda h, c: None) if mode == "off" else check
                    fresh = html[:1] + html[1:]
                    start = time.perf_counter()
                    extract_html(fresh, cfg)
                    best[mode] = min(best[mode], time.perf_counter() - start)
            for mode in modes:
                totals[mode] += best[mode]
    finally:
        html_extract.check_shape = check
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--show", type=int, default=10, help="pages printed side by side")
    parser.add_argument("--out", default="benchmarks/results/extractors.json")
    parser.add_argument("--shape-check", action="store_true", help="only time check_shape's cost")
    args = parser.parse_args()

    with open(SAMPLE, "rb") as f:
        pages = [json.loads(line) for line in io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f))]
    htmls = [p["html"] for p in pages]
    if args.shape_check:
        extract_html(htmls[0], ExtractConfig())  # imports and first-call set-up stay out of the timings
        totals = _shape_check_cost(htmls, args.repeats)
        print(
            json.dumps(
                {f"{mode}_s": round(t, 3) for mode, t in totals.items()}
                | {f"{mode}_ratio": round(t / totals["off"], 3) for mode, t in totals.items()}
            )
        )
        return
    mb = sum(len(h.encode()) for h in htmls) / 1e6
    configs = {name: ExtractConfig(extractor=name, timeout_s=0) for name in NAMES}
    fns = {name: (lambda h, c=configs[name]: extract_html(h, c)[0]) for name in NAMES}
    fns["all_text"] = _all_text
    for fn in fns.values():
        fn(htmls[0])  # imports and first-call set-up stay out of the timings
    outputs, best = _timed(fns, htmls, args.repeats)

    chrome = [_chrome_lines(h) for h in htmls]
    paragraphs = [_long_paragraphs(h) for h in htmls]
    seen = Counter((_site(page), p) for page, paras in zip(pages, paragraphs) for p in set(paras))
    repeated = {key for key, n in seen.items() if n >= 3}
    result: dict = {"pages": len(pages), "mb": round(mb, 3), "cpus": os.cpu_count(), "extractors": {}}
    left_over: dict[str, Counter] = defaultdict(Counter)
    for name, texts in outputs.items():
        kept = total = chrome_chars = out_chars = 0
        for page, text, paras, page_chrome in zip(pages, texts, paragraphs, chrome):
            site, flat = _site(page), _norm(text)
            unique = [p for p in paras if (site, p) not in repeated]
            kept += sum(p in flat for p in unique)
            total += len(unique)
            for line in filter(None, (_norm(x) for x in text.splitlines())):
                out_chars += len(line)
                if line in page_chrome:
                    chrome_chars += len(line)
                    left_over[name][line] += 1
        seconds = sorted(best[name])
        result["extractors"][name] = {
            "pages_per_s": round(len(pages) / sum(seconds), 1),
            "mb_per_s": round(mb / sum(seconds), 2),
            "p50_ms": round(1000 * seconds[len(seconds) // 2], 1),
            "max_ms": round(1000 * seconds[-1], 1),
            "empty_pages": sum(not t.strip() for t in texts),
            "mean_chars": round(sum(map(len, texts)) / len(texts)),
            "paragraph_recall": round(kept / total, 3),
            "chrome_share": round(chrome_chars / out_chars, 4),
        }
    step = max(1, len(pages) // max(1, args.show))
    for i in range(0, len(pages), step)[: args.show]:
        print(f"=== {pages[i]['url']} ({len(htmls[i])} chars of HTML)")
        for name in NAMES:
            text = outputs[name][i]
            print(f"--- {name}: {len(text)} chars\n{text[:400]}\n[...]\n{text[-200:]}")
    for name in NAMES:
        print(f"=== most frequent chrome lines left by {name}: {left_over[name].most_common(8)}")
    for name, r in result["extractors"].items():
        print(
            f"{name:12s} {r['pages_per_s']:7.1f} pages/s {r['mb_per_s']:6.2f} MB/s  p50 {r['p50_ms']:6.1f} ms  "
            f"max {r['max_ms']:7.1f} ms  empty {r['empty_pages']}  mean {r['mean_chars']} chars  "
            f"paragraph recall {r['paragraph_recall']}  chrome share {r['chrome_share']}"
        )
    ext = result["extractors"]
    result["speed_ratio"] = round(ext["resiliparse"]["pages_per_s"] / ext["trafilatura"]["pages_per_s"], 1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(
        json.dumps(
            {
                "speed_ratio_resiliparse_to_trafilatura": result["speed_ratio"],
                **{f"{n}_{k}": ext[n][k] for n in NAMES for k in ("pages_per_s", "paragraph_recall", "chrome_share")},
            }
        )
    )


if __name__ == "__main__":
    main()
