import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.code.license_filter import PERMISSIVE, LicenseFilterConfig, expression_allowed, license_filter
from pipeline.code.licenses import detect_license, is_license_file, repo_license, spdx_header
from tests.conftest import REPO

DATA = os.path.join(REPO, "tests/pipeline/data/licenses")


@pytest.fixture(scope="module")
def sample() -> dict[tuple[str, str], str]:
    rows = pq.read_table(f"{REPO}/data/sample/code/files.parquet").to_pylist()
    return {(r["repo"], r["path"]): r["content"] for r in rows}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ISC-shellingham", "ISC"),
        ("BSD-2-Clause-xxhash", "BSD-2-Clause"),
        ("PSF-2.0-typing_extensions", "PSF-2.0"),
        ("GPL-3.0", "GPL-3.0"),
        ("LGPL-3.0", "LGPL-3.0"),
        ("MPL-2.0", "MPL-2.0"),
        ("CC0-1.0", "CC0-1.0"),
    ],
)
def test_licence_files_from_packages(name, expected):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        assert detect_license(f.read()) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        (("benjaminp/six", "LICENSE"), "MIT"),
        (("certifi/python-certifi", "LICENSE"), "MPL-2.0"),  # a notice ("subject to the terms of the MPL, v. 2.0")
        (("pypa/pip", "src/pip/_vendor/idna/LICENSE.md"), "BSD-3-Clause"),
        (("pypa/pip", "src/pip/_vendor/requests/LICENSE"), "Apache-2.0"),
        (("pypa/pip", "src/pip/_vendor/urllib3/LICENSE.txt"), "MIT"),
        (("pdm-project/pdm", "tests/fixtures/projects/demo-package/LICENSE"), "MIT"),  # the single line "MIT License"
    ],
)
def test_licence_files_of_the_code_sample(sample, key, expected):
    assert detect_license(sample[key]) == expected


def test_gnu_licences_of_the_books_sample():
    with gzip.open(f"{REPO}/data/sample/books/books.jsonl.gz", "rt", encoding="utf-8") as f:
        books = {b["title"]: b["text"] for b in map(json.loads, f)}
    assert detect_license(books["GNU General Public License, version 2"]) == "GPL-2.0"
    assert detect_license(books["GNU Library General Public License, version 2"]) == "LGPL-2.0"
    assert detect_license(books["GNU Lesser General Public License, version 2.1"]) == "LGPL-2.1"


def test_no_licence_in_ordinary_text(sample):
    assert detect_license(sample[("benjaminp/six", "README.rst")]) is None
    assert detect_license("") is None


def test_spdx_headers(sample):
    assert spdx_header(sample[("python/cpython", "Lib/tomllib/_parser.py")]) == "MIT"
    assert spdx_header(sample[("python-attrs/attrs", "src/attr/_make.py")]) == "MIT"
    assert (
        spdx_header("/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */\n")
        == "GPL-2.0-only WITH Linux-syscall-note"
    )
    assert spdx_header("<!-- SPDX-License-Identifier: (MIT OR Apache-2.0) -->") == "(MIT OR Apache-2.0)"
    assert spdx_header("x = 1\n" * 1000 + "# SPDX-License-Identifier: MIT\n") is None  # past the header
    assert spdx_header(sample[("benjaminp/six", "six.py")]) is None


def test_repo_licence_from_root_files_only(sample):
    apache, mit = sample[("pypa/pip", "src/pip/_vendor/requests/LICENSE")], sample[("benjaminp/six", "LICENSE")]
    assert repo_license([("LICENSE-APACHE", apache), ("LICENSE-MIT", mit), ("README.md", mit)]) == "Apache-2.0 AND MIT"
    assert repo_license([("vendor/LICENSE", apache), ("COPYING", mit)]) == "MIT"
    assert repo_license([("README.md", mit)]) is None
    assert [is_license_file(p) for p in ("LICENSE.txt", "licence", "COPYING.md", "LICENSES", "src/LICENSE")] == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("MIT", True),
        ("mit", True),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("MIT OR GPL-3.0-or-later", True),
        ("MIT AND GPL-3.0", False),
        ("(MIT OR CC0-1.0) AND BSD-3-Clause", True),
        ("(GPL-2.0+ OR MPL-2.0) AND MIT", False),
        ("MPL-2.0", False),
        ("LGPL-2.1-only", False),
        ("", False),
    ],
)
def test_spdx_expressions_against_the_permissive_list(expression, expected):
    assert expression_allowed(expression, {a.lower() for a in PERMISSIVE}) is expected


def test_allow_list_can_be_widened():
    assert expression_allowed("GPL-3.0-or-later", {"gpl-3.0"})


def _table(metas: list[dict], texts: list[str]) -> pa.Table:
    return pa.table({"text": pa.array(texts, pa.large_string()), "meta": [json.dumps(m) for m in metas]})


def test_license_filter_stage():
    metas = [
        {"license": "MIT"},
        {"license": "MPL-2.0"},
        {},
        {},
        {"license": ["mit", "apache-2.0"]},
        {"license": ["mit", "gpl-3.0"]},
    ]
    texts = ["x = 1\n", "x = 1\n", "x = 1\n", "# SPDX-License-Identifier: BSD-3-Clause\nx = 1\n", "", ""]
    out = license_filter(_table(metas, texts), LicenseFilterConfig())
    assert out["drop_reason"].to_pylist() == [
        None,
        "license_not_allowed",
        "license_unknown",
        None,
        None,
        "license_not_allowed",
    ]
    lenient = license_filter(_table(metas, texts), LicenseFilterConfig(allow_unknown=True, use_spdx_headers=False))
    assert lenient["drop_reason"].to_pylist()[2:4] == [None, None]


def test_sample_certifi_is_the_only_repository_left_out(sample):
    rows = pq.read_table(f"{REPO}/data/sample/code/files.parquet").to_pylist()
    out = license_filter(
        _table([{"license": r["license"]} for r in rows], [r["content"] for r in rows]), LicenseFilterConfig()
    )
    dropped = {r["repo"] for r, reason in zip(rows, out["drop_reason"].to_pylist()) if reason}
    assert dropped == {"certifi/python-certifi"}  # MPL-2.0 is weak copyleft: The Stack left it out
