#!/usr/bin/env python3
"""Rebuild corpusmill's small *real* sample corpus in ``data/sample/``.

Every byte of text and every image comes from Debian packages, PyPI
distributions or npm packages; the only changes are the mechanical edits
listed in ``PROVENANCE.md`` (near-duplicate construction, image re-encoding,
truncation of one JPEG). This script is a maintenance tool: nothing imports it.

Prerequisites (Debian 12 "bookworm", run as root)::

    apt-get update
    apt-get install -y --no-install-recommends python3-doc apache2-doc \
        debian-handbook debian-reference-en debian-reference-de \
        debian-reference-fr debian-reference-es debian-reference-it \
        debian-reference-ja debian-reference-zh-cn libjs-sphinxdoc
    # also used, from the base system: base-files (/usr/share/common-licenses),
    # sed (/usr/share/info/sed.info.gz), libpython3.11-stdlib (/usr/lib/python3.11)
    python3 -m venv /tmp/sv
    /tmp/sv/bin/pip install zstandard pyarrow pillow
    /tmp/sv/bin/python data/sample/build_sample.py --fetch

``--fetch`` downloads the pinned PyPI/npm/Debian archives listed in
``PIP_SDISTS``, ``PIP_WHEELS``, ``NPM_PACKAGES`` and ``DEB_PACKAGES`` into
``--src`` (default ``/tmp/corpusmill-sample-src``) and unpacks them; without it
the script expects them to be there already. CPython 3.11.7 sources are read
from ``--cpython`` (default: the pyenv install, ``lib/python3.11`` and
``include/python3.11``).

The build is deterministic: file lists are explicit or sorted, the only
shuffle uses a fixed seed, gzip headers carry no timestamp and images are
re-encoded with fixed Pillow settings.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import html
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = Path("/tmp/corpusmill-sample-src")
DEFAULT_CPYTHON = Path("/root/.pyenv/versions/3.11.7")

# --------------------------------------------------------------------------
# Pinned inputs
# --------------------------------------------------------------------------

PIP_SDISTS = [
    "attrs==23.1.0",
    "brotli==1.2.1",
    "certifi==2023.7.22",
    "click==8.1.7",
    "idna==3.4",
    "pdm==2.12.4",
    "pip==23.3.2",
    "requests==2.31.0",
    "six==1.16.0",
    "urllib3==1.26.18",
    "urllib3==2.2.1",
    "wordcloud==1.9.6",
]
PIP_WHEELS = ["matplotlib==3.11.2", "scikit-image==0.26.0"]
NPM_PACKAGES = ["jquery@3.6.1", "underscore@1.13.4"]
DEB_PACKAGES = ["nginx-common", "lighttpd"]  # only unpacked, never installed

PYDOC = Path("/usr/share/doc/python3.11/html")
APACHE = Path("/usr/share/doc/apache2-doc/manual")
HANDBOOK = Path("/usr/share/doc/debian-handbook/html")
DEBREF = Path("/usr/share/debian-reference")
SPHINXDOC_JS = Path("/usr/share/javascript/sphinxdoc/1.0")
COMMON_LICENSES = Path("/usr/share/common-licenses")
DEBIAN_PY_LIB = Path("/usr/lib/python3.11")

SHUFFLE_SEED = 20240601
JPEG_QUALITY = 85
MAX_SIDE = 512
KEEP_ORIGINAL_MAX_BYTES = 64 * 1024


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch(src: Path) -> None:
    """Download and unpack every pinned archive into ``src``."""
    pypi, npm, debs = src / "pypi", src / "npm", src / "debs"
    for d in (pypi, npm, debs):
        d.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(pypi)]
    for spec in PIP_SDISTS:
        _run([*pip, "--no-binary", spec.split("==")[0], spec], pypi)
    for spec in PIP_WHEELS:
        _run([*pip, "--only-binary", ":all:", spec], pypi)
    _run(["npm", "pack", *NPM_PACKAGES], npm)
    _run(["apt-get", "download", *DEB_PACKAGES], debs)
    for archive in sorted(pypi.glob("*.tar.gz")):
        with tarfile.open(archive) as tf:
            tf.extractall(pypi, filter="data")
    for archive in sorted(pypi.glob("*.whl")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(pypi / archive.name.split("-")[0])
    for archive in sorted(npm.glob("*.tgz")):
        dest = npm / archive.name.removesuffix(".tgz")
        dest.mkdir(exist_ok=True)
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", deb.name, "root"], debs)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

_CHARSET_RE = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.I)


def decode_html(raw: bytes) -> str:
    """Decode an HTML file with the charset its <meta> declares (else UTF-8)."""
    m = _CHARSET_RE.search(raw[:4096])
    return raw.decode(m.group(1).decode() if m else "utf-8")


def write_jsonl(records: Iterable[dict], compressor: str, path: Path) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compressor == "zstd":
        path.write_bytes(zstandard.ZstdCompressor(level=19).compress(data))
    else:
        with path.open("wb") as fh, gzip.GzipFile(
            filename="", mode="wb", fileobj=fh, compresslevel=9, mtime=0
        ) as gz:
            gz.write(data)


def write_parquet(rows: list[dict], schema: pa.Schema, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, compression="zstd", compression_level=19)


# --------------------------------------------------------------------------
# 1. Web pages
# --------------------------------------------------------------------------

PY_PAGES = [
    "index.html", "about.html", "bugs.html", "copyright.html", "download.html",
    "glossary.html", "search.html", "py-modindex.html", "genindex.html",
    "genindex-A.html", "genindex-Q.html",
    "faq/index.html", "faq/general.html", "faq/library.html", "faq/design.html",
    "howto/index.html", "howto/regex.html", "howto/unicode.html",
    "howto/sorting.html", "howto/logging.html",
    "library/index.html", "library/intro.html", "library/argparse.html",
    "library/codecs.html", "library/collections.html",
    "library/concurrent.futures.html", "library/csv.html", "library/datetime.html",
    "library/decimal.html", "library/difflib.html", "library/email.html",
    "library/email.message.html", "library/functools.html", "library/glob.html",
    "library/gzip.html", "library/hashlib.html", "library/html.html",
    "library/html.parser.html", "library/http.client.html",
    "library/http.server.html", "library/io.html", "library/itertools.html",
    "library/json.html", "library/keyword.html", "library/logging.html",
    "library/logging.handlers.html", "library/pathlib.html", "library/random.html",
    "library/re.html", "library/shutil.html", "library/string.html",
    "library/textwrap.html", "library/token.html", "library/tomllib.html",
    "library/unicodedata.html", "library/urllib.parse.html",
    "library/urllib.request.html", "library/xml.etree.elementtree.html",
    "library/zipfile.html", "library/zlib.html",
]
PY_TUTORIAL = [
    "index", "appetite", "interpreter", "introduction", "controlflow",
    "datastructures", "modules", "inputoutput", "errors", "classes", "stdlib",
    "stdlib2", "venv", "whatnow", "interactive", "floatingpoint", "appendix",
]
# Same bytes served under the version alias /3/ as well as /3.11/.
PY_EXACT_DUPS = ["glossary.html", "tutorial/index.html", "library/functools.html"]

APACHE_EN = [
    "index.html", "sitemap.html", "glossary.html", "bind.html", "caching.html",
    "configuring.html", "content-negotiation.html", "custom-error.html",
    "dns-caveats.html", "dso.html", "env.html", "filter.html",
    "getting-started.html", "handler.html", "install.html", "invoking.html",
    "logs.html", "mpm.html", "sections.html", "stopping.html", "urlmapping.html",
    "developer/debugging.html", "faq/index.html", "programs/other.html",
    "howto/index.html", "howto/access.html", "howto/auth.html", "howto/cgi.html",
    "howto/htaccess.html", "howto/ssi.html", "howto/reverse_proxy.html",
    "rewrite/index.html", "rewrite/intro.html", "rewrite/flags.html",
    "rewrite/proxy.html", "rewrite/access.html", "rewrite/advanced.html",
    "ssl/ssl_intro.html", "mod/index.html", "mod/directives.html",
    "mod/quickreference.html", "mod/core.html", "mod/mod_alias.html",
    "mod/mod_filter.html", "mod/mod_echo.html",
]
APACHE_LANGS = {"de": 5, "es": 5, "fr": 8, "ja": 5, "ko": 4, "pt-br": 2, "ru": 2,
                "tr": 3, "zh-cn": 4}
# Real near-duplicates: untranslated index pages whose navigation was localised.
APACHE_NEAR_DUPS = [("de", "mod/directives.html"), ("es", "mod/index.html"),
                    ("es", "mod/quickreference.html"), ("fr", "faq/index.html")]
# Real exact duplicates: Debian ships byte-identical copies under da/.
APACHE_EXACT_DUPS = ["dso.html", "env.html", "stopping.html"]

DEBREF_EN = ["index", "pr01", "ch03", "ch04", "ch05", "ch08", "ch09", "apa"]
DEBREF_OTHER = ["index", "pr01", "ch03", "apa"]
DEBREF_LANGS = ["de", "es", "fr", "it", "ja", "zh-cn"]

HANDBOOK_PAGES = {
    "en-US": ["index", "foreword", "preface", "the-debian-project", "case-study",
              "installation", "sect.installation-steps", "packaging-system", "apt",
              "sect.apt-get", "sect.apt-cache", "basic-configuration",
              "sect.backup", "sect.dhcp", "derivative-distributions",
              "sect.kali", "sect.tails", "sect.steamos", "sect.devuan",
              "sect.pureos", "sect.grml", "sect.raspbian", "conclusion"],
    "fr-FR": ["index", "installation", "sect.installation-steps", "apt",
              "sect.apt-get", "sect.kali"],
    "de-DE": ["index", "installation", "sect.apt-get", "sect.tails"],
    "ja-JP": ["index", "installation", "sect.apt-get"],
    "zh-CN": ["index", "installation", "sect.apt-get"],
    "ar-MA": ["index", "sect.apt-get"],
    "ru-RU": ["index", "sect.apt-get"],
    "el-GR": ["index"],
    "ko-KR": ["index"],
    "vi-VN": ["index"],
}


def py_url(rel: str, alias: str = "3.11") -> str:
    return f"https://docs.python.org/{alias}/{rel}"


def apache_url(lang: str, rel: str) -> str:
    prefix = "" if lang == "en" else f"{lang}/"
    return f"https://httpd.apache.org/docs/2.4/{prefix}{rel}"


def handbook_url(lang: str, page: str, release: str = "stable") -> str:
    return f"https://debian-handbook.info/browse/{lang}/{release}/{page}.html"


def remove_nth_paragraph(page: str, n: int) -> str:
    """Drop the n-th (0-based) <p>...</p> of the main body (near-dup edit)."""
    body = page.index('<div class="body" role="main">')
    paras = list(re.finditer(r"<p>.*?</p>\s*", page[body:], re.S))
    m = paras[n]
    return page[: body + m.start()] + page[body + m.end():]


def remove_sidebar(page: str) -> str:
    """Cut the Sphinx sidebar navigation block (near-dup edit)."""
    start = page.index('<div class="sphinxsidebar"')
    end = page.index('<div class="clearer"></div>', start)
    return page[:start] + page[end:]


def swap_paragraphs(page: str, i: int) -> str:
    """Swap the i-th and (i+1)-th DocBook <div class="para"> blocks."""
    paras = list(re.finditer(r'<div class="para">.*?</div>', page, re.S))
    a, b = paras[i], paras[i + 1]
    return (page[: a.start()] + b.group(0) + page[a.end(): b.start()]
            + a.group(0) + page[b.end():])


def read_page(path: Path) -> str:
    return decode_html(path.read_bytes())


def web_records(src: Path) -> list[dict]:
    recs: list[dict] = []

    def add(url: str, page: str) -> None:
        recs.append({"url": url, "html": page})

    # Python 3.11 documentation (python3-doc).
    for rel in PY_PAGES + [f"tutorial/{t}.html" for t in PY_TUTORIAL]:
        add(py_url(rel), read_page(PYDOC / rel))
    for rel in PY_EXACT_DUPS:
        add(py_url(rel, alias="3"), read_page(PYDOC / rel))
    add(py_url("library/json.html") + "?highlight=json",
        remove_nth_paragraph(read_page(PYDOC / "library/json.html"), 2))
    add(py_url("tutorial/introduction.html").replace("https://", "http://"),
        remove_sidebar(read_page(PYDOC / "tutorial/introduction.html")))

    # Apache HTTP Server 2.4 manual (apache2-doc).
    add("http://localhost/manual/", read_page(APACHE / "index.html"))
    for rel in APACHE_EN:
        add(apache_url("en", rel), read_page(APACHE / "en" / rel))
    for lang, count in APACHE_LANGS.items():
        translated = [
            rel for rel in APACHE_EN
            if (APACHE / lang / rel).read_bytes() != (APACHE / "en" / rel).read_bytes()
            and (lang, rel) not in APACHE_NEAR_DUPS
        ]
        for rel in translated[:count]:
            add(apache_url(lang, rel), read_page(APACHE / lang / rel))
    for lang, rel in APACHE_NEAR_DUPS:
        add(apache_url(lang, rel), read_page(APACHE / lang / rel))
    for rel in APACHE_EXACT_DUPS:
        raw_en, raw_da = (APACHE / "en" / rel).read_bytes(), (APACHE / "da" / rel).read_bytes()
        assert raw_en == raw_da, rel
        add(apache_url("da", rel), decode_html(raw_da))

    # Debian Reference 2.x (debian-reference-*).
    for name in DEBREF_EN:
        add(f"https://www.debian.org/doc/manuals/debian-reference/{name}.en.html",
            read_page(DEBREF / f"{name}.en.html"))
    for lang in DEBREF_LANGS:
        for name in DEBREF_OTHER:
            add(f"https://www.debian.org/doc/manuals/debian-reference/{name}.{lang}.html",
                read_page(DEBREF / f"{name}.{lang}.html"))

    # The Debian Administrator's Handbook (debian-handbook).
    for lang, pages in HANDBOOK_PAGES.items():
        for page in pages:
            add(handbook_url(lang, page), read_page(HANDBOOK / lang / f"{page}.html"))
    add(handbook_url("en-US", "sect.apt-get", release="bullseye"),
        swap_paragraphs(read_page(HANDBOOK / "en-US" / "sect.apt-get.html"), 1))

    # Web-server placeholder pages and a page that is almost only JavaScript.
    debroot = src / "debs" / "root"
    add("http://localhost/index.nginx-debian.html",
        read_page(debroot / "usr/share/nginx/html/index.html"))
    add("http://localhost/index.lighttpd.html",
        read_page(debroot / "usr/share/lighttpd/index.html"))
    add("https://raw.githubusercontent.com/urllib3/urllib3/2.2.1/"
        "test/contrib/emscripten/templates/pyodide-console.html",
        read_page(src / "pypi/urllib3-2.2.1/test/contrib/emscripten/templates/"
                  "pyodide-console.html"))

    random.Random(SHUFFLE_SEED).shuffle(recs)
    return recs


# --------------------------------------------------------------------------
# 2. Books
# --------------------------------------------------------------------------


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Decode a (possibly gzipped) text file, keeping CRLF line ends as shipped."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode(encoding)


def python_tutorial_text() -> str:
    """The tutorial's reST sources, concatenated in table-of-contents order."""
    parts = [read_text(PYDOC / "_sources/tutorial" / f"{t}.rst.txt") for t in PY_TUTORIAL]
    return "\n".join(parts)


