"""A repository's files indexed for resolving an import: by module name, path suffix and Go package directory.

When a name fits several files (``import utils`` with two ``utils.py``), the one sharing the
longest directory prefix with the importer wins, then the shortest path, ``.py`` before
``.pyi``, then the path itself: deterministic.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class RepoIndex:
    """The repository's files by module name, path suffix and directory, for resolving one name."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = set(paths)
        self.modules: dict[str, list[str]] = defaultdict(list)  # dotted suffix -> python files
        self.suffixes: dict[str, list[str]] = defaultdict(list)  # "a/b.h" suffix -> files
        self.go_dirs: dict[str, list[str]] = defaultdict(list)  # directory -> its non-test .go files
        for path in sorted(self.paths):
            parts = path.split("/")
            for i in range(len(parts)):
                self.suffixes["/".join(parts[i:])].append(path)
            if path.endswith((".py", ".pyi", ".pyx")):
                mod = path.rsplit(".", 1)[0].split("/")
                mod = mod[:-1] if mod[-1] == "__init__" else mod
                for i in range(len(mod)):
                    self.modules[".".join(mod[i:])].append(path)
            elif path.endswith(".go") and not path.endswith("_test.go"):
                self.go_dirs[posixpath.dirname(path)].append(path)

    def best(self, candidates: list[str], importer: str) -> str | None:
        home = importer.split("/")[:-1]
        rank = lambda p: (-_common(home, p.split("/")[:-1]), p.count("/"), p.endswith("i"), p)  # noqa: E731
        return min(candidates, key=rank) if candidates else None

    def module(self, dotted: str, importer: str, exact: bool = False) -> str | None:
        found = self.modules.get(dotted, [])
        if exact:  # a relative import names the module from the repository root
            found = [p for p in found if p.rsplit(".", 1)[0].removesuffix("/__init__").replace("/", ".") == dotted]
        return self.best(found, importer)
