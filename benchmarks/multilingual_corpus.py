"""Real text of known language, built from Debian 12 (bookworm) documentation packages.

Usage: python -m benchmarks.multilingual_corpus --out DIR [--debs DIR]

Writes under ``--out``:
- ``calibration.jsonl``: first every page (200 characters or more) of the HTML manuals debian-faq(-de/-fr/-it/-ja/
  -ru/-zh-cn), developers-reference(-de/-fr/-it/-ja/-ru) and debian-edu-doc-(en/de/fr/ja/zh-cn), English originals
  included; then man pages of manpages-(cs/es/id/it/nl/pl/pt-br/ru/sv/tr/uk/vi), Mallard pages of gnome-user-docs
  (ko, pt, vi), DocBook sections of mate-user-guide (th) and HTML pages of libreoffice-help-hi (hi): documents of 300
  characters or more that are not left in English, at most 150 per package and language, evenly spaced in path order.
- ``heldout.jsonl``: maint-guide-(de/es/fr/it/ja/ru/zh-cn), 300 page-parallel pages of gimp-help-(de/fr/ja) and the man
  pages of manpages-(de/fr/ja/zh), zh as Simplified (zh_CN) and Traditional (zh_TW).
- ``zh_parallel.jsonl``: the manpages-zh pages present in both zh_CN and zh_TW (upstream derives zh_TW from zh_CN with
  OpenCC, so these are script conversions, not independent translations).
- ``PROVENANCE.md``: packages, versions, sha256, licences, filter and document counts.

None of these packages is in data/sample, so the text is new to the pipeline. benchmarks/multilingual_filters.py and
benchmarks/langid_calibration.py read the output. A record's ``lang`` (a lid.176 code) is the language of the
translation it belongs to, not a detection result.

The .debs come from ``--debs`` (default ``OUT/debs``); a missing one is fetched there with ``apt-get download``. Each is
unpacked with ``dpkg-deb -x`` into a temporary folder under ``--out``, removed at the end. Two extraction recipes are
kept as they were built and checked, one per half of calibration.jsonl: the manuals half renders man pages with groff
directly and HTML with an lxml walker; the translations half renders man pages with ``man -l`` and drops pages left
in English. Deterministic: sorted file lists, fixed sampling, no randomness. Last line: JSON with document counts per
file and language.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import lxml.etree as etree
import lxml.html

log = logging.getLogger("multilingual_corpus")

Doc = dict[str, Any]

# ----------------------------------------------------------------------------------------------------- packages

# Manuals half (calibration, heldout, zh_parallel): package -> (lid.176 code, ISO 15924 script).
HTML_CALIBRATION = {
    "debian-faq": ("en", "Latn"),
    "debian-faq-de": ("de", "Latn"),
    "debian-faq-fr": ("fr", "Latn"),
    "debian-faq-it": ("it", "Latn"),
    "debian-faq-ja": ("ja", "Jpan"),
    "debian-faq-ru": ("ru", "Cyrl"),
    "debian-faq-zh-cn": ("zh", "Hans"),
    "developers-reference": ("en", "Latn"),
    "developers-reference-de": ("de", "Latn"),
    "developers-reference-fr": ("fr", "Latn"),
    "developers-reference-it": ("it", "Latn"),
    "developers-reference-ja": ("ja", "Jpan"),
    "developers-reference-ru": ("ru", "Cyrl"),
    "debian-edu-doc-en": ("en", "Latn"),
    "debian-edu-doc-de": ("de", "Latn"),
    "debian-edu-doc-fr": ("fr", "Latn"),
    "debian-edu-doc-ja": ("ja", "Jpan"),
    "debian-edu-doc-zh-cn": ("zh", "Hans"),
}
MAINT_GUIDES = {
    "maint-guide-de": ("de", "Latn"),
    "maint-guide-es": ("es", "Latn"),
    "maint-guide-fr": ("fr", "Latn"),
    "maint-guide-it": ("it", "Latn"),
    "maint-guide-ja": ("ja", "Jpan"),
    "maint-guide-ru": ("ru", "Cyrl"),
    "maint-guide-zh-cn": ("zh", "Hans"),
}
GIMP_HELP = {"gimp-help-de": ("de", "Latn"), "gimp-help-fr": ("fr", "Latn"), "gimp-help-ja": ("ja", "Jpan")}
GROFF_MAN = {  # (package, man subdirectory) -> (lang, script)
    ("manpages-de", "de"): ("de", "Latn"),
    ("manpages-fr", "fr"): ("fr", "Latn"),
    ("manpages-ja", "ja"): ("ja", "Jpan"),
    ("manpages-zh", "zh_CN"): ("zh", "Hans"),
    ("manpages-zh", "zh_TW"): ("zh", "Hant"),
}
MANUAL_MIN_CHARS = 200
GIMP_PAGES = 300
DEVREF_SKIP = ("developers-reference.html", "search.html", "genindex.html")  # one-page duplicate, search stub, index

# Translations half (appended to calibration): package -> (man subdirectory, lang).
L10N_MAN = {
    "manpages-cs": ("cs", "cs"),
    "manpages-es": ("es", "es"),
    "manpages-id": ("id", "id"),
    "manpages-it": ("it", "it"),
    "manpages-nl": ("nl", "nl"),
    "manpages-pl": ("pl", "pl"),
    "manpages-pt-br": ("pt_BR", "pt"),
    "manpages-ru": ("ru", "ru"),
    "manpages-sv": ("sv", "sv"),
    "manpages-tr": ("tr", "tr"),
    "manpages-uk": ("uk", "uk"),
    "manpages-vi": ("vi", "vi"),
}
GNOME_LANGS = {"ko": "ko", "ar": "ar", "hi": "hi", "th": "th", "tr": "tr", "vi": "vi", "pt": "pt"}  # ar, th absent
MATE_LANGS = {"ar": "ar", "hi": "hi", "th": "th"}  # gnome-user-docs has no ar/th and an untranslated hi
L10N_MIN_CHARS = 300
PER_LANGUAGE = 150
MAX_UNTRANSLATED = 0.2  # a page with more of its characters in English than this is the original, not a translation
MIN_NATIVE = 0.7  # mate-user-guide, libreoffice-help-hi: share of native-script letters among native + Latin ones

GNOME, MATE, LOHELP, GIMP_COMMON = "gnome-user-docs", "mate-user-guide", "libreoffice-help-hi", "gimp-help-common"
PACKAGES = sorted(
    {*HTML_CALIBRATION, *MAINT_GUIDES, *GIMP_HELP, *(pkg for pkg, _ in GROFF_MAN), *L10N_MAN, GNOME, MATE, LOHELP}
    | {GIMP_COMMON}  # holds gimp-help-*'s copyright file
)
LICENCE_NOTES = {  # copyright files without a DEP-5 ``License:`` field
    "debian-faq": "no `License:` field; free-form GNU-manual-style notice: 'Copyright (C) 1996-2003 Software in the "
    "Public Interest ... Permission is granted to make and distribute verbatim copies ... modified versions ... "
    "translations'",
    "manpages-ja": "no `License:` field; pages carry the (varied, DFSG-free) licences of the English originals; "
    "translations Copyright (C) JM Project",
    "manpages-tr": "no `License:` field; the English originals keep their licence and copyright, GNU GPL for files and "
    "translations that carry none (Turkish Linux Documentation WG)",
}


def _ok(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}")
    return done


class Debs:
    """The .debs read: taken from a folder or fetched into it, each unpacked once into a scratch folder."""

    def __init__(self, folder: str, scratch: str) -> None:
        self.folder, self.scratch = folder, scratch
        self.files: dict[str, str] = {}
        self.roots: dict[str, str] = {}

    def fetch(self, pkg: str) -> str:
        """The package's .deb; ``apt-get download`` when the folder has none, so a fresh machine can rebuild."""
        if pkg not in self.files:
            found = sorted(glob.glob(os.path.join(self.folder, f"{pkg}_*.deb")))
            if not found:
                log.info("apt-get download %s", pkg)
                os.makedirs(self.folder, exist_ok=True)
                _ok(["apt-get", "download", pkg], cwd=self.folder)
                found = sorted(glob.glob(os.path.join(self.folder, f"{pkg}_*.deb")))
            if len(found) != 1:
                raise SystemExit(f"expected one {pkg}_*.deb in {self.folder}, found {found}")
            self.files[pkg] = found[0]
        return self.files[pkg]

    def root(self, pkg: str) -> str:
        """Where the package is unpacked (unpacked on first use)."""
        if pkg not in self.roots:
            dest = os.path.join(self.scratch, pkg)
            os.makedirs(dest)
            _ok(["dpkg-deb", "-x", self.fetch(pkg), dest])
            self.roots[pkg] = dest
        return self.roots[pkg]

    def version(self, pkg: str) -> str:
        return _ok(["dpkg-deb", "-f", self.fetch(pkg), "Version"]).stdout.strip()

    def sha256(self, pkg: str) -> str:
        with open(self.fetch(pkg), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def licence(self, pkg: str) -> str:
        """First ``License:`` line of the copyright file (following a doc folder that links to another package)."""
        doc, note = os.path.join(self.root(pkg), "usr/share/doc", pkg), ""
        if os.path.islink(doc):
            other = os.path.basename(os.readlink(doc))
            doc, note = os.path.join(self.root(other), "usr/share/doc", other), f" (copyright of {other})"
        path = os.path.join(doc, "copyright")
        if not os.path.exists(path):
            return "copyright file not found" + note
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                match = re.match(r"^Licen[cs]e:\s*(.+)$", line)
                if match:
                    return match.group(1).strip() + note
        return next((v for k, v in LICENCE_NOTES.items() if pkg.startswith(k)), "no `License:` field") + note


def regular_files(base: str) -> list[str]:
    """Every file under base, symlinks left out (they duplicate a page under another name), sorted."""
    found = []
    for folder, _, names in os.walk(base):
        found += [os.path.join(folder, n) for n in names if not os.path.islink(os.path.join(folder, n))]
    return sorted(found)


def installed(path: str, root: str) -> str:
    """The path a file has once the package is installed."""
    return "/" + os.path.relpath(path, root)


# ----------------------------------------------------------------------------------------------------- manual text

DROP_TAGS = {
    "script", "style", "head", "noscript", "form", "button", "input", "select", "textarea", "nav", "iframe", "svg",
    "map", "object", "embed",
}  # fmt: skip
DROP_CLASSES = {
    "navheader", "navfooter", "toc", "list-of-figures", "list-of-tables", "list-of-examples", "list-of-procedures",
    "list-of-equations", "related", "sphinxsidebar", "sphinxsidebarwrapper", "footer", "clearer", "searchformwrapper",
    "headerlink", "toctree-wrapper", "breadcrumbs",
}  # fmt: skip
BLOCK = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "ul", "ol", "dl", "table", "section",
    "article", "hr", "figure", "address", "center", "caption", "fieldset", "main", "aside", "body", "html",
    "figcaption", "details", "summary", "menu", "dir",
}  # fmt: skip
LINE = {"li", "dt", "dd", "tr", "br", "thead", "tbody", "tfoot"}
COMPACT = {"li", "dt", "dd", "td", "th"}  # inside these a paragraph break becomes a line break
CELL = {"td", "th"}
MALLARD_BLOCK = {
    "title", "p", "item", "section", "note", "list", "terms", "steps", "tree", "table", "tr", "code", "screen",
    "example", "synopsis", "figure", "desc", "listing", "quote", "comment", "subtitle", "links", "page", "div",
}  # fmt: skip
CJK = (
    r"\u2e80-\u2fff\u3000-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    r"\uff00-\uffef"
)
CJK_NEWLINE = re.compile(rf"(?<=[{CJK}])[ \t\r]*\n[ \t\r\n]*(?=[{CJK}])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
GROFF = ["groff", "-K", "utf-8", "-t", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=5000n", "-rHY=0", "-rcR=1"]


class TextOut:
    """Text with pending breaks, so that nested blocks give one blank line, not several."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0  # 0 none, 1 line break, 2 blank line
        self.space = False

    def brk(self, n: int) -> None:
        self.pending = max(self.pending, n)
        self.space = False

    def add(self, s: str | None, pre: bool) -> None:
        """Preformatted text as it is; other text whitespace-collapsed (line breaks inside CJK text dropped)."""
        if not s:
            return
        if pre:
            self._emit(s, False)
            self.space = False
            return
        s = CJK_NEWLINE.sub("", s)
        lead, trail = s[:1].isspace(), s[-1:].isspace()
        s = re.sub(r"\s+", " ", s).strip()
        if not s:
            self.space = self.space or lead or trail
            return
        self._emit(s, lead)
        self.space = trail

    def _emit(self, s: str, lead: bool) -> None:
        if self.parts:
            if self.pending:
                self.parts.append("\n" * self.pending)
            elif (self.space or lead) and not self.parts[-1].endswith(("\n", " ")):
                self.parts.append(" ")
        self.pending = 0
        self.parts.append(s)

    def result(self) -> str:
        text = CONTROL.sub("", "".join(self.parts))
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _walk_html(el: Any, out: TextOut, compact: bool, in_pre: bool) -> None:
    """Body text minus navigation and chrome: blocks apart by a blank line, list items and rows by a line break."""
    if not isinstance(el.tag, str):  # comment or processing instruction
        out.add(el.tail, in_pre)
        return
    tag = el.tag.split("}")[-1].lower()
    if tag in DROP_TAGS or set((el.get("class") or "").split()) & DROP_CLASSES:
        out.add(el.tail, in_pre)
        return
    is_pre = in_pre or tag == "pre"
    brk = (1 if compact else 2) if tag in BLOCK else 1 if tag in LINE else 0
    if tag in CELL:
        out.space = True
    if brk:
        out.brk(brk)
    out.add(el.text, is_pre)
    for child in el:
        _walk_html(child, out, compact or tag in COMPACT, is_pre)
    if brk:
        out.brk(brk)
    if tag in CELL:
        out.space = True
    out.add(el.tail, in_pre)


def html_text(path: str) -> str:
    """A manual page's text; on Sphinx pages only the main body (role=main), elsewhere the whole <body>."""
    with open(path, "rb") as f:
        doc = lxml.html.document_fromstring(f.read())
    main = doc.xpath('//div[@role="main"]') or doc.xpath(
        '//div[contains(concat(" ", normalize-space(@class), " "), " body ")]'
    )
    body = doc.find("body")
    out = TextOut()
    _walk_html(main[0] if main else body if body is not None else doc, out, False, False)
    return out.result()


def _walk_mallard(el: Any, out: TextOut, compact: bool, in_pre: bool) -> None:
    """Mallard like HTML: <info> and editorial <comment> left out, inline <code> kept in its paragraph."""
    if not isinstance(el.tag, str):
        out.add(el.tail, in_pre)
        return
    tag = el.tag.split("}")[-1]
    if tag in ("info", "comment"):
        out.add(el.tail, in_pre and tag == "info")
        return
    parent = el.getparent()
    inline_parent = parent is not None and parent.tag.split("}")[-1] in ("p", "item", "title", "td")
    is_pre = in_pre or (tag in ("code", "screen") and not inline_parent)
    brk = 0
    if tag in MALLARD_BLOCK and not (tag == "code" and not is_pre):
        brk = 1 if compact or tag in ("item", "tr") else 2
    if brk:
        out.brk(brk)
    out.add(el.text, is_pre)
    for child in el:
        _walk_mallard(child, out, compact or tag in ("item", "td"), is_pre)
    if brk:
        out.brk(brk)
    out.add(el.tail, in_pre)


def mallard_text(path: str) -> str:
    out = TextOut()
    _walk_mallard(etree.parse(path).getroot(), out, False, False)
    return out.result()


def _is_so_stub(source: str) -> bool:
    """A page that only sources another one (``.so``): a duplicate, not text."""
    lines = [line for line in source.splitlines() if line.strip() and not re.match(r"^[.']\s*\\\"", line)]
    return len(lines) <= 2 and any(re.match(r"^\s*\.so\s", line) for line in lines)


def groff_text(path: str) -> str | None:
    """A man page as ``man`` shows it, one line per filled paragraph (very long line length, no hyphenation),
    without the running header and footer; None for a ``.so`` stub."""
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    if _is_so_stub(raw.decode("utf-8")):
        return None
    env = dict(os.environ, LC_ALL="C.UTF-8", GROFF_NO_SGR="1")
    done = subprocess.run(GROFF, input=raw, capture_output=True, env=env, timeout=120)
    text = CONTROL.sub("", re.sub(r".\x08", "", done.stdout.decode("utf-8", "replace")))
    lines = text.split("\n")
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if len(nonblank) >= 2:
        lines = lines[nonblank[0] + 1 : nonblank[-1]]
    lines = [re.sub(r" {3,}", "  ", line.replace("\u00ad", "").strip()) for line in lines]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# ----------------------------------------------------------------------------------------------------- manuals half


class Manuals:
    """calibration (HTML manuals), heldout (maint-guide, gimp-help, man pages), zh_parallel, and what was skipped."""

    def __init__(self, debs: Debs) -> None:
        self.debs = debs
        self.calibration: list[Doc] = []
        self.heldout: list[Doc] = []
        self.pairs: list[Doc] = []
        self.skipped: list[tuple[str, str, str]] = []  # (file, id, why)
        self.notes: dict[str, Any] = {}

    def html_docs(self, pkg: str, lang: str, script: str, under: str = "") -> list[Doc]:
        """Every content page of a package (Sphinx assets, single-page duplicates and search stubs left out)."""
        root, version = self.debs.root(pkg), self.debs.version(pkg)
        docs = []
        for path in regular_files(root):
            rel, name = installed(path, root), os.path.basename(path)
            if not name.endswith((".html", ".htm")) or "/_static/" in rel or "/_sources/" in rel or under not in rel:
                continue
            if pkg.startswith("developers-reference") and name in DEVREF_SKIP:
                continue
            docs.append(_doc(pkg, lang, script, version, rel, html_text(path)))
        return docs

    def keep(self, file: str, rows: list[Doc], docs: list[Doc]) -> None:
        for doc in docs:
            if len(doc["text"]) < MANUAL_MIN_CHARS:
                self.skipped.append((file, doc["id"], "short"))
            else:
                rows.append(doc)

    def gimp(self) -> None:
        """The same pages in every language: those with enough text in all three, GIMP_PAGES of them evenly spaced."""
        per: dict[str, dict[str, Doc]] = {}
        for pkg, (lang, script) in sorted(GIMP_HELP.items()):
            docs = self.html_docs(pkg, lang, script, under="/usr/share/gimp/2.0/help/")
            per[pkg] = {os.path.basename(doc["path"]): doc for doc in docs}
        long_enough = [{n for n, d in pages.items() if len(d["text"]) >= MANUAL_MIN_CHARS} for pages in per.values()]
        names = sorted(set.intersection(*long_enough))
        n = len(names)
        picked = [names[(i * n) // GIMP_PAGES] for i in range(GIMP_PAGES)] if n > GIMP_PAGES else names
        self.notes["gimp"] = {"pages": {p: len(v) for p, v in per.items()}, "eligible": n, "picked": len(picked)}
        for pkg in sorted(per):
            self.heldout += [per[pkg][name] for name in picked]

    def man_pages(self) -> dict[str, Doc]:
        """Every man page of manpages-de/fr/ja/zh into heldout; all rendered pages returned for the zh pairs."""
        rendered = {}
        for (pkg, sub), (lang, script) in sorted(GROFF_MAN.items()):
            root, version = self.debs.root(pkg), self.debs.version(pkg)
            for path in regular_files(os.path.join(root, "usr/share/man", sub)):
                doc = _doc(pkg, lang, script, version, installed(path, root), groff_text(path))
                if doc["text"] is None:
                    self.skipped.append(("heldout.jsonl", doc["id"], ".so stub"))
                    continue
                rendered[doc["id"]] = doc
                self.keep("heldout.jsonl", self.heldout, [doc])
            log.info("%s %s: %d man pages rendered so far", pkg, sub, len(rendered))
        return rendered

    def zh_pairs(self, rendered: dict[str, Doc]) -> None:
        """manpages-zh pages under the same name in zh_CN and zh_TW; gnome-user-docs Mallard pages likewise."""
        side = {
            loc: {d["path"].split(f"/{loc}/", 1)[1]: d for d in rendered.values() if f"/{loc}/" in d["path"]}
            for loc in ("zh_CN", "zh_TW")
        }
        cn, tw = side["zh_CN"], side["zh_TW"]
        for name in sorted(set(cn) & set(tw)):
            hans, hant = cn[name]["text"], tw[name]["text"]
            if min(len(hans), len(hant)) >= MANUAL_MIN_CHARS:
                self.pairs.append(_pair(name, "manpage", "manpages-zh", cn[name]["version"], hans, hant))
        self.notes["zh_man"] = {"zh_CN": len(cn), "zh_TW": len(tw), "both": len(set(cn) & set(tw))}
        help_root = os.path.join(self.debs.root(GNOME), "usr/share/help")
        pages = {
            loc: {os.path.relpath(p, os.path.join(help_root, loc)): p for p in glob.glob(f"{help_root}/{loc}/*/*.page")}
            for loc in ("zh_CN", "zh_TW")
        }
        both = sorted(set(pages["zh_CN"]) & set(pages["zh_TW"]))
        self.notes["gnome"] = {"zh_CN": len(pages["zh_CN"]), "zh_TW": len(pages["zh_TW"]), "both": len(both)}
        self.notes["gnome"]["locales"] = sorted(os.listdir(help_root))
        for name in both:
            hans, hant = mallard_text(pages["zh_CN"][name]), mallard_text(pages["zh_TW"][name])
            if min(len(hans), len(hant)) >= MANUAL_MIN_CHARS:
                version = self.debs.version(GNOME)
                self.pairs.append(_pair(name, "independent-translation", GNOME, version, hans, hant))

    def build(self) -> None:
        for pkg, (lang, script) in sorted(HTML_CALIBRATION.items()):
            self.keep("calibration.jsonl", self.calibration, self.html_docs(pkg, lang, script))
        for pkg, (lang, script) in sorted(MAINT_GUIDES.items()):
            self.keep("heldout.jsonl", self.heldout, self.html_docs(pkg, lang, script))
        log.info("manuals: %d calibration, %d maint-guide pages", len(self.calibration), len(self.heldout))
        self.gimp()
        self.zh_pairs(self.man_pages())
        order = lambda r: (r["lang"], r["script"], r["package"], r["path"])  # noqa: E731
        self.calibration.sort(key=order)
        self.heldout.sort(key=order)
        self.pairs.sort(key=lambda r: (r["kind"], r["name"]))


def _doc(pkg: str, lang: str, script: str, version: str, rel: str, text: str | None) -> Doc:
    return {"id": f"{pkg}:{rel}", "lang": lang, "script": script, "package": pkg, "version": version, "path": rel,
            "text": text}  # fmt: skip


def _pair(name: str, kind: str, pkg: str, version: str, hans: str, hant: str) -> Doc:
    return {"name": name, "kind": kind, "package": pkg, "version": version, "hans": hans, "hant": hant}


# ---------------------------------------------------------------------------------------------------- translations half

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAL = "{http://projectmallard.org/1.0/}"
MAL_BLOCK = {MAL + "title", MAL + "p", MAL + "item"}
MAL_EMIT = MAL_BLOCK | {MAL + "code"}
MAL_SKIP = {MAL + "info", MAL + "comment"}  # metadata and editorial notes, not shown
DB = "{http://docbook.org/ns/docbook}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
DB_BLOCK = {
    DB + t
    for t in ("title", "para", "simpara", "term", "entry", "screen", "programlisting", "literallayout", "glossterm",
              "member")
}  # fmt: skip
DB_SKIP = {
    DB + t
    for t in ("indexterm", "remark", "textobject", "anchor", "othercredit", "copyright", "titleabbrev", "author",
              "authorgroup", "revhistory", "publisher", "legalnotice", "abstract")
}  # fmt: skip
SCRIPT_RANGES = {
    "ar": "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff",
    "hi": "\u0900-\u097f",
    "th": "\u0e00-\u0e7f",
}
EN_MARK = {"the", "and", "that", "this", "with", "which", "from", "are", "you", "will", "for", "not", "when", "should",
           "can", "by"}  # fmt: skip


def norm_ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _blocks_text(raw: str) -> str:
    """``man`` output without overstrikes or colour codes: runs of non-blank lines, whitespace-collapsed, as blocks."""
    raw = ANSI.sub("", raw)
    while "\x08" in raw:
        new = re.sub(r".\x08", "", raw)
        if new == raw:
            raw = raw.replace("\x08", "")
            break
        raw = new
    blocks, current = [], []
    for line in raw.split("\n"):
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if line:
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return "\n\n".join(blocks)


def man_text(path: str) -> str | None:
    """A man page through ``man -l`` (header and footer kept, as a plain extractor keeps them); None for a redirect."""
    with gzip.open(path, "rb") as f:
        if f.read(200).lstrip().startswith(b".so "):
            return None
    env = dict(os.environ, MANWIDTH="10000", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    done = subprocess.run(["man", "-l", path], env=env, capture_output=True)
    return _blocks_text(done.stdout.decode("utf-8", "replace"))


def _inner_blocks(root: Any, block: set[str], emit: set[str], skip: set[str]) -> list[str]:
    """The text of each innermost block element (inline children included), skipped subtrees left out."""
    out: list[str] = []

    def text(el: Any) -> Any:
        if not isinstance(el.tag, str) or el.tag in skip:  # comments are not text; their tail is
            return
        if el.text:
            yield el.text
        for child in el:
            yield from text(child)
            if child.tail:
                yield child.tail

    def walk(el: Any) -> None:
        if el.tag in skip:
            return
        if el.tag in emit and not any(d is not el and d.tag in block for d in el.iter()):
            block_text = norm_ws("".join(text(el)))
            if block_text:
                out.append(block_text)
            return
        for child in el:
            walk(child)

    walk(root)
    return out


def page_blocks(path: str) -> list[str]:
    """A Mallard page's title/p/item/code blocks (<info> and <comment> left out)."""
    return _inner_blocks(etree.parse(path).getroot(), MAL_BLOCK, MAL_EMIT, MAL_SKIP)


def docbook_units(path: str) -> list[tuple[str, list[str]]]:
    """One unit per top-level <section> of a chapter file plus the chapter's own text; without sections, the file."""
    root = etree.parse(path).getroot()
    sections = [c for c in root if c.tag == DB + "section"]
    if not sections:
        return [("", _inner_blocks(root, DB_BLOCK, DB_BLOCK, DB_SKIP))]
    head = []
    for child in root:
        if child.tag != DB + "section" and isinstance(child.tag, str):
            head += _inner_blocks(child, DB_BLOCK, DB_BLOCK, DB_SKIP)
    units = [("#" + (root.get(XML_ID) or ""), head)]
    return units + [("#" + (s.get(XML_ID) or ""), _inner_blocks(s, DB_BLOCK, DB_BLOCK, DB_SKIP)) for s in sections]


class LOHelpText(HTMLParser):
    """Text of div#DisplayArea of a LibreOffice help page (viewer chrome left out), one block per block element."""

    BLOCK = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "dt", "dd", "div", "tr", "br"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # div depth inside DisplayArea, 0 outside
        self.skip = 0
        self.buf: list[str] = []
        self.blocks: list[str] = []

    def flush(self) -> None:
        text = norm_ws("".join(self.buf))
        if text:
            self.blocks.append(text)
        self.buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif self.depth == 0:
            if tag == "div" and dict(attrs).get("id") == "DisplayArea":
                self.depth = 1
        else:
            self.depth += tag == "div"
            if tag in self.BLOCK:
                self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif self.depth:
            if tag in self.BLOCK:
                self.flush()
            self.depth -= tag == "div"

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.buf.append(data)


def lohelp_blocks(path: str) -> list[str]:
    parser = LOHelpText()
    with open(path, encoding="utf-8") as f:
        parser.feed(f.read())
    parser.close()
    parser.flush()
    return parser.blocks


def native_share(text: str, lang: str) -> float:
    native = len(re.findall(f"[{SCRIPT_RANGES[lang]}]", text))
    latin = len(re.findall("[A-Za-z\u00c0-\u024f]", text))
    return native / max(1, native + latin)


def en_share(text: str) -> float:
    """Share of characters in English blocks: a block with >= 6 words, >= 2 of them (and >= 12 %) EN_MARK words.
    po4a leaves paragraphs it has no translation for in English."""
    total = english = 0
    for para in text.split("\n\n"):
        words = re.findall(r"[^\W\d_]+", para.lower())
        marks = sum(w in EN_MARK for w in words)
        total += len(para)
        if len(words) >= 6 and marks >= 2 and marks / len(words) >= 0.12:
            english += len(para)
    return english / max(1, total)


def evenly(items: list[Any], k: int) -> list[Any]:
    """At most k items, every (n/k)-th, so that a sample spans the whole package."""
    n = len(items)
    return items if n <= k else [items[(i * n) // k] for i in range(k)]


def _left_in_english(blocks: list[str], english_path: str) -> float:
    """Share of a page's characters in blocks identical to the English (C) page's (with >= 3 ASCII letters in a row)."""
    english = set(page_blocks(english_path)) if os.path.exists(english_path) else set()
    left = sum(len(b) for b in blocks if b in english and re.search(r"[A-Za-z]{3}", b))
    return left / max(1, sum(len(b) for b in blocks))


class Translations:
    """The translations half of calibration.jsonl (man pages and help), with per (package, lang) filter counts."""

    def __init__(self, debs: Debs) -> None:
        self.debs = debs
        self.records: list[Doc] = []
        self.counts: dict[tuple[str, str], Counter] = defaultdict(Counter)

    def take(self, pkg: str, lang: str, docs: list[tuple[str, str]]) -> None:
        self.counts[(pkg, lang)]["eligible"] = len(docs)
        version = self.debs.version(pkg)
        for rel, text in evenly(docs, PER_LANGUAGE):
            self.records.append({"id": f"{pkg}:{rel}", "lang": lang, "package": pkg, "version": version, "path": rel,
                                 "text": text})  # fmt: skip

    def passes(self, pkg: str, lang: str, text: str, untranslated: Callable[[], float]) -> bool:
        """Long enough and mostly translated (share of untranslated text measured only on long ones); counts why not."""
        why = "short" if len(text) < L10N_MIN_CHARS else "untranslated" if untranslated() > MAX_UNTRANSLATED else ""
        if why:
            self.counts[(pkg, lang)][why] += 1
        return not why

    def man_pages(self) -> None:
        for pkg, (sub, lang) in sorted(L10N_MAN.items()):
            root = self.debs.root(pkg)
            entries = glob.glob(os.path.join(root, "usr/share/man", sub, "man*/*"))
            self.counts[(pkg, lang)]["symlinks"] = sum(os.path.islink(p) for p in entries)
            docs = []
            for path in sorted(p for p in entries if os.path.isfile(p) and not os.path.islink(p)):
                text = man_text(path)
                if text is None:
                    self.counts[(pkg, lang)]["so-redirect"] += 1
                elif self.passes(pkg, lang, text, lambda text=text: en_share(text)):
                    docs.append((installed(path, root), text))
            self.take(pkg, lang, docs)
            log.info("%s: %d eligible man pages", pkg, len(docs))

    def gnome(self) -> None:
        """Mallard pages of the languages the man pages lack; hi, tr and most of vi are the English original."""
        root = self.debs.root(GNOME)
        help_root = os.path.join(root, "usr/share/help")
        for folder, lang in sorted(GNOME_LANGS.items()):
            base = os.path.join(help_root, folder)
            if not os.path.isdir(base):
                self.counts[(GNOME, lang)]["language-absent"] = 1
                continue
            docs = []
            for path in sorted(p for p in glob.glob(base + "/*/*.page") if os.path.isfile(p) and not os.path.islink(p)):
                blocks = page_blocks(path)
                english_path = os.path.join(help_root, "C", os.path.relpath(path, base))
                text = "\n\n".join(blocks)
                if self.passes(GNOME, lang, text, lambda b=blocks, e=english_path: _left_in_english(b, e)):
                    docs.append((installed(path, root), text))
            self.take(GNOME, lang, docs)

    def native(self, pkg: str, lang: str, units: list[tuple[str, str]]) -> None:
        """Keep units mostly in the language's own script (ar, hi, th: Latin letters there are English)."""
        docs = []
        for rel, text in units:
            if self.passes(pkg, lang, text, lambda t=text: float(native_share(t, lang) < MIN_NATIVE)):
                docs.append((rel, text))
        self.take(pkg, lang, docs)

    def build(self) -> None:
        self.man_pages()
        self.gnome()
        root = self.debs.root(MATE)
        for folder, lang in sorted(MATE_LANGS.items()):
            files = sorted(glob.glob(os.path.join(root, "usr/share/help", folder, "mate-user-guide/*.xml")))
            units = [(installed(p, root) + frag, "\n\n".join(b)) for p in files for frag, b in docbook_units(p)]
            self.native(MATE, lang, units)
        root = self.debs.root(LOHELP)
        files = sorted(glob.glob(os.path.join(root, "usr/share/libreoffice/help/hi/text/**/*.html"), recursive=True))
        self.native(LOHELP, "hi", [(installed(p, root), "\n\n".join(lohelp_blocks(p))) for p in files])
        log.info("translations: %d documents", len(self.records))


# ----------------------------------------------------------------------------------------------------- output


def write_jsonl(path: str, rows: list[Doc]) -> None:
    """One JSON object per line, keys in schema order; a repeated id would mean a page was taken twice."""
    seen: set[Any] = set()
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            key = row.get("id") or (row["kind"], row["name"])
            if key in seen:
                raise SystemExit(f"{os.path.basename(path)}: {key} twice")
            seen.add(key)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def counts(files: dict[str, list[Doc]]) -> dict[str, dict[str, int]]:
    """Documents per file and language (a zh_parallel pair counts once, as zh)."""
    return {name: dict(sorted(Counter(row.get("lang", "zh") for row in rows).items())) for name, rows in files.items()}


def _package_table(debs: Debs, files: dict[str, list[Doc]]) -> list[str]:
    used: dict[str, set[str]] = defaultdict(set)
    for name, rows in files.items():
        for row in rows:
            used[row["package"]].add(name)
    lines = ["## Packages\n", "| package | version | .deb | sha256 | licence | used in |", "|---|---|---|---|---|---|"]
    for pkg in PACKAGES:
        use = ", ".join(sorted(used[pkg])) or ("licence only" if pkg == GIMP_COMMON else "none (nothing passed)")
        deb = os.path.basename(debs.fetch(pkg))
        lines.append(f"| {pkg} | {debs.version(pkg)} | {deb} | `{debs.sha256(pkg)}` | {debs.licence(pkg)} | {use} |")
    return lines + [""]


def _document_table(files: dict[str, list[Doc]]) -> list[str]:
    """Documents and characters per (file, package, lang, script); pairs count each side."""
    lines = ["## Documents per package\n", "Characters: Unicode code points of `text` (`hans`, `hant` for pairs).\n"]
    lines += ["| file | package | lang | script | docs | chars | mean chars/doc |", "|---|---|---|---|---:|---:|---:|"]
    for name, rows in files.items():
        agg: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in rows:
            pair = "hans" in row
            sides = [("Hans", row["hans"]), ("Hant", row["hant"])] if pair else [(row.get("script", ""), row["text"])]
            for script, text in sides:
                cell = agg[(row["package"], row.get("lang", "zh"), script)]
                cell[0] += 1
                cell[1] += len(text)
        for (pkg, lang, script), (n, chars) in sorted(agg.items()):
            lines.append(f"| {name} | {pkg} | {lang} | {script} | {n} | {chars:,} | {chars // n:,} |")
    return lines + [""]


def _filter_table(translations: Translations) -> list[str]:
    """What the translations half's filters left out, per (package, lang)."""
    lines = ["## Translations half of calibration.jsonl: filters\n"]
    lines += ["| package | lang | symlinks | .so redirects | < 300 chars | untranslated | eligible | docs |"]
    lines += ["|---|---|---:|---:|---:|---:|---:|---:|"]
    docs = Counter((r["package"], r["lang"]) for r in translations.records)
    for (pkg, lang), c in sorted(translations.counts.items()):
        if c["language-absent"]:
            lines.append(f"| {pkg} | {lang} | no usr/share/help/{lang} in the package | | | | 0 | 0 |")
            continue
        cells = [c["symlinks"], c["so-redirect"], c["short"], c["untranslated"], c["eligible"], docs[(pkg, lang)]]
        lines.append(f"| {pkg} | {lang} | " + " | ".join(map(str, cells)) + " |")
    return lines + [""]


def _manual_notes(manuals: Manuals) -> list[str]:
    skipped = Counter((file, doc_id.split(":")[0], why) for file, doc_id, why in manuals.skipped)
    gimp, zh_man, gnome = manuals.notes["gimp"], manuals.notes["zh_man"], manuals.notes["gnome"]
    lines = ["## Manuals half: selection\n"]
    lines.append(
        "Skipped: "
        + ("; ".join(f"{file} / {pkg}: {n} x {why}" for (file, pkg, why), n in sorted(skipped.items())) or "none")
        + f" (pages under {MANUAL_MIN_CHARS} characters, `.so` stubs)."
    )
    pages = ", ".join(f"{pkg} {n}" for pkg, n in gimp["pages"].items())
    lines.append(
        f"\ngimp-help HTML pages: {pages}; {gimp['eligible']} names have >= {MANUAL_MIN_CHARS} characters in all three "
        f"languages; {gimp['picked']} evenly spaced names (floor(i*n/{GIMP_PAGES})) taken in every language."
    )
    lines.append(
        f"\nzh_parallel: manpages-zh has {zh_man['zh_CN']} zh_CN and {zh_man['zh_TW']} zh_TW pages, {zh_man['both']} "
        f"under the same name. gnome-user-docs has {gnome['zh_CN']} zh_CN and {gnome['zh_TW']} zh_TW Mallard pages "
        f"({gnome['both']} in both; locales: {', '.join(gnome['locales'])})."
    )
    return lines + [""]


def write_provenance(out: str, debs: Debs, manuals: Manuals, translations: Translations, files: dict) -> None:
    lines = [
        "# Provenance\n",
        "Built by `python -m benchmarks.multilingual_corpus` from Debian 12 (bookworm) packages (`dpkg-deb -x`); "
        "see its docstring for what each file holds and how. Deterministic: sorted file lists, fixed sampling. "
        "calibration.jsonl is the manuals half (sorted by lang, script, package, path; records carry `script`) "
        "followed by the translations half (man pages and help, in build order; no `script`). zh_parallel.jsonl: "
        "`{name, kind, package, version, hans, hant}`; the zh_TW man pages are OpenCC conversions of zh_CN.\n",
        "## Files\n",
    ]
    for name, rows in files.items():
        lines.append(f"- `{name}`: {len(rows)} lines, {os.path.getsize(os.path.join(out, name)):,} bytes")
    lines += ["", *_package_table(debs, files), *_document_table(files), *_manual_notes(manuals)]
    lines += [*_filter_table(translations), "## Documents per file and language\n", "| file | lang | docs |"]
    lines += ["|---|---|---:|"] + [f"| {f} | {g} | {n} |" for f, by in counts(files).items() for g, n in by.items()]
    with open(os.path.join(out, "PROVENANCE.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--debs", default=None, help="folder of .debs (default OUT/debs); missing ones are fetched")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    scratch = tempfile.mkdtemp(prefix="unpacked-", dir=args.out)
    try:
        debs = Debs(args.debs or os.path.join(args.out, "debs"), scratch)
        for pkg in PACKAGES:  # every .deb present before hours of rendering
            debs.fetch(pkg)
        manuals, translations = Manuals(debs), Translations(debs)
        manuals.build()
        translations.build()
        files = {
            "calibration.jsonl": manuals.calibration + translations.records,
            "heldout.jsonl": manuals.heldout,
            "zh_parallel.jsonl": manuals.pairs,
        }
        for name, rows in files.items():
            write_jsonl(os.path.join(args.out, name), rows)
        write_provenance(args.out, debs, manuals, translations, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("done in %.0f s", time.time() - start)
    print(json.dumps(counts(files)))


if __name__ == "__main__":
    main()