def book_records(src: Path) -> list[dict]:
    brotli = src / "pypi/brotli-1.2.1/tests/testdata"
    wc = src / "pypi/wordcloud-1.9.6/examples"

    def book(title: str, author: str, language: str, text: str) -> dict:
        return {"title": title, "author": author, "language": language, "text": text}

    return [
        book("Alice's Adventures in Wonderland", "Lewis Carroll", "en",
             read_text(wc / "alice.txt")),
        book("Alice's Adventures in Wonderland (Millennium Fulcrum Edition 2.9)",
             "Lewis Carroll", "en", read_text(brotli / "alice29.txt", "ascii")),
        book("Paradise Lost", "John Milton", "en",
             read_text(brotli / "plrabn12.txt", "ascii")),
        book("As You Like It", "William Shakespeare", "en",
             read_text(brotli / "asyoulik.txt", "ascii")),
        book("Workshop on Electronic Texts: Proceedings", "James Daly (editor)", "en",
             read_text(brotli / "lcet10.txt", "ascii")),
        book("呐喊 (Call to Arms)", "鲁迅 (Lu Xun)", "zh",
             read_text(wc / "wc_cn/CalltoArms.txt")),
        book("The Python Tutorial (Python 3.11)", "Guido van Rossum and the Python "
             "development team", "en", python_tutorial_text()),
        book("GNU sed, a stream editor (Info manual)", "Ken Pizzini, Paolo Bonzini, "
             "Jim Meyering, Assaf Gordon", "en",
             read_text(Path("/usr/share/info/sed.info.gz"))),
        book("Debian Reference (français)", "Osamu Aoki", "fr",
             read_text(DEBREF / "debian-reference.fr.txt.gz")),
        book("Debian Reference (日本語)", "Osamu Aoki", "ja",
             read_text(DEBREF / "debian-reference.ja.txt.gz")),
        book("GNU General Public License, version 2", "Free Software Foundation",
             "en", read_text(COMMON_LICENSES / "GPL-2")),
        book("GNU Library General Public License, version 2",
             "Free Software Foundation", "en", read_text(COMMON_LICENSES / "LGPL-2")),
        book("GNU Lesser General Public License, version 2.1",
             "Free Software Foundation", "en", read_text(COMMON_LICENSES / "LGPL-2.1")),
        book("Ukko Nooa", "traditional", "fi",
             read_text(brotli / "ukkonooa", "ascii")),
    ]


