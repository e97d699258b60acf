"""A non-editable install: the wheel holds our three packages and the bundled config, runs from
outside a checkout, and a same-named stranger on the import path is named in one line."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from jobs.usage import EXIT_USAGE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNSHIPPED = (".git", ".venv", "build", "*.egg-info", "data", "out", "__pycache__", ".*_cache")


def _from(site: str, code: str) -> str:
    """``code`` run with the installed folder first on the import path."""
    return f"import sys; sys.path.insert(0, {site!r}); {code}"


def _python(code: str, cwd, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """The wheel built from this checkout, installed (without dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: setuptools' build/ in the checkout would keep modules since removed
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*UNSHIPPED))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(src)], check=True, timeout=300
    )
    (wheel,) = tmp.glob("corpusmill-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "jobs/configs/sample.yaml" in names and "jobs/runtime_env.yaml" in names
    assert "pipeline/stage_spec.py" in names and "tokenization/shards/shards.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "data/"))]
    site = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300)
    return str(site)


@pytest.mark.slow
def test_the_installed_packages_are_the_wheels_not_the_checkouts(installed, tmp_path):
    code = _from(installed, "import jobs, pipeline, tokenization.shards; print(pipeline.__file__)")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(installed)


@pytest.mark.slow
def test_run_without_a_config_outside_a_checkout_says_what_to_pass(installed, tmp_path):
    code = _from(installed, "from jobs.cli import main; sys.exit(main(['run']))")
    done = _python(code, tmp_path)
    assert done.returncode == EXIT_USAGE, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pass a config of your own, `corpusmill run my.yaml`" in lines[0], done.stderr


@pytest.mark.slow
def test_the_bundled_config_resolves_from_the_wheel(installed, tmp_path):
    code = _from(installed, "from jobs.cli import main; sys.exit(main(['config', '--print']))")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "gopher_quality:" in done.stdout and "seq_len: 4096" in done.stdout


def test_a_stranger_named_pipeline_is_named_in_one_line(tmp_path):
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    done = _python("import jobs", tmp_path, pythonpath=str(tmp_path))
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert f"the package 'pipeline' found at {os.path.realpath(tmp_path / 'pipeline')} is not corpusmill's" in last
    assert "install corpusmill in a virtualenv of its own" in last
