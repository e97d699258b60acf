"""Readers: one input file (or HF dataset directory) into WORK_SCHEMA tables.

Each format yields ``(position, record | exception, raw)`` items; ``records.rows_to_tables``
turns them into documents or quarantine rows. A file that cannot be opened, or that ends
early, becomes a quarantine row for the file and the job goes on.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from pipeline.books.readers import BookReadConfig, book_items, detect_book_format
from pipeline.code.repos import repo_items, repo_name
from pipeline.images.decode import MAX_IMAGE_PIXELS
from pipeline.images.webdataset import WebDatasetConfig, webdataset_items
from pipeline.read.archives import is_archive
from pipeline.read.compressed import open_binary
from pipeline.read.listing import ListingError, is_under, match_pattern, pattern_root, walk_files
from pipeline.read.records import FieldMap, Item, RecordError, rows_to_tables
from pipeline.read.remote import canonical_url, expand_remote, is_remote, local_copy
from pipeline.read.safety import ReadLimits
from pipeline.web.html_file import html_file_items
from pipeline.web.html_interleaved import HtmlImagesConfig, html_images_items
from pipeline.web.warc import warc_items

Format = Literal[
    "auto",
    "jsonl",
    "parquet",
    "arrow",
    "hf_disk",
    "hf_load",
    "warc",
    "html",
    "book",
    "code_repo",
    "webdataset",
    "html_images",
]
_SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".warc": "warc",
    ".html": "html",
    ".htm": "html",
}
# The formats whose readers build the records themselves: the field map they fix; "meta_fields"
# applies unless the source lists its own. WARC and HTML pages hold HTML under "html".
_OWN_FIELDS: dict[str, dict[str, Any]] = {
    "warc": {"text_field": "html", "content": "html", "meta_fields": ["url", "date", "record_id", "truncated"]},
    "html": {"text_field": "html", "content": "html", "meta_fields": ["url"]},
    "book": {"text_field": "text", "content": "text", "meta_fields": ["title", "author", "language"]},
    "code_repo": {"text_field": "content", "content": "text", "meta_fields": ["repo", "path", "language", "license"]},
    "webdataset": {"text_field": "caption", "content": "text", "image_field": "image", "meta_fields": ["key", "url"]},
    "html_images": {
        "text_field": "text",
        "content": "text",
        "images_field": "images",
        "meta_fields": ["url", "title", "images_skipped", "images_skipped_reasons"],
    },
}


class SourceSpec(FieldMap):
    """One input source: its kind (web, book, code, multimodal), where its files are, how to read them."""

    name: Literal["web", "book", "code", "multimodal"]
    paths: list[str]  # files, directories or globs; relative paths resolve against the config's folder
    # warc: HTML responses of .warc[.gz]; html: one page per .html/.htm file; book: one book per
    # .txt/.epub/.html file (the default for those in a book source); code_repo: each matched
    # directory or archive is one repository (archives are found by themselves in a code source);
    # webdataset: image-caption samples of .tar/.tar.gz shards; html_images: one interleaved text-and-images
    # document per .html/.htm page (both the default for those files in a multimodal source)
    format: Format = "auto"
    hf_builder: str | None = None  # for hf_load: "json", "csv", "text", "parquet", ...
    max_record_bytes: int = Field(64 << 20, gt=0)  # a longer JSONL line, WARC record or HTML file: quarantined unread
    list_timeout_s: float = Field(600.0, gt=0)  # listing the paths takes longer: an error, not a silent hang
    batch_rows: int = Field(1000, gt=0)
    # A local input file over this many MB on disk is cleaned by several tasks (at most split_max), each
    # reading the whole file and cleaning every n-th run of split_records records: one large file is otherwise
    # one task that the step waits for (a 31 MB book file: 24.7 s of a 25.9 s step on 2 CPUs). The cost is
    # reading and parsing the file once per task, so only where cleaning dominates that: by default book
    # files over 4 MB (cleaning ~0.7 s per MB read here) and web files over 16 MB (~0.15 s per MB); None
    # turns it off (code: cleaning costs about what reading does).
    split_mb: float | None = Field(None, gt=0)
    split_max: int = Field(8, gt=0)
    split_records: int = Field(64, gt=0)  # a few MB of books or web pages: shares even out within a file
    book: BookReadConfig = Field(default_factory=BookReadConfig)
    repo_limits: ReadLimits = Field(default_factory=ReadLimits)  # archive and checkout safety caps
    webdataset: WebDatasetConfig = Field(default_factory=WebDatasetConfig)  # caption field, shard safety caps
    html_images: HtmlImagesConfig = Field(default_factory=HtmlImagesConfig)  # image cap, alt text, page chrome

    @model_validator(mode="after")
    def _default_split(self) -> SourceSpec:
        if "split_mb" not in self.model_fields_set:
            self.split_mb = {"book": 4.0, "web": 16.0}.get(self.name)
        return self


def carries_images(spec: SourceSpec) -> bool:
    """Whether the source's records may hold images: an image field, or a format that reads them."""
    image_format = spec.format in ("webdataset", "html_images") or (spec.format == "auto" and spec.name == "multimodal")
    return bool(spec.image_field or spec.images_field or image_format)