# --------------------------------------------------------------------------
# 3. Code (The Stack layout)
# --------------------------------------------------------------------------

EXT_LANGUAGE = {
    ".py": "Python", ".pyi": "Python", ".c": "C", ".h": "C", ".js": "JavaScript",
    ".sh": "Shell", ".json": "JSON", ".map": "JSON", ".toml": "TOML",
    ".lock": "TOML", ".yml": "YAML", ".yaml": "YAML", ".cff": "YAML",
    ".xml": "XML", ".out": "XML", ".md": "Markdown", ".rst": "reStructuredText",
    ".cfg": "INI", ".ini": "INI", ".txt": "Text", ".pem": "Text", ".typed": "Text",
    ".ctypes": "Text", ".bat": "Batchfile",
}
NAME_LANGUAGE = {"fetch_macholib": "Shell", "LICENSE": "Text", "CHANGES": "Text",
                 "README": "Text", "Makefile": "Makefile"}


def language_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in NAME_LANGUAGE:
        return NAME_LANGUAGE[name]
    return EXT_LANGUAGE[Path(name).suffix]


@dataclass(frozen=True)
class CodeSource:
    """Files from one directory tree, published under one repo and licence."""

    repo: str
    license: str
    root: Path
    patterns: tuple[str, ...]
    prefix: str = ""  # prepended to the path relative to ``root``
    strip: str = ""  # removed from the front of the path relative to ``root``

    def files(self) -> Iterator[tuple[str, Path]]:
        seen: set[Path] = set()
        for pattern in self.patterns:
            matches = sorted(self.root.glob(pattern))
            assert matches, f"{self.repo}: nothing matches {pattern}"
            for p in matches:
                if p.is_file() and "__pycache__" not in p.parts and p not in seen:
                    seen.add(p)
                    rel = p.relative_to(self.root).as_posix().removeprefix(self.strip)
                    yield self.prefix + rel, p


