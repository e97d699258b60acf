"""PII redaction: e-mail addresses, public IP addresses, phone numbers and secrets become typed placeholders.

Placeholders: ``<EMAIL>``, ``<IP_ADDRESS>``, ``<PHONE>``, ``<SECRET>`` (never ``<|...|>``, the
tokenizer's special-token form). ``rewrite_tags`` gets one entry per replacement: ``email``,
``ip_address``, ``phone`` or the secret's kind (``github_token``, ``credential``, ...).
Like datatrove's PIIFormatter (FineWeb) and BigCode's regex pipeline (StarCoder), only public
addresses are PII: private, loopback, link-local, multicast, reserved and documentation
ranges stay, and so do the RFC 2606 example domains. Near misses that stay on purpose: dotted
quads whose parts are all below 32 (``1.2.3.4``, ``4.2.13.1``: versions and section numbers far
more often; BigCode drops the one-digit ones), an address right after ``v``/``version``,
``Section`` or ``Product/`` (user agents), ``user@localhost``, ``logo@2x.png``, ``git@host:repo``,
dates, ISBNs, US ZIP+4 codes, ``+0000`` offsets and runs of space-separated numbers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import pyarrow as pa
from pydantic import field_validator

from pipeline.config_base import StrictModel
from pipeline.stage_spec import Scope, StageSpec
from pipeline.text.secrets_patterns import SECRET_KINDS, redact, redact_secrets

EMAIL, IP_ADDRESS, PHONE = "<EMAIL>", "<IP_ADDRESS>", "<PHONE>"


class PiiConfig(StrictModel):
    emails: bool = True
    ip_addresses: bool = True  # public ones only (datatrove's only_remove_public_ips=True)
    phones: bool = True
    secrets: bool = True
    secret_kinds: list[str] | None = None  # None: every kind of pipeline.text.secrets_patterns.SECRET_KINDS

    @field_validator("secret_kinds")
    @classmethod
    def _known(cls, kinds: list[str] | None) -> list[str] | None:
        unknown = set(kinds or ()) - set(SECRET_KINDS)
        if unknown:
            raise ValueError(f"unknown secret kinds {sorted(unknown)}; known: {list(SECRET_KINDS)}")
        return kinds


_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-]|\.[A-Za-z0-9]|:\S)"
)  # ":\S" after it: an SSH remote (git@github.com:org/repo), not a mailbox
_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_RESERVED_DOMAINS = (
    ".example",
    ".test",
    ".invalid",
    ".localhost",
    ".local",  # RFC 2606 / 6761 names
    ".example.com",
    ".example.org",
    ".example.net",
)
_FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "tif", "tiff", "css", "js"}

# _IPV4 and _PHONE start with a literal or a character class, so the scan skips ahead in C; the
# boundaries that would need a look-behind (which defeats that) are checked on the few candidates.
# _IPV6 runs only on texts where its hint finds "x:y:".
_IPV4 = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?![\w:]|\.[0-9A-Za-z])"
)
_VERSION_BEFORE = re.compile(r"(?:\b[Vv](?:er(?:sion)?)?\.?\s?|[A-Za-z0-9]/|\b(?:[Ss]ection|[Cc]hapter|§)\s?)$")

# Conservative, as separators or a "+" prefix are required: international (+CC ...), North American
# ((NXX) NXX-XXXX, NXX-NXX-XXXX with one separator kind) and national numbers with a trunk 0
# (030 1234567, 01 23 45 67 89, 03-1234-5678; the local number after the area code never starts
# with 0). Never inside a longer run of numbers.
_NANP = r"(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[.-][0-9]{4}|[2-9][0-9]{2}(?P<sep>[.-])[2-9][0-9]{2}(?P=sep)[0-9]{4})"
_PHONE = re.compile(
    r"(?:\+[1-9][0-9]{0,2}[ .-]?(?:\(0\)[ .-]?)?\(?[0-9]{1,4}\)?(?:[ .-]?[0-9]{2,5}){1,4}"
    rf"|{_NANP}|1[ .-]{_NANP.replace('sep', 'sep1')}"
    r"|\(0[0-9]{1,4}\)[ /-]?[1-9][0-9]{1,7}(?:[ -][0-9]{2,4}){0,3}"
    r"|0[0-9]{1,4}[ /-][1-9][0-9]{1,7}(?:[ -][0-9]{2,4}){0,3}"
    r")(?!\w|[.-]?[0-9]| [0-9])"
)
_ZIP_PLUS_4 = re.compile(r"[0-9]{5}-[0-9]{4}")


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _emails(text: str) -> Iterator[re.Match[str]]:
    """``_EMAIL`` tried only where a local part ends at an ``@``."""
    end, at = 0, text.find("@")
    while at != -1:
        start = at
        while start > max(end, at - 64) and text[start - 1] in _LOCAL:
            start -= 1
        if m := _EMAIL.match(text, start):
            end = m.end()
            yield m
        at = text.find("@", max(end, at + 1))


def _real_email(m: re.Match[str]) -> bool:
    domain = m[0].rpartition("@")[2].lower()
    return not ("." + domain).endswith(_RESERVED_DOMAINS) and domain.rpartition(".")[2] not in _FILE_SUFFIXES


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)  # also rejects parts over 255 and leading zeros
    except ValueError:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def _public_ipv4(m: re.Match[str]) -> bool:
    text, start, end = m.string, m.start(), m.end()
    if start and (_word(text[start - 1]) or text[start - 1] == "."):
        return False  # part of a longer dotted number or a word (v1.2.3.4)
    if end < len(text) and (_word(text[end]) or (text[end] == "." and text[end + 1 : end + 2].isdigit())):
        return False
    if max(map(int, m[0].split("."))) < 32:  # 1.2.3.4, 4.2.13.1: versions and section numbers, not hosts
        return False
    return not _VERSION_BEFORE.search(text, max(0, start - 10), start) and _public(m[0])


def _public_ipv6(m: re.Match[str]) -> bool:
    return any(c.isdigit() for c in m[0]) and _public(m[0])


def _phone(m: re.Match[str]) -> bool:
    before = m.string[max(0, m.start() - 2) : m.start()]
    if before and (_word(before[-1]) or before[-1] in "+.-" or (before[-1] == " " and before[0].isdigit())):
        return False
    if _ZIP_PLUS_4.fullmatch(m[0]):
        return False  # "Boston, MA 02110-1301": a US postal code, in every GPL notice
    return 9 <= sum(c.isdigit() for c in m[0]) <= 15  # E.164 allows 15; fewer than 9 is a date or a code


def redact_pii(text: str, cfg: PiiConfig) -> tuple[str, list[str]]:
    """``text`` with every enabled type replaced, and one tag per replacement (secrets, e-mails, IPs, phones)."""
    tags: list[str] = []
    if cfg.secrets:
        text, tags = redact_secrets(text, frozenset(cfg.secret_kinds) if cfg.secret_kinds is not None else None)
    if cfg.emails and "@" in text:
        text = redact(text, _emails(text), EMAIL, "email", tags, check=_real_email)
    if cfg.ip_addresses:
        text = redact(text, _IPV4.finditer(text), IP_ADDRESS, "ip_address", tags, check=_public_ipv4)
        if _IPV6_HINT.search(text):
            text = redact(text, _IPV6.finditer(text), IP_ADDRESS, "ip_address", tags, check=_public_ipv6)
    if cfg.phones:
        text = redact(text, _PHONE.finditer(text), PHONE, "phone", tags, check=_phone)
    return text, tags


def pii_redact(table: pa.Table, cfg: PiiConfig) -> pa.Table:
    """Rewrite stage: the same rows with PII replaced, plus ``rewrite_tags`` (one type name per replacement)."""
    done = [redact_pii(text, cfg) for text in table["text"].to_pylist()]
    table = table.set_column(
        table.schema.get_field_index("text"), "text", pa.array([t for t, _ in done], pa.large_string())
    )
    return table.append_column("rewrite_tags", pa.array([tags for _, tags in done], pa.list_(pa.string())))


PII_SPEC = StageSpec("pii_redact", "rewrite", pii_redact, PiiConfig, Scope(sources=["web"]))
# BigCode's PII set for code: numbers in code are rarely phone numbers
CODE_PII_SPEC = StageSpec(
    "code_pii_redact",
    "rewrite",
    pii_redact,
    PiiConfig,
    Scope(sources=["code"]),
    default=lambda: PiiConfig(phones=False),
)
