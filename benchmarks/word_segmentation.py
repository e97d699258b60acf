"""Our Chinese word split against datatrove's FineWeb-2 tokenizer, token for token, on real pages.

Usage: python -m benchmarks.word_segmentation [--pages GLOB ...] [--limit N]
(needs ``pip install -r benchmarks/requirements-web.txt``: datatrove and spaCy, not project
dependencies). Default pages: the Chinese HTML manuals Debian packages install under
/usr/share/doc (maint-guide-zh-cn, debian-edu-doc-zh-cn, debmake-doc, installation-guide,
the kernel's zh_CN/zh_TW translations in linux-doc: none of them in data/sample). Text is
extracted with our default extractor; each page's words from ``segmenters.chinese_words`` and from
``load_word_tokenizer("cmn_Hani")`` (spaCy ``zh`` with jieba) are compared: the share of pages whose
word lists are identical, the share of words in the longest common alignment, and characters/s of
each, page by page in turn. Last line: JSON.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import time

from pipeline.text.segmenters import chinese_words
from pipeline.web.html_extract import ExtractConfig, ExtractError, extract_html

ROOT = "/usr/share/doc"
DEFAULT_PAGES = [
    f"{ROOT}/**/*zh*/**/*.html",
    f"{ROOT}/**/*.zh*.html",
    f"{ROOT}/**/zh_CN/**/*.html",
    f"{ROOT}/**/zh_TW/**/*.html",
]


def _texts(patterns: list[str], limit: int) -> list[tuple[str, str]]:
    paths = sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True)})[:limit]
    out = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            try:
                text = extract_html(f.read(), ExtractConfig())[0]
            except ExtractError:
                continue
        if text.strip():
            out.append((path, text))
    return out


def _compare(ours: list[str], theirs: list[str]) -> float:
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", nargs="+", default=DEFAULT_PAGES)
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    theirs_tok = load_word_tokenizer("cmn_Hani")
    pages = _texts(args.pages, args.limit)
    if not pages:
        raise SystemExit(f"no pages matched {args.pages}")
    chinese_words(pages[0][1]), theirs_tok.word_tokenize(pages[0][1])  # both loaded before timing
    same = matched = total = 0
    seconds = {"ours": 0.0, "datatrove": 0.0}
    for _, text in pages:
        t = time.perf_counter()
        ours = chinese_words(text)
        seconds["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        theirs = theirs_tok.word_tokenize(text)
        seconds["datatrove"] += time.perf_counter() - t
        same += ours == theirs
        matched += _compare(ours, theirs)
        total += max(len(ours), len(theirs))
    chars = sum(len(t) for _, t in pages)
    result = {
        "pages": len(pages),
        "chars": chars,
        "pages_identical": round(same / len(pages), 4),
        "word_agreement": round(matched / max(1, total), 5),
        "chars_per_s": {k: round(chars / v) for k, v in seconds.items()},
        "speed_ratio": round(seconds["datatrove"] / seconds["ours"], 2),
    }
    print(f"{len(pages)} pages, {chars:,} characters of Chinese manuals")
    print(
        f"identical word lists: {result['pages_identical']:.2%} of pages; words aligned: {result['word_agreement']:.3%}"
    )
    print(f"chars/s: ours {result['chars_per_s']['ours']:,}, datatrove {result['chars_per_s']['datatrove']:,}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