@dataclass(frozen=True)
class InputFile:
    source: str
    path: str  # absolute (a local path may hold undecodable bytes as surrogate escapes, os.fsdecode's form)
    rel: str  # below the source's common root, UTF-8 safe: what ids are built from, unique within the source name
    root: str = ""  # the pattern's root: the file, its links and the images it names must stay below it


def _safe_text(name: str) -> str:
    """A file name as UTF-8 text: bytes that are not UTF-8 (kept by os.fsdecode as surrogates) as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace") if not is_remote(name) else name


def _local_matches(spec: SourceSpec, absolute: str) -> list[str]:
    matches = match_pattern(absolute, spec.list_timeout_s)
    if not matches and glob.has_magic(absolute):
        raise ListingError(
            f"source {spec.name!r}: the pattern {absolute} matches no file; check the path "
            "(relative paths start at the config file's folder)"
        )
    if not matches:
        return [absolute]  # a named file that is missing: read as one quarantined file, counted
    if _is_hf_disk(absolute) or spec.format == "code_repo":  # a matched directory is one input, not a folder
        return matches
    return [
        f
        for m in matches
        for f in (walk_files(m, spec.list_timeout_s) if os.path.isdir(m) and not _is_hf_disk(m) else [m])
    ]


def _pattern_files(spec: SourceSpec, pattern: str, base_dir: str) -> tuple[str, list[str]]:
    """The pattern's root and the files (or input directories) it names."""
    if is_remote(pattern):
        found = expand_remote(pattern)
        if not found and glob.has_magic(pattern):
            raise ListingError(f"source {spec.name!r}: the pattern {pattern} matches no object")
        if not found:  # a named object that is missing: read as one quarantined file, counted
            url = canonical_url(pattern)
            return os.path.dirname(url), [url]
        url, rel = found[0]
        return url.removesuffix("/" + rel), [u for u, _ in found]
    absolute = local_pattern(pattern, base_dir)
    return pattern_root(absolute), _local_matches(spec, absolute)


