"""The output directory: refused when it cannot hold a run, held by one run at a time."""

import json
import os

import pytest
import yaml

from jobs.cli import main
from jobs.output_dir import LOCK_FILE, check_output_dir, locked
from jobs.usage import EXIT_USAGE, UsageError
from pipeline.read.readers import SourceSpec


def test_a_second_run_is_refused_with_the_holder_named(tmp_path):
    with (
        locked(str(tmp_path)),
        pytest.raises(UsageError, match=rf"in use by pid {os.getpid()} on "),
        locked(str(tmp_path)),
    ):
        pass
    with locked(str(tmp_path)):  # released at the end of the first
        pass


def test_a_lock_file_left_by_a_dead_run_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "gone", "pid": 999999, "started": 0}))
    with locked(str(tmp_path)):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_an_output_dir_inside_an_input_folder_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    specs = [SourceSpec(name="web", paths=["data/**/*.jsonl"])]
    with pytest.raises(UsageError, match="inside the input folder"):
        check_output_dir(str(tmp_path / "data" / "out"), specs, str(tmp_path))
    check_output_dir(str(tmp_path / "out"), specs, str(tmp_path))  # beside it: fine


def _config(tmp_path, **update) -> str:
    (tmp_path / "web").mkdir(exist_ok=True)
    (tmp_path / "web" / "a.jsonl").write_text('{"text": "x"}\n')
    config = {"sources": [{"name": "web", "paths": ["web/*.jsonl"]}], "output_dir": str(tmp_path / "out"), **update}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"sources": []}, "sources: List should have at least 1 item"),
        ({"mix": {"weights": {"webb": 1.0}}}, "mix.weights: 'webb' is not a source; .* \\(did you mean 'web'\\?\\)"),
        ({"tokenizer": {"mix": {"wbe": 1.0}}}, "tokenizer.mix: 'wbe' is not a source"),
        (
            {"mix": {"optional": ["multimodel"]}},
            "mix.optional: 'multimodel' is not a source.*did you mean 'multimodal'",
        ),
        ({"mix": {"policy": "exactly"}}, "mix.policy"),
        ({"mix": {"weights": {"book": 1.0}}}, "mix.weights gives no weight to any source this config reads \\(web\\)"),
        ({"output_dir": "FILE"}, "is a file, not a directory"),
        ({"output_dir": "web/out"}, "inside the input folder"),
    ],
)
def test_config_and_path_mistakes_are_one_line_and_exit_2(tmp_path, capsys, update, message):
    if update.get("output_dir") == "FILE":
        (tmp_path / "file").write_text("")
        update = {"output_dir": str(tmp_path / "file")}
    elif "output_dir" in update:
        update = {"output_dir": str(tmp_path / update["output_dir"])}
    assert main(["run", _config(tmp_path, **update)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("corpusmill: error: ") and len(err.splitlines()) == 1
    assert __import__("re").search(message, err), err


def test_a_missing_or_broken_config_file_is_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml")]) == EXIT_USAGE
    (tmp_path / "bad.yaml").write_text("sources: [\n")
    assert main(["run", str(tmp_path / "bad.yaml")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "config file not found" in err and "is not valid YAML" in err


def test_run_without_a_config_outside_a_checkout_says_what_to_pass(tmp_path, capsys, monkeypatch):
    """An installed wheel carries jobs/configs/sample.yaml but not data/sample/: one line, exit 2."""
    import shutil

    import jobs.run
    from jobs.config import default_config_path, load_config

    configs = tmp_path / "site-packages" / "jobs" / "configs"
    configs.mkdir(parents=True)
    shutil.copy(default_config_path(), configs / "sample.yaml")
    monkeypatch.setattr(jobs.run, "load_config", lambda path=None: load_config(path or str(configs / "sample.yaml")))
    assert main(["run"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pass a config of your own, `corpusmill run my.yaml`" in err
