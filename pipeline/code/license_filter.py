"""Keep code whose licence is on an allow-list: the permissive licences The Stack kept.

The Stack (Kocetkov et al. 2022, §3) keeps only permissively licensed repositories: copyleft
(GPL, AGPL) and weak copyleft (LGPL, MPL, EPL) code is left out, and so is code with no
detected licence, since no licence means all rights reserved. A licence comes from the
record's ``license`` meta (The Stack's column, or what the repository reader detected),
else from the file's SPDX header.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.code.licenses import HEADER_CHARS, spdx_header
from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec

# The Stack's permissive set (its licence list, SPDX ids); PSF-2.0/Python-2.0 for CPython.
PERMISSIVE = [
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "0BSD",
    "ISC",
    "Unlicense",
    "CC0-1.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "Zlib",
    "BSL-1.0",
    "PSF-2.0",
    "Python-2.0",
    "WTFPL",
    "Artistic-2.0",
    "X11",
    "NCSA",
    "UPL-1.0",
    "ECL-2.0",
    "AFL-3.0",
    "PostgreSQL",
    "Unicode-DFS-2016",
    "BlueOak-1.0.0",
    "HPND",
    "MIT-CMU",
]
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class LicenseFilterConfig(StrictModel):
    allowed: list[str] = PERMISSIVE  # SPDX ids, compared case-insensitively, "-only"/"-or-later" ignored
    allow_unknown: bool = False  # The Stack: no detected licence, no file
    use_spdx_headers: bool = True  # look at the file's SPDX tag when meta has no licence


def normalize_spdx(spdx: str) -> str:
    spdx = spdx.strip().lower().removesuffix("+")
    return spdx.removesuffix("-only").removesuffix("-or-later")


def expression_allowed(expression: str, allowed: set[str]) -> bool:
    """SPDX expression against an allow-list: ``OR`` needs one side allowed, ``AND`` both; ``WITH`` is ignored."""
    tokens = _TOKEN.findall(expression)
    pos = 0

    def disjunction() -> bool:
        nonlocal pos
        ok = conjunction()
        while pos < len(tokens) and tokens[pos].upper() == "OR":
            pos += 1
            ok = conjunction() or ok
        return ok

    def conjunction() -> bool:
        nonlocal pos
        ok = atom()
        while pos < len(tokens) and tokens[pos].upper() == "AND":
            pos += 1
            ok = atom() and ok
        return ok

    def atom() -> bool:
        nonlocal pos
        if pos >= len(tokens):
            return False
        token = tokens[pos]
        pos += 1
        if token == "(":
            ok = disjunction()
            pos += pos < len(tokens) and tokens[pos] == ")"
        else:
            ok = normalize_spdx(token) in allowed
        if pos < len(tokens) and tokens[pos].upper() == "WITH":
            pos += 2
        return ok

    return bool(tokens) and disjunction() and pos >= len(tokens)


def license_reason(license_value: object, text: str, cfg: LicenseFilterConfig, allowed: set[str]) -> str | None:
    if isinstance(license_value, list):  # The Stack's per-repository list: every licence must be allowed
        license_value = " AND ".join(str(v) for v in license_value) or None
    if not license_value and cfg.use_spdx_headers:
        license_value = spdx_header(text)
    if not license_value or str(license_value).lower() in ("unknown", "noassertion", "none"):
        return None if cfg.allow_unknown else "license_unknown"
    return None if expression_allowed(str(license_value), allowed) else "license_not_allowed"


def license_filter(table: pa.Table, cfg: LicenseFilterConfig) -> pa.Table:
    """Filter stage: ``license_not_allowed`` outside the allow-list, ``license_unknown`` with no licence found."""
    allowed = {normalize_spdx(a) for a in cfg.allowed}
    heads = pc.utf8_slice_codeunits(table["text"], 0, HEADER_CHARS).to_pylist()
    reasons = [
        license_reason(json.loads(meta).get("license"), head, cfg, allowed)
        for meta, head in zip(table["meta"].to_pylist(), heads)
    ]
    return table.append_column("drop_reason", pa.array(reasons, pa.string()))


SPEC = StageSpec(
    "code_license",
    "filter",
    license_filter,
    LicenseFilterConfig,
    Scope(sources=["code"]),
    ("license_unknown", "license_not_allowed"),
)
