"""corpusmill installs ``pipeline``, ``tokenization`` and ``jobs`` as top-level names (README:
Installed names). PyPI has unrelated distributions named ``pipeline`` and ``tokenization``; when
one of them is found first, every import deep in a pass would fail with a confusing error. This
check finds the three packages without importing them and says in one line which file is not ours."""

from __future__ import annotations

import importlib.util
import os

# A file each of our packages has and a same-named stranger is unlikely to (or its .pyc). The folders
# need not share a parent: Ray's py_modules unpacks each package into a folder of its own.
OWN_MARKERS = {"pipeline": "stage_spec.py", "tokenization": os.path.join("shards", "shards.py")}


class ForeignPackageError(ImportError):
    """A package named like one of ours, found before ours on the import path."""


def package_dir(name: str) -> str | None:
    """Where ``name`` would be imported from, or None when it is not importable at all."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None if spec is None else os.path.dirname(spec.origin or "")
    return os.path.realpath(next(iter(spec.submodule_search_locations)))


def check_own_packages(jobs_dir: str) -> None:
    """Raise one line naming the folder when ``pipeline`` or ``tokenization`` is not corpusmill's."""
    root = os.path.dirname(os.path.realpath(jobs_dir))
    for name, marker in OWN_MARKERS.items():
        found = package_dir(name)
        if found is None:
            raise ForeignPackageError(f"corpusmill's package {name!r} is not importable beside {jobs_dir}")
        if not any(os.path.isfile(os.path.join(found, marker + end)) for end in ("", "c")):
            raise ForeignPackageError(
                f"the package {name!r} found at {found} is not corpusmill's (expected {os.path.join(root, name)}): "
                f"another distribution named {name!r} shadows it; install corpusmill in a virtualenv of its own"
            )
