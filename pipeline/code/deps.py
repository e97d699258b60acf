"""Which files of one repository each file depends on: imports and includes resolved to paths.

Parsed by regex, as DeepSeek-Coder did (Guo et al. 2024, §2.2), for Python (absolute and
relative imports), JavaScript/TypeScript (relative ``import``/``export ... from``/``require``),
C/C++ (``#include``), Java (single-type imports) and Go (package imports). A name that resolves
to no file of the repository is an outside dependency and ignored; ``code_repo_index`` picks
among several files that fit a name.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from pipeline.code.repo_index import RepoIndex

_PY = re.compile(
    r"[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)|import[ \t]+([^\n#;]*))", re.M
)
_JS = re.compile(r"""(?:\bfrom|\bimport|\brequire\s*\()\s*\(?\s*['"](\.{1,2}/[^'"\n]*)['"]""")
_C = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"\n]+)[>\"]", re.M)
_JAVA = re.compile(r"^[ \t]*import[ \t]+(?:static[ \t]+)?([\w.]+)[ \t]*;", re.M)
_GO_BLOCK = re.compile(r"^import[ \t]*\(([^)]*)\)|^import[ \t]+(?:[\w.]+[ \t]+)?(\"[^\"\n]+\")", re.M)
_GO_PATH = re.compile(r"\"([^\"\n]+)\"")
_JS_EXTS = ("", ".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs", ".d.ts", "/index.js", "/index.ts", "/index.tsx")
KINDS = {
    "Python": "py",
    "Cython": "py",
    "JavaScript": "js",
    "TypeScript": "js",
    "Vue": "js",
    "Svelte": "js",
    "C": "c",
    "C++": "c",
    "Cuda": "c",
    "Objective-C": "c",
    "Objective-C++": "c",
    "Java": "java",
    "Go": "go",
}


def _at_line_starts(regex: re.Pattern, text: str, needle: str) -> Iterator[re.Match]:
    """``regex`` matched only at the starts of lines holding ``needle``: a ``str.find`` scan, not a regex one."""
    at, done = text.find(needle), -1
    while at != -1:
        start = text.rfind("\n", 0, at) + 1
        if start > done and (m := regex.match(text, start)):
            done = m.end()
            yield m
        else:
            done = max(done, start)
        at = text.find(needle, max(at + len(needle), done))


def _python(text: str, path: str, index: RepoIndex) -> set[str]:
    deps: set[str] = set()
    home = path.split("/")[:-1]
    for m in _at_line_starts(_PY, text, "import"):
        dots, module, names, plain = m.groups()
        if plain is not None:
            for name in plain.split(","):
                deps.add(index.module(name.split(" as ")[0].strip(), path) or "")
            continue
        names_list = [n.split(" as ")[0].strip(" \t\n\\()") for n in names.strip("()").split(",")]
        if dots:
            up = len(dots) - 1
            if up > len(home):
                continue
            base = ".".join(home[: len(home) - up] + ([module] if module else []))
            for name in names_list:
                sub = f"{base}.{name}" if base else name
                deps.add(index.module(sub, path, exact=True) or (index.module(base, path, exact=True) or ""))
        else:
            for name in names_list:
                deps.add(index.module(f"{module}.{name}", path) or index.module(module, path) or "")
    return deps


def _javascript(text: str, path: str, index: RepoIndex) -> set[str]:
    deps = set()
    for spec in _JS.findall(text):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        deps.add(next((target + ext for ext in _JS_EXTS if target + ext in index.paths), ""))
    return deps


def _c(text: str, path: str, index: RepoIndex) -> set[str]:
    deps = set()
    for inc in (m[1] for m in _at_line_starts(_C, text, "include")):
        local = posixpath.normpath(posixpath.join(posixpath.dirname(path), inc))
        deps.add(
            local if local in index.paths else index.best(index.suffixes.get(posixpath.normpath(inc), []), path) or ""
        )
    return deps


def _java(text: str, path: str, index: RepoIndex) -> set[str]:
    deps = set()
    for name in (m[1] for m in _at_line_starts(_JAVA, text, "import")):
        parts = name.split(".")
        for cut in (len(parts), len(parts) - 1):  # a static import names a member of the class
            if found := index.best(index.suffixes.get("/".join(parts[:cut]) + ".java", []), path):
                deps.add(found)
                break
    return deps


def _go(text: str, path: str, index: RepoIndex) -> set[str]:
    deps: set[str] = set()
    for block, single in (m.groups() for m in _at_line_starts(_GO_BLOCK, text, "import")):
        for imported in _GO_PATH.findall(block or single):
            parts = imported.split("/")
            found = next(
                (index.go_dirs[d] for i in range(len(parts)) if (d := "/".join(parts[i:])) in index.go_dirs), []
            )
            deps.update(found)
    return deps


_PARSERS = {"py": _python, "js": _javascript, "c": _c, "java": _java, "go": _go}


def file_dependencies(files: list[tuple[str, str, str | None]]) -> dict[str, set[str]]:
    """For each ``(path, text, language)``, the other files of the same repository it imports or includes."""
    index = RepoIndex(path for path, _, _ in files)
    deps = {}
    for path, text, language in files:
        parser = _PARSERS.get(KINDS.get(language or "", ""))
        found = parser(text, path, index) if parser else set()
        found.discard("")
        found.discard(path)
        deps[path] = found
    return deps