def code_sources(src: Path, cpython: Path) -> list[CodeSource]:
    lib = cpython / "lib/python3.11"
    pypi, npm = src / "pypi", src / "npm"
    pip_vendor = ("src/pip/_vendor/__init__.py", "src/pip/_vendor/vendor.txt",
                  "src/pip/_vendor/six.py", "src/pip/_vendor/certifi/*",
                  "src/pip/_vendor/idna/*", "src/pip/_vendor/requests/*",
                  "src/pip/_vendor/urllib3/**/*")
    return [
        CodeSource("python/cpython", "PSF-2.0", lib, (
            "json/*.py", "re/*.py", "tomllib/*.py", "urllib/*.py", "http/*.py",
            "html/*.py", "logging/*.py", "concurrent/**/*.py", "email/*.py",
            "email/mime/*.py", "collections/*.py", "token.py", "keyword.py",
            "_pydecimal.py", "ctypes/macholib/*", "test/xmltestdata/*.xml",
            "test/xmltestdata/*.out", "test/ziptestdata/header.sh"), prefix="Lib/"),
        CodeSource("python/cpython", "PSF-2.0", cpython / "include/python3.11", (
            "Python.h", "object.h", "pymacro.h", "listobject.h", "tupleobject.h",
            "dictobject.h", "longobject.h", "unicodeobject.h", "pyerrors.h",
            "cpython/object.h", "cpython/listobject.h", "cpython/tupleobject.h",
            "cpython/dictobject.h", "cpython/unicodeobject.h"), prefix="Include/"),
        CodeSource("debian/python3.11", "PSF-2.0", DEBIAN_PY_LIB, (
            "json/*.py", "re/_compiler.py", "re/_parser.py", "urllib/error.py",
            "http/server.py", "html/__init__.py", "logging/handlers.py"),
            prefix="Lib/"),
        CodeSource("benjaminp/six", "MIT", pypi / "six-1.16.0", (
            "six.py", "test_six.py", "setup.py", "setup.cfg", "LICENSE", "CHANGES",
            "README.rst", "documentation/index.rst")),
        CodeSource("psf/requests", "Apache-2.0", pypi / "requests-2.31.0", (
            "requests/*.py", "tests/*.py", "setup.py", "setup.cfg", "pyproject.toml",
            "HISTORY.md", "README.md")),
        CodeSource("urllib3/urllib3", "MIT", pypi / "urllib3-1.26.18", (
            "src/urllib3/**/*.py", "setup.py", "setup.cfg", "README.rst",
            "dev-requirements.txt")),
        CodeSource("certifi/python-certifi", "MPL-2.0", pypi / "certifi-2023.7.22", (
            "certifi/*", "setup.py", "setup.cfg", "README.rst", "LICENSE")),
        CodeSource("kjd/idna", "BSD-3-Clause", pypi / "idna-3.4", (
            "idna/*", "tests/*.py", "pyproject.toml", "README.rst")),
        CodeSource("pallets/click", "BSD-3-Clause", pypi / "click-8.1.7", (
            "src/click/*", "examples/**/*.py", "examples/**/README",
            "requirements/*.txt", "setup.py", "setup.cfg", "tox.ini",
            "README.rst")),
        CodeSource("python-attrs/attrs", "MIT", pypi / "attrs-23.1.0", (
            "src/attr/*", "src/attrs/*", ".github/workflows/*.yml",
            ".github/dependabot.yml", ".pre-commit-config.yaml", ".readthedocs.yaml",
            "CITATION.cff", "pyproject.toml", "tox.ini", "README.md")),
        CodeSource("pypa/pip", "MIT", pypi / "pip-23.3.2", (
            "src/pip/__init__.py", "src/pip/__main__.py",
            "src/pip/_internal/operations/__init__.py",
            "src/pip/_internal/operations/build/__init__.py",
            "src/pip/_internal/resolution/__init__.py",
            "src/pip/_internal/utils/__init__.py", "pyproject.toml",
            *pip_vendor)),
        CodeSource("google/brotli", "MIT", pypi / "brotli-1.2.1", (
            "c/common/*", "c/dec/*", "c/include/brotli/*.h", "python/_brotli.c",
            "python/brotli.py", "python/tests/*.py", "setup.py", "README.md")),
        CodeSource("pdm-project/pdm", "MIT", pypi / "pdm-2.12.4", (
            "tests/fixtures/projects/demo-package/**/*",
            "src/pdm/models/python_max_versions.json",
            "src/pdm/project/lockfile.py")),
        CodeSource("jquery/jquery", "MIT", npm / "jquery-3.6.1/package", (
            "dist/jquery.js", "dist/jquery.min.js", "dist/jquery.min.map",
            "dist/jquery.slim.js", "dist/jquery.slim.min.js",
            "external/sizzle/dist/sizzle.js", "external/sizzle/dist/sizzle.min.js",
            "src/core.js", "src/ajax.js", "src/event.js", "package.json",
            "bower.json", "README.md")),
        CodeSource("jashkenas/underscore", "MIT", npm / "underscore-1.13.4/package", (
            "underscore.js", "underscore-min.js", "underscore-umd.js",
            "underscore-umd-min.js", "underscore-esm.js", "package.json",
            "README.md")),
        CodeSource("sphinx-doc/sphinx", "BSD-2-Clause", SPHINXDOC_JS, (
            "doctools.js", "searchtools.js", "language_data.js",
            "sphinx_highlight.js"), prefix="sphinx/themes/basic/static/"),
    ]


