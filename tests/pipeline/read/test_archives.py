import gzip
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile

import pyarrow as pa
import pytest

from pipeline.code.repos import repo_items, repo_name
from pipeline.read.archives import archive_entries, is_archive
from pipeline.read.records import FieldMap, RecordError, rows_to_tables
from pipeline.read.safety import ReadLimits, safe_name
from pipeline.schema import KEPT, QUARANTINED
from tests.conftest import REPO, STDLIB

CODE_FIELDS = FieldMap(text_field="content", meta_fields=["repo", "path", "license", "language"])
JSON_FILES = ["__init__.py", "decoder.py", "encoder.py", "scanner.py", "tool.py"]
ISC = os.path.join(REPO, "tests/pipeline/data/licenses/ISC-shellingham")  # a real licence text


def _read(path: str, limits: ReadLimits | None = None) -> pa.Table:
    """What the runner gets for one repository input: documents and quarantine rows."""
    rel = os.path.basename(path)
    items = repo_items(path, limits or ReadLimits())
    return pa.concat_tables(
        rows_to_tables(
            items, source="code", rel=rel, fields=CODE_FIELDS, base_dir=os.path.dirname(path), batch_rows=100
        )
    )


@pytest.fixture
def repo_dir(tmp_path):
    """A checkout of the standard library's json package, with a licence, a binary and a Latin-1 file."""
    root = tmp_path / "jsonpkg"
    shutil.copytree(os.path.join(STDLIB, "json"), root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ISC, root / "LICENSE")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "notes.txt").write_bytes("café au lait".encode("latin-1"))
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def test_directory_one_record_per_file_binary_and_latin1_quarantined(repo_dir):
    os.symlink("json/decoder.py", repo_dir / "alias.py")
    table = _read(str(repo_dir))
    by_id = {r["id"]: r for r in table.to_pylist()}
    kept = sorted(i for i, r in by_id.items() if r["status"] == KEPT)
    assert kept == ["code/jsonpkg#LICENSE"] + [f"code/jsonpkg#json/{f}" for f in JSON_FILES]
    assert {i: by_id[i]["reason"] for i in by_id if by_id[i]["status"] == QUARANTINED} == {
        "code/jsonpkg#alias.py": "symlink",
        "code/jsonpkg#logo.png": "binary_file",
        "code/jsonpkg#notes.txt": "not_utf8",
    }
    meta = json.loads(by_id["code/jsonpkg#json/decoder.py"]["meta"])
    assert meta == {"repo": "jsonpkg", "path": "json/decoder.py", "language": "Python", "license": "ISC"}
    assert by_id["code/jsonpkg#json/decoder.py"]["text"] == (repo_dir / "json/decoder.py").read_text()


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".tar.xz", ".zip"])
def test_archives_read_like_the_directory(tmp_path, repo_dir, suffix):
    archive = str(tmp_path / f"jsonpkg{suffix}")
    if suffix == ".zip":
        shutil.make_archive(archive[: -len(suffix)], "zip", tmp_path, "jsonpkg")
    else:
        mode = {".tar": "w", ".tar.gz": "w:gz", ".tgz": "w:gz", ".tar.xz": "w:xz"}[suffix]
        with tarfile.open(archive, mode) as tar:
            tar.add(repo_dir, arcname="jsonpkg-1.0")  # a single top folder: stripped, like a GitHub tarball
    assert is_archive(archive) and repo_name(os.path.basename(archive)) == "jsonpkg"

    def outcome(table: pa.Table) -> dict:
        return {r["id"].split("#")[1]: (r["status"], r["reason"], r["text"], r["meta"]) for r in table.to_pylist()}

    assert outcome(_read(archive)) == outcome(_read(str(repo_dir)))


def _tar(path, *members: tuple[str, bytes | None, bytes]) -> str:
    """A tar whose members are ``(name, data, type)``, written with the attack entries as given."""
    with tarfile.open(path, "w") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, len(data or b"")
            info.linkname = "../../etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def _zip(path, *entries: tuple[str, bytes, int]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return str(path)


GOOD = ("repo/ok.py", b"print('ok')\n", tarfile.REGTYPE)
ZOK = ("repo/ok.py", b"print('ok')\n", stat.S_IFREG | 0o644)


