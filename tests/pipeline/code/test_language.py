import pyarrow.parquet as pq
import pytest

from pipeline.code.language import code_language, shebang_language
from tests.conftest import REPO


@pytest.mark.parametrize(
    "path, first_line, expected",
    [
        ("src/click/core.py", None, "Python"),
        ("src/attr/__init__.pyi", None, "Python"),
        ("c/include/brotli/decode.h", None, "C"),
        ("lib/widget.TSX", None, "TypeScript"),
        ("build/Makefile", None, "Makefile"),
        ("CMakeLists.txt", None, "CMake"),  # the file name wins over the .txt extension
        ("Lib/ctypes/macholib/fetch_macholib", "#!/bin/sh", "Shell"),
        ("bin/serve", "#!/usr/bin/env -S node --enable-source-maps", "JavaScript"),
        ("tools/gen", "#!/usr/bin/python3.11 -u", "Python"),
        ("tools/run.py", "#!/bin/sh", "Python"),  # the extension wins over the shebang
        ("data/blob.xyz", "#!/usr/bin/env", None),
        ("data/blob.xyz", None, None),
    ],
)
def test_language_from_extension_name_or_shebang(path, first_line, expected):
    assert code_language(path, first_line) == expected


def test_shebang_needs_the_marker():
    assert shebang_language("# python") is None
    assert shebang_language("#!/usr/bin/env FOO=1 perl -w") == "Perl"


def test_agrees_with_the_stack_labels_of_the_sample():
    rows = pq.read_table(f"{REPO}/data/sample/code/files.parquet").to_pylist()
    named = [(r["language"], code_language(r["path"], r["content"][:256].partition("\n")[0])) for r in rows]
    assert [pair for pair in named if pair[1] is not None and pair[0] != pair[1]] == []
    assert sum(found is not None for _, found in named) >= 470  # all but py.typed, cacert.pem, README.ctypes, ...