def local_pattern(pattern: str, base_dir: str) -> str:
    """A local path or glob as an absolute, normalized pattern: relative ones start at ``base_dir``."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(pattern)))


def _common_root(roots: list[str]) -> list[str]:
    parts = [r.rstrip("/").split("/") for r in roots]
    common = parts[0]
    for p in parts[1:]:
        n = 0
        while n < min(len(common), len(p)) and common[n] == p[n]:
            n += 1
        common = common[:n]
    return common


def expand_sources(specs: list[SourceSpec], base_dir: str) -> list[tuple[int, InputFile]]:
    """Every input of every source as ``(source index, file)``, sorted by source then path.

    ``rel`` is the path below the common root of every pattern of sources that share a name, so two
    patterns (or two sources) holding ``data.jsonl`` give different ids; a file listed by two sources
    of one name is an error (its records would be read twice under two settings)."""
    listed: list[tuple[int, str, str]] = [
        (i, root, f)
        for i, spec in enumerate(specs)
        for pattern in spec.paths
        for root, files in [_pattern_files(spec, pattern, base_dir)]
        for f in files
    ]
    out: list[tuple[int, InputFile]] = []
    for name in sorted({s.name for s in specs}):
        mine = [x for x in listed if specs[x[0]].name == name]
        common = _common_root([r for _, r, _ in mine])
        owner: dict[str, int] = {}
        for i, root, f in mine:
            key = f if is_remote(f) else os.path.realpath(f)
            if owner.setdefault(key, i) != i:
                raise ListingError(
                    f"{_safe_text(f)} is listed by sources {owner[key]} and {i}, both {name!r}: "
                    "list each file in one source"
                )
            rel = "/".join(f.split("/")[len(common) :]) or os.path.basename(f)
            out.append((i, InputFile(name, f, _safe_text(rel), root)))
    return sorted(set(out), key=lambda x: (specs[x[0]].name, x[1].rel, x[0]))


def expand_inputs(spec: SourceSpec, base_dir: str) -> list[InputFile]:
    """Every input of one source, sorted by ``rel``."""
    return [f for _, f in expand_sources([spec], base_dir)]


def _is_hf_disk(path: str) -> bool:
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "dataset_info.json"))


def detect_format(spec: SourceSpec, path: str) -> Format:
    if spec.format != "auto":
        return spec.format
    if _is_hf_disk(path):
        return "hf_disk"
    if spec.name == "code" and is_archive(path):
        return "code_repo"
    if spec.name == "book" and detect_book_format(path) is not None:
        return "book"
    if spec.name == "multimodal" and is_archive(path) and not path.lower().endswith(".zip"):
        return "webdataset"
    name = path
    for ext in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(ext)
    fmt = _SUFFIXES.get(os.path.splitext(name)[1].lower())
    if spec.name == "multimodal" and fmt == "html":
        return "html_images"
    if fmt is None:
        raise RecordError("unknown_format", f"cannot tell the format of {os.path.basename(path)}; set `format`")
    return fmt


def _jsonl_items(path: str, max_bytes: int) -> Iterator[Item]:
    with open_binary(path) as f:
        position = 0
        while True:
            line = f.readline(max_bytes + 1)
            if not line:
                return
            if len(line) > max_bytes and not line.endswith(b"\n"):
                size = len(line)
                while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
                    size += len(chunk)
                size += len(chunk)
                yield position, RecordError("record_too_large", f"line of {size} bytes > {max_bytes}"), line
            elif line.strip():
                try:
                    yield position, json.loads(line.decode("utf-8")), line
                except UnicodeDecodeError as e:
                    yield position, RecordError("invalid_utf8", str(e)), line
                except (ValueError, RecursionError) as e:  # RecursionError: nested deeper than the decoder goes
                    yield position, RecordError("invalid_json", f"{type(e).__name__}: {e}"), line
            position += 1


def _batches_items(batches: Iterator[pa.RecordBatch], needed: str) -> Iterator[Item]:
    position = 0
    for batch in batches:
        if needed not in batch.schema.names:
            raise RecordError("wrong_schema", f"no column {needed!r} in {batch.schema.names}")
        for record in batch.to_pylist():
            yield position, record, None
            position += 1


def _arrow_batches(path: str) -> Iterator[pa.RecordBatch]:
    with pa.memory_map(path) as source:
        try:
            reader: Any = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        except pa.ArrowInvalid:
            source.seek(0)
            yield from ipc.open_stream(source)


def _hf_batches(spec: SourceSpec, path: str, fmt: Format, cache_dir: str | None) -> Iterator[pa.RecordBatch]:
    import datasets  # heavy import, only for sources that need it

    if fmt == "hf_disk":
        ds = datasets.load_from_disk(path)
    else:
        builder = spec.hf_builder or detect_format(spec.model_copy(update={"format": "auto"}), path)
        builder = {"jsonl": "json", "arrow": "arrow"}.get(builder, builder)
        ds = datasets.load_dataset(builder, data_files=[path], split="train", cache_dir=cache_dir)
    if isinstance(ds, datasets.DatasetDict):
        raise RecordError("wrong_schema", f"{path} holds splits {list(ds)}; point at one split's directory")
    yield from ds.data.table.to_batches(max_chunksize=spec.batch_rows)


def _source_root(inp: InputFile) -> str:
    """The folder the source's pattern starts in: what an HTML page's local images must stay below."""
    if inp.root:
        return inp.root
    rel = inp.rel.replace("/", os.sep)
    if inp.path.endswith(os.sep + rel):
        return inp.path[: -len(rel) - 1] or os.sep
    return os.path.dirname(inp.path)


def _items(
    spec: SourceSpec, inp: InputFile, html_root: str, cache_dir: str | None, max_pixels: int | None
) -> Iterator[Item]:
    path = inp.path
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {_safe_text(path)}")
    if inp.root and not is_remote(inp.root) and not is_under(path, inp.root):
        raise RecordError("outside_root", f"{inp.rel} links to a file outside its source root; not read")
    fmt = detect_format(spec, path)
    if fmt == "book":
        book_format = detect_book_format(path)
        if book_format is None:
            raise RecordError("unknown_format", f"not a .txt, .epub or .html book: {os.path.basename(path)}")
        yield from book_items(path, book_format, spec.book)
    elif fmt == "code_repo":
        yield from repo_items(path, spec.repo_limits, repo=repo_name(inp.rel))
    elif fmt == "jsonl":
        yield from _jsonl_items(path, spec.max_record_bytes)
    elif fmt == "warc":
        yield from warc_items(path, spec.max_record_bytes)
    elif fmt == "html":
        yield from html_file_items(path, spec.max_record_bytes)
    elif fmt == "webdataset":
        yield from webdataset_items(path, spec.webdataset)
    elif fmt == "html_images":
        yield from html_images_items(
            path, html_root, spec.html_images, spec.extract, spec.max_record_bytes, max_pixels=max_pixels
        )
    elif fmt == "parquet":
        yield from _batches_items(pq.ParquetFile(path).iter_batches(batch_size=spec.batch_rows), spec.text_field)
    elif fmt == "arrow":
        yield from _batches_items(_arrow_batches(path), spec.text_field)
    else:
        yield from _batches_items(_hf_batches(spec, path, fmt, cache_dir), spec.text_field)


def _fields(spec: SourceSpec, path: str) -> FieldMap:
    """The source's field map, or the one a format's reader fixes."""
    try:
        fmt = detect_format(spec, path)
    except RecordError:
        return spec  # reading fails the same way and quarantines the file
    if fmt not in _OWN_FIELDS:
        return spec
    update = {"image_field": None, "images_field": None, **_OWN_FIELDS[fmt]}
    update["meta_fields"] = spec.meta_fields or update["meta_fields"]
    return spec.model_copy(update=update)


def read_input(
    spec: SourceSpec,
    inp: InputFile,
    cache_dir: str | None = None,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
    share: tuple[int, int] = (0, 1),
) -> Iterator[pa.Table]:
    """All rows of one input (with ``share`` ``(k, n)``, the k-th of n interleaved shares of its records, for n
    tasks splitting a large file); a failure part-way keeps what was read and quarantines the rest.
    A remote input is read from a local copy, removed afterwards. An image whose header is over ``max_pixels``
    is refused before any pixel is decoded (curation passes ``image_checks.max_pixels``)."""
    # the folder a record's image paths must stay in, and the one an HTML page's images must: none for an
    # object on a store (its local copy sits beside other inputs' copies)
    remote = is_remote(inp.path)
    image_dir = "" if remote else os.path.dirname(os.path.abspath(inp.path))
    html_root = "" if remote else _source_root(inp)
    with ExitStack() as copies:
        if remote:
            with suppress(FileNotFoundError):  # a missing object is read below as a missing file
                local = copies.enter_context(
                    local_copy(inp.path, os.path.join(cache_dir or tempfile.gettempdir(), "inputs"))
                )
                inp = InputFile(inp.source, local, inp.rel)
        items = _items(spec, inp, html_root, cache_dir, max_pixels)
        yield from rows_to_tables(
            items,
            source=spec.name,
            rel=inp.rel,
            fields=_fields(spec, inp.path),
            base_dir=image_dir,
            batch_rows=spec.batch_rows,
            max_pixels=max_pixels,
            share=share,
            share_records=spec.split_records,
        )
