"""A repository's licence from its LICENSE/COPYING files, and a file's from its SPDX header.

Licence texts are matched by the phrases that only they contain (the MIT grant, the BSD
redistribution clause, the GNU titles...), not by exact text: real LICENSE files carry
their own copyright lines, re-wrapped paragraphs and bundled notices. When several licences
match, the one named first in the file wins (the main licence leads, bundled ones follow).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|unlicense)([-._][\w.-]*)?$", re.IGNORECASE)
_SPDX = re.compile(r"SPDX-License-Identifier:[ \t]*([^\r\n]+)")
_CLOSERS = re.compile(r"\s*(\*/|-->|\*\)|#\}|\"\"\"|''')\s*$")
HEADER_CHARS = 4096  # an SPDX tag sits in the header comment
SCAN_CHARS = 20000  # the main licence of a LICENSE file is named well before this


def _gnu(m: re.Match) -> str:
    kind, version = m.group(1) or "", m.group(2)
    version = version if "." in version else f"{version}.0"
    prefix = {"lesser ": "LGPL", "library ": "LGPL", "affero ": "AGPL"}.get(kind, "GPL")
    return f"{prefix}-{version}"


def _variant(choices: list[tuple[str, str]], default: str) -> Callable[[re.Match], str]:
    """The first licence of ``choices`` whose extra phrase the text has, else ``default``."""

    def pick(m: re.Match) -> str:
        return next((spdx for spdx, phrase in choices if phrase in m.string), default)

    return pick


_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(p), f)
    for p, f in [
        (r"gnu (lesser |library |affero )?general public license,? version (\d(?:\.\d)?)", _gnu),
        (
            r"gnu (lesser |library |affero )?general public license as published by the free software foundation[;,]? "
            r"(?:either )?version (\d(?:\.\d)?)",
            _gnu,
        ),
        (r"apache license,? version 2\.0", lambda m: "Apache-2.0"),
        (r"mozilla public license,? (?:version |v\. ?)(\d\.\d)", lambda m: f"MPL-{m.group(1)}"),
        (r"eclipse public license,? (?:- )?(?:version |v ?)(\d\.\d)", lambda m: f"EPL-{m.group(1)}"),
        (r"boost software license - version 1\.0", lambda m: "BSL-1.0"),
        (r"this is free and unencumbered software released into the public domain", lambda m: "Unlicense"),
        (r"cc0 1\.0 universal", lambda m: "CC0-1.0"),
        (r"do what the fuck you want to public license", lambda m: "WTFPL"),
        (r"altered source versions must be plainly marked as such", lambda m: "Zlib"),
        (r"python software foundation license,? version 2|psf license agreement", lambda m: "PSF-2.0"),
        (r"the artistic license 2\.0", lambda m: "Artistic-2.0"),
        (r"the \"artistic license\"", lambda m: "Artistic-1.0"),
        (
            r"permission to use, copy, modify,? and distribute this software and its documentation for any purpose "
            r"and without fee is hereby granted",
            lambda m: "HPND",
        ),
        (
            r"permission is hereby granted, free of charge, to any person obtaining a copy",
            _variant([("MIT", "the above copyright notice and this permission notice shall be included")], "MIT-0"),
        ),
        (r"^(?:the )?mit license", lambda m: "MIT"),
        (
            r"permission to use, copy, modify,? (?:and/or|and) distribute this software for any purpose with or without fee",  # noqa: E501
            _variant([("ISC", "this permission notice appear in all copies")], "0BSD"),
        ),
        (
            r"redistribution and use in source and binary forms, with or without modification, are permitted",
            _variant(
                [
                    ("BSD-4-Clause", "all advertising materials mentioning"),
                    ("BSD-3-Clause", "neither the name"),
                    ("BSD-3-Clause", "may be used to endorse or promote"),
                ],
                "BSD-2-Clause",
            ),
        ),
    ]
]


def detect_license(text: str) -> str | None:
    """The SPDX id of the licence a LICENSE/COPYING text grants, or None when no known licence matches."""
    flat = " ".join(text[:SCAN_CHARS].lower().split())
    found = [(m.start(), name(m)) for pattern, name in _RULES if (m := pattern.search(flat))]
    return min(found)[1] if found else None


def spdx_header(text: str) -> str | None:
    """The expression of an ``SPDX-License-Identifier:`` tag in the file's header, if any."""
    m = _SPDX.search(text, 0, HEADER_CHARS)
    return _CLOSERS.sub("", m.group(1)).strip() or None if m else None


def is_license_file(path: str) -> bool:
    return "/" not in path and LICENSE_FILE.match(path) is not None


def repo_license(files: Iterable[tuple[str, str]]) -> str | None:
    """The licence of a repository from the licence files at its root (``AND`` of distinct ones)."""
    found = sorted({lic for path, text in files if is_license_file(path) and (lic := detect_license(text))})
    return " AND ".join(found) or None
