"""A source file's programming language from its name, or from its shebang when the name says nothing.

Names follow GitHub Linguist, as The Stack's ``language`` column does, so files read from
repositories and files read from The Stack's Parquet carry the same labels. A known file name
(``CMakeLists.txt``) wins over the extension, and the extension over the shebang: ``tool.py``
starting with ``#!/bin/sh`` is still Python to an editor.
"""

from __future__ import annotations

import os
import re

EXTENSIONS: dict[str, str] = {
    ".py": "Python",
    ".pyi": "Python",
    ".pyw": "Python",
    ".pyx": "Cython",
    ".pxd": "Cython",
    ".c": "C",
    ".h": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".c++": "C++",
    ".hpp": "C++",
    ".hh": "C++",
    ".hxx": "C++",
    ".inl": "C++",
    ".cu": "Cuda",
    ".cuh": "Cuda",
    ".m": "Objective-C",
    ".mm": "Objective-C++",
    ".cs": "C#",
    ".java": "Java",
    ".kt": "Kotlin",
    ".kts": "Kotlin",
    ".scala": "Scala",
    ".groovy": "Groovy",
    ".gradle": "Groovy",
    ".go": "Go",
    ".rs": "Rust",
    ".swift": "Swift",
    ".dart": "Dart",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript",
    ".ts": "TypeScript",
    ".mts": "TypeScript",
    ".cts": "TypeScript",
    ".tsx": "TypeScript",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".rb": "Ruby",
    ".php": "PHP",
    ".pl": "Perl",
    ".pm": "Perl",
    ".lua": "Lua",
    ".r": "R",
    ".jl": "Julia",
    ".hs": "Haskell",
    ".ml": "OCaml",
    ".mli": "OCaml",
    ".fs": "F#",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".erl": "Erlang",
    ".clj": "Clojure",
    ".el": "Emacs Lisp",
    ".lisp": "Common Lisp",
    ".scm": "Scheme",
    ".zig": "Zig",
    ".nim": "Nim",
    ".f90": "Fortran",
    ".f": "Fortran",
    ".for": "Fortran",
    ".v": "Verilog",
    ".sv": "SystemVerilog",
    ".vhd": "VHDL",
    ".asm": "Assembly",
    ".s": "Assembly",
    ".sol": "Solidity",
    ".sql": "SQL",
    ".sh": "Shell",
    ".bash": "Shell",
    ".zsh": "Shell",
    ".ksh": "Shell",
    ".fish": "fish",
    ".ps1": "PowerShell",
    ".psm1": "PowerShell",
    ".bat": "Batchfile",
    ".cmd": "Batchfile",
    ".html": "HTML",
    ".htm": "HTML",
    ".xhtml": "HTML",
    ".css": "CSS",
    ".scss": "SCSS",
    ".sass": "Sass",
    ".less": "Less",
    ".xml": "XML",
    ".xsd": "XML",
    ".xsl": "XSLT",
    ".xslt": "XSLT",
    ".svg": "SVG",
    ".json": "JSON",
    ".map": "JSON",
    ".geojson": "JSON",
    ".ipynb": "Jupyter Notebook",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".cff": "YAML",
    ".toml": "TOML",
    ".ini": "INI",
    ".cfg": "INI",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".rst": "reStructuredText",
    ".tex": "TeX",
    ".txt": "Text",
    ".csv": "CSV",
    ".tsv": "TSV",
    ".proto": "Protocol Buffer",
    ".cmake": "CMake",
    ".mk": "Makefile",
    ".mak": "Makefile",
    ".dockerfile": "Dockerfile",
    ".tf": "HCL",
    ".hcl": "HCL",
    ".graphql": "GraphQL",
    ".thrift": "Thrift",
}

FILENAMES: dict[str, str] = {
    "Makefile": "Makefile",
    "makefile": "Makefile",
    "GNUmakefile": "Makefile",
    "Dockerfile": "Dockerfile",
    "CMakeLists.txt": "CMake",
    "Gemfile": "Ruby",
    "Rakefile": "Ruby",
    "Pipfile": "TOML",
    "Cargo.lock": "TOML",
    "poetry.lock": "TOML",
    "pdm.lock": "TOML",
    "uv.lock": "TOML",
    "README": "Text",
    "LICENSE": "Text",
    "LICENCE": "Text",
    "COPYING": "Text",
    "CHANGES": "Text",
    "AUTHORS": "Text",
    "NOTICE": "Text",
    "MANIFEST.in": "Text",
}

# Interpreter (version digits stripped) -> language.
SHEBANGS: dict[str, str] = {
    "python": "Python",
    "pypy": "Python",
    "sh": "Shell",
    "bash": "Shell",
    "zsh": "Shell",
    "ksh": "Shell",
    "dash": "Shell",
    "ash": "Shell",
    "fish": "fish",
    "node": "JavaScript",
    "nodejs": "JavaScript",
    "deno": "TypeScript",
    "ts-node": "TypeScript",
    "perl": "Perl",
    "ruby": "Ruby",
    "php": "PHP",
    "lua": "Lua",
    "luajit": "Lua",
    "Rscript": "R",
    "julia": "Julia",
    "tclsh": "Tcl",
    "wish": "Tcl",
    "awk": "Awk",
    "gawk": "Awk",
    "make": "Makefile",
    "pwsh": "PowerShell",
    "elixir": "Elixir",
    "escript": "Erlang",
    "runghc": "Haskell",
    "swift": "Swift",
    "osascript": "AppleScript",
}

_VERSION = re.compile(r"[\d.]+$")


def shebang_language(first_line: str) -> str | None:
    """``#!/usr/bin/env -S python3 -u`` -> ``Python``."""
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if not words:
        return None
    name = os.path.basename(words[0])
    if name == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        name = os.path.basename(rest[0])
    return SHEBANGS.get(name) or SHEBANGS.get(_VERSION.sub("", name))


def code_language(path: str, first_line: str | None = None) -> str | None:
    """The language of ``path``: by exact file name, then by extension, then by shebang; None if unknown."""
    name = path.rsplit("/", 1)[-1]
    language = FILENAMES.get(name)
    if language is None:
        language = EXTENSIONS.get(os.path.splitext(name)[1].lower())
    if language is None and first_line:
        language = shebang_language(first_line)
    return language
