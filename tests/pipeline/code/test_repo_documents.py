import json
import os
import random

import pyarrow as pa
import pytest

from pipeline.code.deps import file_dependencies
from pipeline.code.language import code_language
from pipeline.code.repo_documents import MERGED, RepoDocConfig, mark_merged, repo_document, repo_keys, repo_stage
from pipeline.code.repo_order import dependency_order
from pipeline.schema import KEPT, WORK_SCHEMA
from tests.conftest import STDLIB

# The standard library's json package: __init__ imports .decoder and .encoder, decoder imports
# json.scanner, tool imports json. Dependencies first, ties by path.
JSON_ORDER = ["json/encoder.py", "json/scanner.py", "json/decoder.py", "json/__init__.py", "json/tool.py"]


def _files(files: dict[str, str], repo: str = "acme/pkg", license: str | None = "MIT") -> pa.Table:
    rows = []
    for path, text in files.items():
        meta = {"repo": repo, "path": path, "language": code_language(path), "license": license}
        rows.append(
            {
                "id": f"code/{repo}.tar.gz#{path}",
                "source": "code",
                "text": text,
                "meta": json.dumps(meta),
                "images": [],
                "status": KEPT,
                "rewrites": [],
                "stage": None,
                "reason": None,
                "detail": None,
                "language": None,
            }
        )
    return pa.Table.from_pylist(rows, schema=WORK_SCHEMA)


@pytest.fixture(scope="module")
def json_package() -> dict[str, str]:
    files = {}
    for name in sorted(os.listdir(os.path.join(STDLIB, "json"))):
        if name.endswith(".py"):
            with open(os.path.join(STDLIB, "json", name), encoding="utf-8") as f:
                files[f"json/{name}"] = f.read()
    return files


def _order(files: dict[str, str]) -> list[str]:
    deps = file_dependencies([(p, t, code_language(p)) for p, t in files.items()])
    return [p for part in dependency_order(list(files), deps) for p in part]


def test_stdlib_json_dependencies_and_order(json_package):
    deps = file_dependencies([(p, t, code_language(p)) for p, t in json_package.items()])
    assert deps == {
        "json/__init__.py": {"json/decoder.py", "json/encoder.py"},
        "json/decoder.py": {"json/scanner.py"},
        "json/encoder.py": set(),
        "json/scanner.py": set(),
        "json/tool.py": {"json/__init__.py"},
    }
    shuffled = dict(random.Random(0).sample(sorted(json_package.items()), len(json_package)))
    assert _order(shuffled) == JSON_ORDER


def test_cycle_broken_by_fewest_open_dependencies_then_path():
    files = {
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from . import a\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from .a import thing\nfrom .c import other\nfrom .b import x\n",
    }
    # a <-> b is a cycle; every file has open dependencies, a and b and c one each: a (by path) breaks it.
    assert _order(files) == ["pkg/a.py", "pkg/b.py", "pkg/c.py", "pkg/d.py"]
    assert _order(dict(reversed(list(files.items())))) == _order(files)


def test_javascript_c_java_go_dependencies():
    files = {
        "web/index.js": "import { pad } from './util';\nconst math = require(\"./lib/math.js\");\nimport 'react';\n",
        "web/lib/math.js": "export { pad } from '../util.js';\n",
        "web/util.js": "export const pad = 1;\n",
        "c/main.c": '#include <stdio.h>\n#include "util.h"\n#include <brotli/decode.h>\n',
        "c/util.h": "int f(void);\n",
        "c/util.c": '#include "util.h"\n',
        "include/brotli/decode.h": "int d(void);\n",
        "java/src/com/acme/App.java": "package com.acme;\nimport com.acme.util.Strings;\nimport java.util.List;\n",
        "java/src/com/acme/util/Strings.java": "package com.acme.util;\n",
        "go/cmd/main.go": 'package main\nimport (\n\t"fmt"\n\tstr "github.com/acme/pkg/go/strs"\n)\n',
        "go/strs/strs.go": "package strs\n",
        "go/strs/strs_test.go": "package strs\n",
    }
    deps = file_dependencies([(p, t, code_language(p)) for p, t in files.items()])
    assert deps["web/index.js"] == {"web/util.js", "web/lib/math.js"}
    assert deps["web/lib/math.js"] == {"web/util.js"}
    assert deps["c/main.c"] == {"c/util.h", "include/brotli/decode.h"} and deps["c/util.c"] == {"c/util.h"}
    assert deps["java/src/com/acme/App.java"] == {"java/src/com/acme/util/Strings.java"}
    assert deps["go/cmd/main.go"] == {"go/strs/strs.go"}


