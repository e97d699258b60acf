"""Credentials found by their published formats, shared by every stage that redacts secrets.

Each kind is a precompiled regex plus literal hints that must occur in the text for the regex
to run at all (a document without ``AKIA`` costs one substring scan for that kind), or anchors:
the only places where a keyword pattern is tried.
Token formats follow the vendors' documentation, as gitleaks and detect-secrets encode them
(BigCode used detect-secrets for StarCoder's data). ``credential`` catches
``password|secret|token|api_key = "value"`` assignments, and only when the value looks random.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

SECRET = "<SECRET>"  # one placeholder for every kind; rewrite_tags keep the kind
_PLACEHOLDER = re.compile(
    r"(?i)example|x{4}|\*{3}|your|changeme|placeholder|dummy|redacted|<|>|\$\{|\{\{|%\(|\.\.\.|^@[A-Z0-9_]+@?$"
)


def looks_random(value: str) -> bool:
    """A value worth redacting: not a placeholder or path, and mixed like a generated string."""
    if _PLACEHOLDER.search(value) or value[0] in "/.~":
        return False
    classes = sum(any(f(c) for c in value) for f in (str.islower, str.isupper, str.isdigit)) + (not value.isalnum())
    if classes >= 3:
        return True
    counts = Counter(value).values()
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return classes == 2 and len(value) >= 16 and entropy >= 3.0 and any(c.isdigit() for c in value)


_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_NAME = re.compile(r"[A-Za-z_][\w.]*")  # an identifier or a dotted path: a reference when its parts are words
# Words that make a keyword name something else than a secret: .NET's publicKeyToken, CSRF and paging tokens, a
# tokenizer's special tokens (bos_token, pad_token_id), idempotency and lock tokens, ...
_NOT_SECRET_WORDS = frozenset(
    [
        "public",
        "csrf",
        "xsrf",
        "next",
        "page",
        "paging",
        "continuation",
        "cancel",
        "cancellation",
        "bos",
        "eos",
        "pad",
        "sep",
        "cls",
        "mask",
        "unk",
        "start",
        "end",
        "max",
        "min",
        "num",
        "special",
        "sync",
        "lexer",
        "type",
        "input",
        "output",
        "forward",
        "backward",
        "change",
        "update",
        "request",
        "idempotency",
        "marker",
        "lock",
    ]
)
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def credential_value(m: re.Match[str]) -> bool:
    """A keyword assignment whose value is a secret: random-looking, and not a reference to something named like
    the keyword (``token = Name.Builtin``, ``bos_token_id: torch.Tensor``), a short hex id (AWS resource ids,
    .NET public key tokens are 16 hex digits; keys are 32 or more), or a name with a non-secret qualifier."""
    value = m[2] or m[3]
    name = re.search(r"([\w-]*) ?$", m.string[max(0, m.start() - 40) : m.start()])  # "pad_token", "page token"
    if name and _NOT_SECRET_WORDS.intersection(w.lower() for w in _WORDS.findall(name[1])):
        return False
    if "://" in value:  # a URL (an RFC's section for a refresh token), not a credential
        return False
    keyword = re.match(r"[A-Za-z]+", m[0])
    if keyword and keyword[0].lower() in value.lower() and re.fullmatch(r"[+!-]?[\w.-]+", value):
        return False  # a name that says what it is (V1SecretProjection, X-Access-Token, x.MyPrivateKey)
    if _NAME.fullmatch(value) and not any(looks_random(part) for part in re.split(r"[._]", value) if part):
        return False
    if (_HEX.fullmatch(value) and len(value) < 32) or _UUID.fullmatch(value):  # ids, request and change tokens
        return False
    return looks_random(value)


def _key_material(m: re.Match[str]) -> bool:
    """A private-key block with a body: not the BEGIN and END markers quoted side by side in a parser's source."""
    body = re.sub(r"-----[A-Z0-9 ]+-----", "", m[0])
    return len(re.findall(r"[A-Za-z0-9+/=]", body)) >= 40 and "<" not in body


def _mixed_case_and_digits(value: str) -> bool:
    return any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)


@dataclass(frozen=True)
class SecretPattern:
    kind: str  # the rewrite tag, e.g. "github_token"
    regex: re.Pattern[str]
    hints: tuple[str, ...] = ()  # the pattern runs only when one of these occurs in the text (none: always)
    # Lower-case strings where a match starts: the regex is tried only there, for keyword patterns
    # that would otherwise be case-insensitive scans of the whole text.
    anchors: tuple[str, ...] = ()
    groups: tuple[int, ...] = (0,)  # the part replaced: the first of these groups that took part (0: all)
    check: Callable[[re.Match[str]], bool] | None = None  # a match it rejects stays as it is


def _anycase(pattern: str) -> str:
    return re.sub(r"(?<!\\)[a-z]", lambda m: f"[{m[0]}{m[0].upper()}]", pattern)