def decode_source(raw: bytes) -> str:
    """UTF-8, or the encoding an XML declaration names (CPython's test.xml)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        m = re.match(rb'<\?xml[^>]*encoding="([^"]+)"', raw)
        if not m:
            raise
        return raw.decode(m.group(1).decode())


def code_rows(src: Path, cpython: Path) -> list[dict]:
    rows = []
    for source in code_sources(src, cpython):
        for path, file in source.files():
            rows.append({"repo": source.repo, "path": path,
                         "content": decode_source(file.read_bytes()),
                         "license": source.license, "language": language_of(path)})
    keys = [(r["repo"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (repo, path)"
    return sorted(rows, key=lambda r: (r["repo"], r["path"]))


CODE_SCHEMA = pa.schema([("repo", pa.string()), ("path", pa.string()),
                         ("content", pa.string()), ("license", pa.string()),
                         ("language", pa.string())])


# --------------------------------------------------------------------------
# 4. Image-text pairs
# --------------------------------------------------------------------------

SKIMAGE_IMAGES = {  # fetcher function -> licence stated in its docstring
    "astronaut": "LicenseRef-PublicDomain",
    "camera": "CC0-1.0",
    "brick": "CC0-1.0",
    "grass": "CC0-1.0",
    "gravel": "CC0-1.0",
    "text": "LicenseRef-PublicDomain",
    "coins": "LicenseRef-NoKnownCopyrightRestrictions",
    "logo": "BSD-3-Clause",
    "microaneurysms": "CC0-1.0",
    "horse": "CC0-1.0",
    "clock": "LicenseRef-PublicDomain",
    "immunohistochemistry": "LicenseRef-NoKnownCopyrightRestrictions",
    "chelsea": "CC0-1.0",
    "coffee": "CC0-1.0",
    "hubble_deep_field": "LicenseRef-PublicDomain",
    "retina": "CC0-1.0",
    "rocket": "LicenseRef-PublicDomain",
}
MPL_TOOLBAR = ["home", "back", "forward", "move", "zoom_to_rect", "subplots", "filesave"]
APACHE_IMAGES = [  # (language whose page gives the alt text, file)
    ("en", "caching_fig1.gif"), ("en", "caching_fig1.png"), ("tr", "caching_fig1.tr.png"),
    ("en", "feather.gif"), ("en", "feather.png"), ("en", "apache_header.gif"),
    ("en", "up.gif"), ("en", "down.gif"), ("en", "left.gif"), ("en", "pixel.gif"),
    ("en", "mod_filter_new.gif"), ("pt-br", "mod_filter_new.pt-br.png"),
    ("en", "bal-man-w.png"), ("en", "bal-man-b.png"), ("en", "reverse-proxy-arch.png"),
    ("en", "build_a_mod_4.png"), ("en", "syntax_rewriterule.png"),
    ("en", "ssl_intro_fig1.gif"),
]
HANDBOOK_IMAGES = [  # (language, image); same-bytes files give exact duplicates
    ("en-US", "developers-map.png"), ("fr-FR", "developers-map.png"),
    ("ja-JP", "developers-map.png"), ("en-US", "inst-boot.png"),
    ("de-DE", "inst-boot.png"), ("en-US", "inst-lang.png"), ("fr-FR", "inst-lang.png"),
    ("en-US", "package-lifecycle.png"), ("fr-FR", "package-lifecycle.png"),
    ("en-US", "inst-lang-txt.png"), ("en-US", "ssh-L.png"), ("ja-JP", "ssh-L.png"),
]


def encode_for_corpus(raw: bytes) -> bytes:
    """Keep small images byte-for-byte; re-encode big ones as JPEG q85, <=512 px."""
    img = Image.open(io.BytesIO(raw))
    if len(raw) <= KEEP_ORIGINAL_MAX_BYTES and max(img.size) <= 2 * MAX_SIDE:
        return raw
    return to_jpeg(img)


def to_jpeg(img: Image.Image, max_side: int = MAX_SIDE) -> bytes:
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img = img.copy()
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def skimage_docs(fetchers: Path) -> dict[str, tuple[str, str]]:
    """function name -> (data file name, caption) from skimage.data docstrings.

    The caption is the docstring's summary plus, when present, the following
    descriptive paragraph (never the numpydoc sections)."""
    source = fetchers.read_text()
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in SKIMAGE_IMAGES:
            files = re.findall(r'"data/([^"]+\.(?:png|jpg))"',
                               ast.get_source_segment(source, node) or "")
            paras = (ast.get_docstring(node) or "").split("\n\n")
            caption = paras[0]
            if len(paras) > 1 and not re.match(r"(Returns|Notes|Parameters)\n", paras[1]):
                caption += "\n\n" + paras[1]
            out[node.name] = (files[0], " ".join(caption.split()))
    return out


def mpl_toolitems(backend_bases: Path) -> dict[str, tuple[str, str]]:
    """icon name -> (button text, tooltip) from NavigationToolbar2.toolitems."""
    tree = ast.parse(backend_bases.read_text())
    for node in ast.walk(tree):
        if (isinstance(node, ast.ClassDef) and node.name == "NavigationToolbar2"):
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign)
                        and getattr(stmt.targets[0], "id", "") == "toolitems"):
                    items = ast.literal_eval(stmt.value)
                    return {icon: (text, tip) for text, tip, icon, _ in items if icon}
    raise LookupError("NavigationToolbar2.toolitems not found")


def apache_alts() -> dict[tuple[str, str], str]:
    """(language dir, image file) -> first non-empty alt text in that language."""
    alts: dict[tuple[str, str], str] = {}
    for lang_dir in sorted(p for p in APACHE.iterdir() if p.is_dir() and p.name != "images"):
        for page in sorted(lang_dir.rglob("*.html")):
            for tag in re.findall(r"<img [^>]*>", read_page(page)):
                m_src = re.search(r'src="[./]*images/([^"]+)"', tag)
                m_alt = re.search(r'alt="([^"]*)"', tag)
                if m_src and m_alt and m_alt.group(1).strip():
                    alts.setdefault((lang_dir.name, m_src.group(1)),
                                    " ".join(html.unescape(m_alt.group(1)).split()))
    return alts


def handbook_captions(lang: str) -> dict[str, str]:
    """image file -> figure title ("Figure 4.2. Selecting the language")."""
    caps: dict[str, str] = {}
    for page in sorted((HANDBOOK / lang).glob("*.html")):
        text = read_page(page)
        for m in re.finditer(r'<div class="figure">(.*?)<p class="title"><strong>'
                             r'(.*?)</strong></p></div>', text, re.S):
            title = html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))
            for img in re.findall(r'<img src="images/([^"]+)"', m.group(1)):
                caps.setdefault(img, " ".join(title.split()))
    return caps


def image_rows(src: Path) -> list[dict]:
    rows: list[dict] = []

    def add(key: str, url: str, image: bytes, caption: str, license_: str) -> None:
        rows.append({"key": key, "url": url, "image": image, "caption": caption,
                     "license": license_})

    # scikit-image sample data (docstring captions).
    skdata = src / "pypi/scikit_image/skimage/data"
    registry = (skdata / "_registry.py").read_text()
    for func, (fname, caption) in sorted(skimage_docs(skdata / "_fetchers.py").items()):
        m = re.search(rf'"data/{re.escape(fname)}": "(https://[^"]+)"', registry)
        url = m.group(1) if m else (
            "https://github.com/scikit-image/scikit-image/blob/v0.26.0/skimage/data/"
            + fname)
        raw = (skdata / fname).read_bytes()
        add(f"skimage/{func}", url, encode_for_corpus(raw), caption, SKIMAGE_IMAGES[func])
        if func == "astronaut":  # near-duplicate: same photo at half resolution
            add("skimage/astronaut-256", url, to_jpeg(Image.open(io.BytesIO(raw)), 256),
                caption, SKIMAGE_IMAGES[func])
        if func == "chelsea":  # near-duplicate: 5 % cropped from every side
            img = Image.open(io.BytesIO(raw))
            w, h = img.size
            crop = img.crop((w // 20, h // 20, w - w // 20, h - h // 20))
            add("skimage/chelsea-cropped", url, to_jpeg(crop), caption,
                SKIMAGE_IMAGES[func])
        if func == "rocket":  # junk: first half of the original JPEG file
            add("skimage/rocket-truncated", url, raw[: len(raw) // 2], caption,
                SKIMAGE_IMAGES[func])

    # matplotlib toolbar icons (tooltips) and sample data (file names).
    mpl = src / "pypi/matplotlib/matplotlib"
    tools = mpl_toolitems(mpl / "backend_bases.py")
    mpl_url = "https://github.com/matplotlib/matplotlib/blob/v3.11.2/lib/matplotlib/"
    for icon in MPL_TOOLBAR:
        text, tip = tools[icon]
        add(f"matplotlib/{icon}", f"{mpl_url}mpl-data/images/{icon}.png",
            (mpl / f"mpl-data/images/{icon}.png").read_bytes(), text,
            "LicenseRef-Matplotlib")
    add("matplotlib/home_large", f"{mpl_url}mpl-data/images/home_large.png",
        (mpl / "mpl-data/images/home_large.png").read_bytes(), tools["home"][1],
        "LicenseRef-Matplotlib")
    for fname, license_ in [("grace_hopper.jpg", "LicenseRef-PublicDomain"),
                            ("logo2.png", "LicenseRef-Matplotlib")]:
        add(f"matplotlib/{fname.split('.')[0]}", f"{mpl_url}mpl-data/sample_data/{fname}",
            encode_for_corpus((mpl / "mpl-data/sample_data" / fname).read_bytes()),
            fname, license_)

    # Apache manual images (alt text; the file name where alt is empty).
    alts = apache_alts()
    for lang, fname in APACHE_IMAGES:
        caption = alts.get((lang, fname), fname)
        add(f"apache/{fname}", f"https://httpd.apache.org/docs/2.4/images/{fname}",
            encode_for_corpus((APACHE / "images" / fname).read_bytes()), caption,
            "Apache-2.0")

    # Debian Administrator's Handbook figures (figure titles, 4 languages).
    captions = {lang: handbook_captions(lang) for lang, _ in HANDBOOK_IMAGES}
    for lang, fname in HANDBOOK_IMAGES:
        add(f"handbook/{lang}/{fname}",
            f"https://debian-handbook.info/browse/{lang}/stable/images/{fname}",
            encode_for_corpus((HANDBOOK / lang / "images" / fname).read_bytes()),
            captions[lang][fname], "GPL-2.0-or-later OR CC-BY-SA-3.0")
    return rows


IMAGE_SCHEMA = pa.schema([("key", pa.string()), ("url", pa.string()),
                          ("image", pa.binary()), ("caption", pa.string()),
                          ("license", pa.string())])


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify(out: Path) -> None:
    web = [json.loads(line) for line in zstandard.ZstdDecompressor().stream_reader(
        (out / "web/pages.jsonl.zst").open("rb")).read().decode().splitlines()]
    with gzip.open(out / "books/books.jsonl.gz", "rt", encoding="utf-8") as fh:
        books = [json.loads(line) for line in fh]
    code = pq.read_table(out / "code/files.parquet").to_pylist()
    pairs = pq.read_table(out / "multimodal/pairs.parquet").to_pylist()

    def digest(s: str | bytes) -> str:
        return hashlib.sha256(s if isinstance(s, bytes) else s.encode()).hexdigest()

    def dup_groups(values: list[str | bytes]) -> int:
        counts: dict[str, int] = {}
        for v in values:
            counts[digest(v)] = counts.get(digest(v), 0) + 1
        return sum(1 for c in counts.values() if c > 1)

    langs = {m.group(1).lower().split("-")[0]
             for r in web for m in [re.search(r'\blang="([^"]+)"', r["html"][:5000])] if m}
    print(f"web:        {len(web)} pages, {len(langs)} primary languages in lang= "
          f"attributes {sorted(langs)}, {dup_groups([r['html'] for r in web])} exact-dup "
          f"groups, longest {max(len(r['html']) for r in web)} chars")
    print(f"books:      {len(books)} books, languages "
          f"{sorted({b['language'] for b in books})}, sizes "
          f"{[len(b['text']) for b in books]}")
    print(f"code:       {len(code)} files, {len({r['repo'] for r in code})} repos, "
          f"languages {sorted({r['language'] for r in code})}, "
          f"{dup_groups([r['content'] for r in code])} exact-dup groups")
    broken = []
    for r in pairs:
        try:
            with Image.open(io.BytesIO(r["image"])) as im:
                im.load()
        except OSError:
            broken.append(r["key"])
    print(f"multimodal: {len(pairs)} pairs, "
          f"{sum(len(r['image']) for r in pairs)} image bytes, "
          f"{dup_groups([r['image'] for r in pairs])} exact-dup image groups, "
          f"unreadable: {broken}")
    assert len(broken) == 1, broken
    for f in sorted(out.rglob("*")):
        if f.is_file():
            print(f"  {f.relative_to(out)}: {f.stat().st_size} bytes")


# --------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC,
                    help="where pinned archives are downloaded and unpacked")
    ap.add_argument("--cpython", type=Path, default=DEFAULT_CPYTHON,
                    help="prefix of a CPython 3.11.7 installation")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--fetch", action="store_true", help="download inputs first")
    ap.add_argument("--verify-only", action="store_true")
    args = ap.parse_args()

    if not args.verify_only:
        if args.fetch:
            fetch(args.src)
        write_jsonl(web_records(args.src), "zstd", args.out / "web/pages.jsonl.zst")
        write_jsonl(book_records(args.src), "gzip", args.out / "books/books.jsonl.gz")
        write_parquet(code_rows(args.src, args.cpython), CODE_SCHEMA,
                      args.out / "code/files.parquet")
        write_parquet(image_rows(args.src), IMAGE_SCHEMA,
                      args.out / "multimodal/pairs.parquet")
    verify(args.out)


if __name__ == "__main__":
    main()