def test_repository_document(json_package):
    doc = repo_document(_files(json_package), RepoDocConfig())
    assert doc.num_rows == 1 and doc.schema == WORK_SCHEMA
    row = doc.to_pylist()[0]
    meta = json.loads(row["meta"])
    assert row["id"] == "code/acme/pkg" and row["status"] == KEPT and row["stage"] == "repo_document"
    assert meta == {
        "repo": "acme/pkg",
        "license": "MIT",
        "languages": ["Python"],
        "paths": JSON_ORDER,
        "merged_ids": [f"code/acme/pkg.tar.gz#{p}" for p in JSON_ORDER],
    }
    expected = "\n".join(f"# {p}\n{json_package[p].rstrip(chr(10))}\n" for p in JSON_ORDER)
    assert row["text"] == expected


def test_large_repository_splits_at_file_boundaries(json_package):
    doc = repo_document(_files(json_package), RepoDocConfig(max_chars=20_000))
    metas = [json.loads(m) for m in doc["meta"].to_pylist()]
    assert doc["id"].to_pylist() == [f"code/acme/pkg#part-{n}" for n in range(len(metas))] and len(metas) > 1
    assert [p for m in metas for p in m["paths"]] == JSON_ORDER
    for text, m in zip(doc["text"].to_pylist(), metas):
        assert len(text) <= 20_000 or len(m["paths"]) == 1  # one file larger than the cap stays whole


def test_per_component_and_off(json_package):
    files = dict(json_package, **{"docs/README.md": "# json\n"})
    per_part = repo_document(_files(files), RepoDocConfig(per_component=True))
    assert [json.loads(m)["paths"] for m in per_part["meta"].to_pylist()] == [["docs/README.md"], JSON_ORDER]
    table = _files(files)
    assert repo_document(table, RepoDocConfig(enabled=False)) is table


def test_merged_files_point_at_their_document(json_package):
    files = _files(json_package)
    marked = mark_merged(files, repo_document(files, RepoDocConfig()))
    assert set(marked["status"].to_pylist()) == {MERGED} and set(marked["detail"].to_pylist()) == {"code/acme/pkg"}
    assert marked["id"].to_pylist() == files["id"].to_pylist()


def test_repo_stage_accounts_for_every_file_row(json_package):
    files = pa.concat_tables([_files(json_package), _files({"b.py": "import a\n", "a.py": "x = 1\n"}, repo="o/b")])
    lone = files.slice(0, 1).set_column(3, "meta", pa.array([json.dumps({"path": "lone.py"})]))
    lone = lone.set_column(0, "id", pa.array(["code/x.jsonl#7"]))
    out = repo_stage(pa.concat_tables([files, lone]), RepoDocConfig())
    assert repo_keys(files).to_pylist() == ["acme/pkg"] * 5 + ["o/b"] * 2
    assert [
        (r["id"], r["status"]) for r in out.to_pylist() if r["stage"] == "repo_document" and r["status"] == KEPT
    ] == [("code/acme/pkg", KEPT), ("code/o/b", KEPT)]
    merged = [r for r in out.to_pylist() if r["status"] == MERGED]
    assert sorted(r["id"] for r in merged) == sorted(files["id"].to_pylist())
    assert {r["detail"] for r in merged if "o/b" in r["id"]} == {"code/o/b"}
    assert [(r["id"], r["status"], r["stage"]) for r in out.to_pylist() if r["id"] == "code/x.jsonl#7"] == [
        ("code/x.jsonl#7", KEPT, None)
    ]  # no repository: a document of its own, untouched
    assert out.num_rows == 2 + files.num_rows + 1


def test_mixed_licences_and_headers_per_language():
    files = {"src/app.ts": "import { x } from './x';\n", "src/x.ts": "export const x = 1;\n", "README.md": "# app\n"}
    table = _files(files, license="MIT")
    metas = [json.loads(m) for m in table["meta"].to_pylist()]
    metas[0]["license"] = "Apache-2.0"
    table = table.set_column(3, "meta", pa.array([json.dumps(m) for m in metas]))
    row = repo_document(table, RepoDocConfig()).to_pylist()[0]
    assert json.loads(row["meta"])["license"] == "Apache-2.0 AND MIT"
    assert (
        row["text"] == "<!-- README.md -->\n# app\n\n// src/x.ts\nexport const x = 1;\n\n"
        "// src/app.ts\nimport { x } from './x';\n"
    )
