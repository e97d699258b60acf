"""Drop web pages by their URL: blocklisted domains and banned words.

FineWeb starts by dropping URLs on a blocklist (datatrove's ``URLFilter``, with the UT1 adult
list and banned words; Penedo et al. 2024, section 3.2). Lists are not bundled and nothing is
downloaded: the config names the domains (inline and/or a file, one per line, ``#`` comments)
and the words. A page matches when its host or any parent domain is listed, so blocking
``example.com`` also blocks ``www.example.com``. With no list the stage keeps everything.
"""

from __future__ import annotations

import functools
import json
import os
import re
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec


class UrlFilterConfig(StrictModel):
    """Where the blocklists come from; empty lists turn the rules off."""

    blocked_domains: list[str] = Field(default_factory=list)
    blocked_domains_file: str | None = None  # one domain per line, "#" starts a comment
    banned_url_words: list[str] = Field(default_factory=list)  # case-insensitive substrings of the URL


def _domain(entry: str) -> str:
    entry = entry.split("#", 1)[0].strip().lower()
    if "://" in entry:
        entry = urlsplit(entry).hostname or ""
    return entry.lstrip("*.").rstrip(".")


@functools.lru_cache(maxsize=8)
def _file_domains(path: str, mtime: float) -> frozenset[str]:
    with open(path, encoding="utf-8") as f:
        return frozenset(d for d in map(_domain, f) if d)


def _domains(cfg: UrlFilterConfig) -> frozenset[str]:
    inline = frozenset(d for d in map(_domain, cfg.blocked_domains) if d)
    if cfg.blocked_domains_file is None:
        return inline
    return inline | _file_domains(cfg.blocked_domains_file, os.path.getmtime(cfg.blocked_domains_file))


def _url(meta: str) -> str | None:
    try:
        url = json.loads(meta).get("url")
    except (ValueError, AttributeError):
        return None
    return url if isinstance(url, str) else None


def _blocked(url: str, domains: frozenset[str]) -> bool:
    try:
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").rstrip(".")
    except ValueError:  # a malformed URL (e.g. a bad IPv6 literal) has no host to match
        return False
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts)))


def url_filter(table: pa.Table, cfg: UrlFilterConfig) -> pa.Table:
    """Filter stage: ``blocked_domain`` or ``banned_url_word`` from the ``url`` in each row's meta."""
    reason = np.full(table.num_rows, None, dtype=object)
    domains = _domains(cfg)
    words = re.compile("|".join(map(re.escape, (w.lower() for w in cfg.banned_url_words if w))))
    if domains or cfg.banned_url_words:
        has_url = pc.fill_null(pc.match_substring(table["meta"], '"url"'), False).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(has_url)
        for i, meta in zip(rows, table["meta"].take(pa.array(rows)).to_pylist()):
            url = _url(meta)
            if url is None:
                continue
            if domains and _blocked(url, domains):
                reason[i] = "blocked_domain"
            elif cfg.banned_url_words and words.search(url.lower()):
                reason[i] = "banned_url_word"
    return table.append_column("drop_reason", pa.array(reason, pa.string()))


SPEC = StageSpec(
    "url_filter", "filter", url_filter, UrlFilterConfig, Scope(sources=["web"]), ("blocked_domain", "banned_url_word")
)
