"""Repository-level documents, as DeepSeek-Coder builds them (Guo et al. 2024, §2.2).

The kept files of one repository are ordered so that each file comes after the files it
imports (``repo_order``), and concatenated, each under a comment line naming its path
(``# pkg/util.py``, ``// src/app.ts``, ``<!-- docs/index.html -->``), as DeepSeek-Coder adds
the path as a comment: the model sees a file's context before it. A repository longer than
``max_chars`` splits at file boundaries into ``#part-N`` documents.

Licence files (``LICENSE``, ``COPYING``...) stay out of the text: the repository's licence is in
the document's ``meta.license``, and a model has no use for the same Apache-2.0 text at the head of
thousands of documents. Such a file leaves as dropped, reason ``licence_file``.

Accounting: a merged file row leaves with status ``merged`` at stage ``repo_document`` and the
document's id as ``detail``; a document row is ``kept`` and carries the ``repo_document:created``
event, so stats.json reconciles ``in - merged + created == kept + dropped + quarantined``.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.code.deps import file_dependencies
from pipeline.code.licenses import is_license_file
from pipeline.code.repo_order import dependency_order
from pipeline.config_base import StrictModel
from pipeline.schema import CREATED_EVENT, DROPPED, KEPT, MERGED

STAGE = "repo_document"
_C_STYLE = {
    "C",
    "C++",
    "C#",
    "Java",
    "JavaScript",
    "TypeScript",
    "Go",
    "Rust",
    "Swift",
    "Kotlin",
    "Scala",
    "Dart",
    "PHP",
    "Objective-C",
    "Objective-C++",
    "Groovy",
    "Zig",
    "Solidity",
    "Cuda",
    "Protocol Buffer",
    "Thrift",
}
_DASHES = {"SQL", "Lua", "Haskell", "Elm", "VHDL"}
_MARKUP = {"HTML", "XML", "XSLT", "SVG", "Markdown", "Vue", "Svelte"}


class RepoDocConfig(StrictModel):
    enabled: bool = True  # False: one document per file, rows pass unchanged
    per_component: bool = False  # True: DeepSeek-Coder's one sample per connected dependency part
    max_chars: int = Field(1_000_000, gt=0)  # longer: split at file boundaries into #part-N


def path_header(path: str, language: str | None) -> str:
    if language in _C_STYLE:
        return f"// {path}"
    if language in _DASHES:
        return f"-- {path}"
    if language in _MARKUP:
        return f"<!-- {path} -->"
    return f"/* {path} */" if language in ("CSS", "SCSS", "Less") else f"# {path}"


def _chunks(order: list[int], sizes: dict[int, int], max_chars: int) -> list[list[int]]:
    chunks: list[list[int]] = [[]]
    used = 0
    for i in order:
        if chunks[-1] and used + sizes[i] > max_chars:
            chunks.append([])
            used = 0
        chunks[-1].append(i)
        used += sizes[i]
    return chunks


def _one_repo(
    rows: list[int], metas: list[dict], texts: list[str], ids: list[str], source: str, cfg: RepoDocConfig
) -> list[dict]:
    paths = [metas[i].get("path") or ids[i] for i in rows]
    langs = [metas[i].get("language") for i in rows]
    deps = file_dependencies([(p, texts[i], lang) for p, i, lang in zip(paths, rows, langs)])
    at = {p: i for p, i in zip(paths, rows)}
    sequences = [[at[p] for p in part] for part in dependency_order(paths, deps)]
    if not cfg.per_component:
        sequences = [[i for seq in sequences for i in seq]]
    blocks = {i: f"{path_header(p, metas[i].get('language'))}\n{texts[i].rstrip(chr(10))}\n" for p, i in at.items()}
    sizes = {i: len(b) + 1 for i, b in blocks.items()}
    chunks = [c for seq in sequences for c in _chunks(seq, sizes, cfg.max_chars)]
    repo = metas[rows[0]].get("repo") or ""
    out = []
    for n, chunk in enumerate(chunks):
        licenses = sorted({str(metas[i]["license"]) for i in chunk if metas[i].get("license")})
        meta = {
            "repo": repo,
            "license": " AND ".join(licenses) or None,
            "languages": sorted({metas[i]["language"] for i in chunk if metas[i].get("language")}),
            "paths": [metas[i].get("path") or ids[i] for i in chunk],
            "merged_ids": [ids[i] for i in chunk],
        }
        if len(chunks) > 1:
            meta.update(part=n, parts=len(chunks))
        out.append(
            {
                "id": f"{source}/{repo}" + (f"#part-{n}" if len(chunks) > 1 else ""),
                "source": source,
                "text": "\n".join(blocks[i] for i in chunk),
                "meta": json.dumps(meta, ensure_ascii=False),
                "images": [],
                "status": KEPT,
                "stage": STAGE,
                "reason": None,
                "detail": None,
                "rewrites": [f"{STAGE}:{CREATED_EVENT}"],
                "language": None,
            }
        )
    return out


def repo_keys(table: pa.Table) -> pa.Array:
    """``meta.repo`` of each row (null when absent): the key the runner groups code rows by."""
    return pa.array([json.loads(m).get("repo") for m in table["meta"].to_pylist()], pa.string())


def repo_document(files: pa.Table, cfg: RepoDocConfig) -> pa.Table:
    """The kept file rows of a repository (or several, by ``meta.repo``) as repository documents.

    Rows with no ``repo`` in their meta stay documents of their own and pass unchanged, after the new rows.
    """
    if not cfg.enabled or files.num_rows == 0:
        return files
    metas = [json.loads(m) for m in files["meta"].to_pylist()]
    texts, ids = files["text"].to_pylist(), files["id"].to_pylist()
    by_repo: dict[str, list[int]] = defaultdict(list)
    for i, meta in enumerate(metas):
        by_repo[meta.get("repo") or ""].append(i)
    alone = by_repo.pop("", [])
    source = files["source"][0].as_py()
    rows = [row for repo in sorted(by_repo) for row in _one_repo(by_repo[repo], metas, texts, ids, source, cfg)]
    return pa.concat_tables([pa.Table.from_pylist(rows, schema=files.schema), files.take(pa.array(alone, pa.int64()))])


def mark_merged(files: pa.Table, documents: pa.Table) -> pa.Table:
    """The file rows with status ``merged``, stage ``repo_document`` and the document id as ``detail``."""
    into = {
        fid: doc
        for doc, meta in zip(documents["id"].to_pylist(), documents["meta"].to_pylist())
        for fid in json.loads(meta).get("merged_ids", [])
    }
    detail = pa.array([into.get(i) for i in files["id"].to_pylist()], pa.string())
    merged = pc.is_valid(detail)
    for col, value in (("status", pa.scalar(MERGED)), ("stage", pa.scalar(STAGE)), ("detail", detail)):
        files = files.set_column(files.schema.get_field_index(col), col, pc.if_else(merged, value, files[col]))
    return files


def _licence_files(files: pa.Table) -> pa.Array:
    """Which file rows are licence texts (by ``meta.path``): their licence is in the document's meta."""
    paths = [json.loads(m).get("path") or "" for m in files["meta"].to_pylist()]
    return pa.array([is_license_file(p) for p in paths], pa.bool_())


def _mark_dropped(files: pa.Table, reason: str, detail: str) -> pa.Table:
    n = files.num_rows
    for col, value in (("status", DROPPED), ("stage", STAGE), ("reason", reason), ("detail", detail)):
        files = files.set_column(files.schema.get_field_index(col), col, pa.array([value] * n, pa.string()))
    return files


def repo_stage(files: pa.Table, cfg: RepoDocConfig) -> pa.Table:
    """A repository's kept file rows in; out, its documents (kept), the file rows (``merged``) and its licence
    files (dropped ``licence_file``)."""
    if not cfg.enabled or files.num_rows == 0:
        return files
    licence = _licence_files(files)
    code = files.filter(pc.invert(licence))
    documents = repo_document(code, cfg)
    made = documents.filter(pc.fill_null(pc.equal(documents["stage"], STAGE), False))
    dropped = _mark_dropped(files.filter(licence), "licence_file", "the licence is in the document's meta.license")
    return pa.concat_tables([made, mark_merged(code, made), dropped])
