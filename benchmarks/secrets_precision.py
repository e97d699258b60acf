"""Precision and recall of the secret rules (pipeline/text/secrets_patterns.py) on real code they were not tuned on.

Usage: python -m benchmarks.secrets_precision [--wheels /tmp/corpusmill-secret-wheels]

The rules were tuned on this venv's site-packages (transformers, pygments, google-auth, grpc, cryptography...:
142 matches before, 1 after, a real CI token). This script judges them on other code: the wheels below,
fetched with ``pip download --no-deps`` (22,227 files, 389 MB unpacked), full of SDK examples (AWS CLI and
botocore examples, OAuth RFC samples, Kubernetes test fixtures) where real-looking credentials and the ids,
pagination and lock tokens that resemble them sit side by side.

Honest caveat: reading these wheels' matches led to three more exclusions (UUIDs, qualifier words such as
``Lock``/``Change``/``Next``, ``@NAME`` templates), so they are not wholly unseen; the figures are what a
second unseen set should be checked against.

Labels: every distinct value the rules redact there was read by a person and labelled (``LABELS``: a secret
value in a credential position, example or not, is a secret: a model should not learn to emit one; an id,
a pagination/lock/idempotency token or a name is not). ``MISSED`` lists real secrets found there by reading
the matches of the previous, looser rule (a4c36fa) that the current rules leave. Precision counts every
redaction; recall = labelled secrets redacted / (labelled secrets redacted + MISSED).
Last line: JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import zipfile

from pipeline.text.secrets_patterns import SECRET_PATTERNS, anchored  # noqa: E402

WHEELS = [
    "ansible-core==2.19.14",
    "awscli==1.46.3",
    "azure-core==1.41.0",
    "boto3==1.44.8",
    "botocore==1.44.8",
    "django==5.2.19",
    "flask==3.1.3",
    "hvac==2.4.0",
    "kubernetes==37.0.2",
    "msal==1.39.0",
    "oauthlib==4.0.1",
    "openai==3.60.0",
    "paramiko==5.1.0",
    "pyjwt==2.15.1",
    "slack-sdk==3.48.0",
    "sqlalchemy==2.1.9",
    "stripe==16.1.0",
    "twilio==9.13.0",
]
NOT_SECRETS = {  # the distinct redacted values a person labelled as not secret
    "copyproduct-abc5defgjkdji",  # a product-copy operation handle
    "amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A",  # a web identity's subject id
}
MISSED = [  # real secrets the looser rule redacted and the current rules leave (read, not guessed)
    '"Password": "webdavgeneratedpassword1"',
    '"Password": "webdavgeneratedpassword2"',
    '"Password": "webdavregeneratedpassword1"',
    '"Password": "generatedwebdavpassword1"',
    '"Password": "generatedwebdavpassword2"',
    '"LocalConsolePassword": "PassWordMustBeAtLeast6Chars."',
]


def _tree(where: str) -> str:
    tree = os.path.join(where, "tree")
    if not os.path.isdir(tree):
        os.makedirs(where, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", where, *WHEELS],
            check=True,
        )
        for wheel in sorted(glob.glob(os.path.join(where, "*.whl"))):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(os.path.join(tree, os.path.basename(wheel).split("-")[0]))
    return tree


def _matches(tree: str) -> list[tuple[str, str, str]]:
    """(kind, file, redacted value) of every redaction the rules make, file by file."""
    out = []
    for path in sorted(glob.glob(os.path.join(tree, "**", "*"), recursive=True)):
        if not os.path.isfile(path) or path.endswith((".pyc", ".so", ".png", ".gif", ".jpg")):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        for p in SECRET_PATTERNS:
            if p.hints and not any(h in text for h in p.hints):
                continue
            for m in anchored(p.regex, text, p.anchors) if p.anchors else p.regex.finditer(text):
                if p.check is None or p.check(m):
                    group = next(g for g in p.groups if m.start(g) != -1)
                    out.append((p.kind, os.path.relpath(path, tree), m[group]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheels", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "corpusmill-secret-wheels"))
    args = parser.parse_args()
    found = _matches(_tree(args.wheels))
    wrong = [f for f in found if f[2] in NOT_SECRETS]
    right = len(found) - len(wrong)
    by_kind: dict[str, int] = {}
    for kind, _, _ in found:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    print(f"{len(found)} redactions in {len(WHEELS)} wheels: {by_kind}")
    for kind, path, value in sorted({(k, p.split("/")[0], v[:60]) for k, p, v in found}):
        print(f"  {'no ' if value in NOT_SECRETS else 'yes'} {kind:18} {path:14} {value}")
    precision = right / max(1, len(found))
    recall = right / max(1, right + len(MISSED))
    print(f"precision {precision:.3f} ({right}/{len(found)}), recall {recall:.3f} ({right}/{right + len(MISSED)})")
    print(
        json.dumps(
            {
                "redactions": len(found),
                "secret_precision": round(precision, 4),
                "secret_recall": round(recall, 4),
                "by_kind": by_kind,
            }
        )
    )


if __name__ == "__main__":
    main()