def _attacks(tmp_path) -> dict[str, tuple[str, str]]:
    bomb = io.BytesIO()
    with tarfile.open(fileobj=bomb, mode="w") as tar:
        info = tarfile.TarInfo("repo/zeros.txt")
        info.size = 8 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    (tmp_path / "bomb.tar.gz").write_bytes(gzip.compress(bomb.getvalue()))
    return {
        "traversal.tar": (
            _tar(tmp_path / "traversal.tar", GOOD, ("repo/../../etc/cron.d/x", b"x", tarfile.REGTYPE)),
            "path_traversal",
        ),
        "absolute.tar": (
            _tar(tmp_path / "absolute.tar", GOOD, ("/etc/passwd", b"x", tarfile.REGTYPE)),
            "absolute_path",
        ),
        "symlink.tar": (_tar(tmp_path / "symlink.tar", GOOD, ("repo/link", None, tarfile.SYMTYPE)), "symlink"),
        "hardlink.tar": (_tar(tmp_path / "hardlink.tar", GOOD, ("repo/link", None, tarfile.LNKTYPE)), "hardlink"),
        "device.tar": (_tar(tmp_path / "device.tar", GOOD, ("repo/sda", None, tarfile.BLKTYPE)), "special_file"),
        "fifo.tar": (_tar(tmp_path / "fifo.tar", GOOD, ("repo/pipe", None, tarfile.FIFOTYPE)), "special_file"),
        "bomb.tar.gz": (str(tmp_path / "bomb.tar.gz"), "decompression_bomb"),
        "traversal.zip": (_zip(tmp_path / "traversal.zip", ZOK, ("..\\..\\evil.py", b"x", 0)), "path_traversal"),
        "absolute.zip": (_zip(tmp_path / "absolute.zip", ZOK, ("C:/evil.py", b"x", 0)), "absolute_path"),
        "symlink.zip": (
            _zip(tmp_path / "symlink.zip", ZOK, ("repo/l", b"/etc/passwd", stat.S_IFLNK | 0o777)),
            "symlink",
        ),
        "fifo.zip": (_zip(tmp_path / "fifo.zip", ZOK, ("repo/p", b"", stat.S_IFIFO | 0o644)), "special_file"),
        "bomb.zip": (
            _zip(tmp_path / "bomb.zip", ZOK, *[(f"repo/z{i}", bytes(900_000), 0) for i in range(4)]),
            "decompression_bomb",
        ),
    }


def test_every_attack_refuses_its_archive_and_the_run_goes_on(tmp_path, repo_dir):
    limits = ReadLimits(ratio_floor_bytes=1 << 20)  # small attacks: the ratio cap applies past 1 MiB
    good = shutil.make_archive(str(tmp_path / "good"), "gztar", tmp_path, "jsonpkg")
    attacks = _attacks(tmp_path)
    tables = {name: _read(path, limits) for name, (path, _) in attacks.items()} | {"good": _read(good, limits)}
    for name, (_, reason) in attacks.items():
        rows = tables[name].to_pylist()
        assert [(r["id"], r["status"], r["reason"]) for r in rows] == [(f"code/{name}#file", QUARANTINED, reason)], name
        assert rows[0]["detail"]  # says which entry, or how many bytes
    assert tables["good"].num_rows == 8 and tables["good"]["status"].to_pylist().count(KEPT) == 6


def test_total_cap_counts_bytes_actually_decompressed(tmp_path):
    zip_path = _zip(tmp_path / "many.zip", *[(f"f{i}.py", b"x = 1\n" * 40_000, 0) for i in range(5)])
    with pytest.raises(RecordError, match="more than 500000 bytes") as err:
        archive_entries(zip_path, ReadLimits(max_total_bytes=500_000))
    assert err.value.reason == "decompression_bomb"


def test_zip_whose_header_understates_the_size_is_refused(tmp_path):
    path = tmp_path / "lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.py", b"# padding\n" * 100_000)  # 1 MB that deflates to a few KB
    data = bytearray(path.read_bytes())
    real = (1_000_000).to_bytes(4, "little")
    data = data.replace(real, (100).to_bytes(4, "little"))  # local and central headers now claim 100 bytes
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError) as err:
        archive_entries(str(path), ReadLimits())
    assert err.value.reason == "bad_archive" and "CRC" in err.value.detail


def test_file_over_the_cap_is_quarantined_alone(tmp_path):
    path = _zip(tmp_path / "r.zip", ZOK, ("repo/huge.py", b"x = 1\n" * 1000, 0))
    table = _read(path, ReadLimits(max_file_bytes=5000))
    assert dict(zip(table["id"].to_pylist(), table["reason"].to_pylist())) == {
        "code/r.zip#ok.py": None,
        "code/r.zip#huge.py": "file_too_large",
    }


def test_truncated_archive_is_a_bad_archive(tmp_path, repo_dir):
    good = shutil.make_archive(str(tmp_path / "cut"), "gztar", tmp_path, "jsonpkg")
    with open(good, "rb") as f:
        data = f.read()
    with open(good, "wb") as f:
        f.write(data[: len(data) // 2])
    assert _read(good)["reason"].to_pylist() == ["bad_archive"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../x", "path_traversal"),
        ("a/../../x", "path_traversal"),
        ("/x", "absolute_path"),
        ("\\\\server\\x", "absolute_path"),
        ("D:\\x", "absolute_path"),
        ("a\0b", "bad_name"),
    ],
)
def test_unsafe_names(name, reason):
    with pytest.raises(RecordError) as err:
        safe_name(name)
    assert err.value.reason == reason


def test_repo_name_from_the_path_below_the_source_root():
    assert [repo_name(r) for r in ("acme/widgets.tar.gz", "acme/widgets.ZIP", "click/", "a.b.tgz")] == [
        "acme/widgets",
        "acme/widgets",
        "click",
        "a.b",
    ]


def test_safe_names_normalised():
    assert safe_name("./repo//src/./a.py") == "repo/src/a.py"
    assert safe_name("repo/a..b/c.py") == "repo/a..b/c.py"
