"""Code is deduplicated as files, then built into repository documents, then deduplicated as repositories."""

import io
import json
import sysconfig
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from jobs.cli import main as cli_main

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _edit(text: str, every: int) -> str:
    """Every ``every``-th line changed: a vendored copy patched here and there (Jaccard about 0.9)."""
    return "\n".join(
        f"{line}  # patched" if i % every == every // 2 else line for i, line in enumerate(text.split("\n"))
    )


def _tar(path: Path, files: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_vendored_copies_leave_as_files_and_repositories_are_built_from_the_rest(tmp_path, ray_local, capsys):
    decoder, encoder = (STDLIB / "json" / "decoder.py").read_text(), (STDLIB / "json" / "encoder.py").read_text()
    licence = (STDLIB / "LICENSE.txt").read_text()
    _tar(
        tmp_path / "code" / "psf" / "json.tar",
        {
            "json/decoder.py": decoder,
            "json/encoder.py": encoder,
            "json/__init__.py": (STDLIB / "json" / "__init__.py").read_text(),
            "LICENSE": licence,
        },
    )
    # an application that copied both modules into its own package, one of them patched, and vendored a third under
    # _vendor/ (the code filter's vendored rule takes that one before dedup)
    scanner = (STDLIB / "json" / "scanner.py").read_text()
    _tar(
        tmp_path / "code" / "zzz" / "app.tar",
        {
            "app/main.py": (STDLIB / "textwrap.py").read_text(),
            "app/compat/decoder.py": decoder,
            "app/compat/encoder.py": _edit(encoder, 12),
            "app/_vendor/json/scanner.py": scanner,
        },
    )
    config = {
        "sources": [{"name": "code", "paths": ["code/*/*.tar"]}],
        "output_dir": str(tmp_path / "out"),
        "curate": {"code_license": None},
        "mix": {"weights": {"code": 1.0}},
        "tokenizer": {"mix": {"code": 1.0}},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert cli_main(["run", str(tmp_path / "c.yaml"), "--until", "curate"]) == 0
    out = tmp_path / "out"
    rejects = pa.concat_tables(
        [pq.read_table(f) for f in sorted((out / "rejects" / "code").glob("*.parquet"))], promote_options="default"
    )
    why = {i: (st, r, d) for i, st, r, d in zip(*(rejects[c].to_pylist() for c in ("id", "stage", "reason", "detail")))}
    original = "code/psf/json.tar#json/"
    assert why["code/zzz/app.tar#compat/decoder.py"] == ("exact_dedup", "exact_duplicate", original + "decoder.py")
    assert why["code/zzz/app.tar#compat/encoder.py"] == ("near_dedup", "near_duplicate", original + "encoder.py")
    assert why["code/zzz/app.tar#_vendor/json/scanner.py"][:2] == ("code_filter", "vendored")
    assert why["code/psf/json.tar#LICENSE"][1] == "licence_file"
    curated = pa.concat_tables([pq.read_table(f) for f in sorted((out / "curated" / "code").glob("*.parquet"))])
    docs = dict(zip(curated["id"].to_pylist(), curated["text"].to_pylist()))
    assert sorted(docs) == ["code/psf/json", "code/zzz/app"]
    assert "compat/" not in docs["code/zzz/app"] and "# main.py" in docs["code/zzz/app"]
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" not in docs["code/psf/json"]
    meta = json.loads(curated["meta"][curated["id"].to_pylist().index("code/psf/json")].as_py())
    assert meta["paths"] == ["json/decoder.py", "json/encoder.py", "json/__init__.py"] or set(meta["paths"]) == {
        "json/decoder.py",
        "json/encoder.py",
        "json/__init__.py",
    }
    stats = json.loads((out / "_markers" / "curate.json").read_text())["stats"]
    assert stats["reconciled"]
    stages = [f["stage"] for f in stats["funnel"] if f["source"] == "code"]
    assert (
        stages.index("exact_dedup")
        < stages.index("near_dedup")
        < stages.index("repo_document")
        < stages.index("repo_near_dedup")
    )
    assert "repo_near_dedup" in stats