# The keyword ends the name (``db_password``, ``apiToken``, not ``tokenizer``); the value follows ``=``/``:``.
_KEY = r"(?:(?<=api)|(?<=api[_-])|(?<=access)|(?<=access[_-])|(?<=private)|(?<=private[_-]))key"
_CREDENTIAL = re.compile(
    _anycase(rf"(?:passw(?:or)?d|passphrase|pwd|secret|token|{_KEY}|credentials?)(?:[_-]?(?:key|value|hash))?")
    + r"(?!\w)[\"']?\s*(?::=|=>|[:=])\s*(?:([\"'])([^\"'\s]{8,256})\1|([^\s\"'`<>;,&(){}\[\]]{12,256})(?=[\s;,&]|$))"
)

SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "private_key",
        re.compile(
            r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----.*?-----END ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----", re.S
        ),
        ("PRIVATE KEY",),
        check=_key_material,
    ),
    # A block cut off before its END line: the header and the base64 lines under it.
    SecretPattern(
        "private_key",
        re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----(?:\s*[A-Za-z0-9+/=:,-]{16,})+"),
        ("PRIVATE KEY",),
        check=_key_material,
    ),
    SecretPattern("jwt", re.compile(r"(?<![\w-])eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}(?![\w-])", re.A), ("eyJ",)),
    SecretPattern(
        "aws_access_key_id",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        check=lambda m: "EXAMPLE" not in m[0],
    ),
    SecretPattern(
        "aws_secret_key",
        re.compile(
            _anycase(r"aws[_-]?secret[_-]?(?:access[_-]?)?key")
            + r"[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("aws", "AWS", "Aws"),
        anchors=("aws",),
        groups=(1,),
        check=lambda m: "EXAMPLE" not in m[1],
    ),
    SecretPattern(
        "github_token",
        re.compile(  # "g" first: a literal prefix the scan jumps between
            r"g(?<![A-Za-z0-9_]g)(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])"
        ),
    ),
    SecretPattern(
        "slack_token",
        re.compile(r"(?<![A-Za-z0-9-])xox[abeposr]-[A-Za-z0-9-]{10,250}"),
        ("xox",),
        check=lambda m: any(c.isdigit() for c in m[0]),
    ),
    SecretPattern("google_api_key", re.compile(r"(?<![\w-])AIza[\w-]{35}(?![\w-])", re.A), ("AIza",)),
    SecretPattern(
        "stripe_key", re.compile(r"(?<![A-Za-z0-9])[sr]k_live_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])"), ("k_live_",)
    ),
    SecretPattern(
        "openai_key",
        re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[\w-]{32,300}(?![\w-])", re.A),
        ("sk-",),
        check=lambda m: _mixed_case_and_digits(m[0]),
    ),
    SecretPattern(
        "credential",
        _CREDENTIAL,
        anchors=("pass", "pwd", "secret", "token", "key", "credential"),
        groups=(2, 3),
        check=credential_value,
    ),
)
SECRET_KINDS: tuple[str, ...] = tuple(dict.fromkeys(p.kind for p in SECRET_PATTERNS))


def anchored(
    regex: re.Pattern[str],
    text: str,
    anchors: tuple[str, ...],
    lower: str | None = None,
) -> Iterator[re.Match[str]]:
    """``regex``'s non-overlapping matches that start where one of ``anchors`` occurs in ``text.lower()``."""
    lower = text.lower() if lower is None else lower
    if len(lower) != len(text):  # a rare letter whose lower case is longer: positions would shift
        yield from regex.finditer(text)
        return
    starts = set()
    for anchor in anchors:
        at = lower.find(anchor)
        while at != -1:
            starts.add(at)
            at = lower.find(anchor, at + 1)
    end = 0
    for at in sorted(starts):
        if at >= end and (m := regex.match(text, at)):
            end = m.end()
            yield m


def redact(
    text: str,
    matches: Iterable[re.Match[str]],
    placeholder: str,
    tag: str,
    tags: list[str],
    groups: tuple[int, ...] = (0,),
    check: Callable[[re.Match[str]], bool] | None = None,
) -> str:
    """``text`` with each accepted match (or its first taking-part group) replaced; one ``tag`` per replacement."""
    out, done = [], 0
    for m in matches:
        if check is not None and not check(m):
            continue
        group = next(g for g in groups if m.start(g) != -1)
        out += [text[done : m.start(group)], placeholder]
        done = m.end(group)
        tags.append(tag)
    return "".join(out) + text[done:] if out else text


def redact_secrets(text: str, kinds: frozenset[str] | None = None, placeholder: str = SECRET) -> tuple[str, list[str]]:
    """``text`` with every secret of ``kinds`` (None: all) replaced, and one tag (the kind) per replacement."""
    tags: list[str] = []
    lower = None  # text.lower(), shared by the anchored patterns until the text changes
    for p in SECRET_PATTERNS:
        if (kinds is not None and p.kind not in kinds) or (p.hints and not any(h in text for h in p.hints)):
            continue
        before = text
        if p.anchors:
            lower = text.lower() if lower is None else lower
            text = redact(text, anchored(p.regex, text, p.anchors, lower), placeholder, p.kind, tags, p.groups, p.check)
        else:
            text = redact(text, p.regex.finditer(text), placeholder, p.kind, tags, p.groups, p.check)
        lower = lower if text is before else None
    return text, tags
