"""Markers: a pass is skipped only while its settings, its inputs and its outputs are what it recorded."""

import os

import pytest

from jobs.config import PASS_INPUTS, PASS_SETTINGS, RUN_ONLY_SETTINGS, RunConfig
from jobs.markers import done, mark_done

CHANGES = {  # one change per setting a pass reads
    "sources": {"sources": [{"name": "web", "paths": ["other/*.jsonl"]}]},
    "curate": {"curate": {"min_length": {"min_chars": 7}}},
    "seed": {"seed": 99},
    "tokenizer": {"tokenizer": {"vocab_size": 999}},
    "tokenize": {"tokenize": {"title_template": False}},
    "pack.num_pack_groups": {"pack": {"num_pack_groups": 3}},
    "mix": {"mix": {"max_repeat": 2}},
    "pack": {"pack": {"seq_len": 2048}},
}


def _cfg(**update) -> RunConfig:
    return RunConfig.model_validate({"sources": [{"name": "web", "paths": ["web/*.jsonl"]}], **update})


@pytest.mark.parametrize("name", list(PASS_SETTINGS))
def test_every_setting_a_pass_reads_changes_its_hash(name):
    base = _cfg().pass_hash(name, {p: "h" for p in PASS_INPUTS[name]})
    for setting in PASS_SETTINGS[name]:
        changed = _cfg(**CHANGES[setting]).pass_hash(name, {p: "h" for p in PASS_INPUTS[name]})
        assert changed != base, f"{name} does not rerun when {setting} changes"
    for upstream in PASS_INPUTS[name]:
        assert _cfg().pass_hash(name, {p: "h" if p != upstream else "x" for p in PASS_INPUTS[name]}) != base


def test_the_seed_reruns_curation_near_dedup_reads_it():
    assert _cfg().pass_hash("curate") != _cfg(seed=7).pass_hash("curate")
    assert _cfg().pass_hash("curate", inputs=[[0, "a", 1, 2]]) != _cfg().pass_hash("curate", inputs=[[0, "a", 1, 3]])


def test_every_setting_is_read_by_a_pass_or_declared_run_only():
    read = {s.split(".")[0] for settings in PASS_SETTINGS.values() for s in settings}
    assert set(RunConfig.model_fields) == read | set(RUN_ONLY_SETTINGS)


def test_a_removed_edited_or_added_output_makes_the_pass_run_again(tmp_path):
    (tmp_path / "curated").mkdir()
    part = tmp_path / "curated" / "part-0.parquet"
    part.write_bytes(b"x" * 100)
    mark_done(str(tmp_path), "curate", "h1", {"stats": 1}, [str(tmp_path / "curated")])
    assert done(str(tmp_path), "curate", "h1")["stats"] == 1
    assert done(str(tmp_path), "curate", "h2") is None  # other settings
    part.write_bytes(b"y" * 100)  # same size, written again
    os.utime(part, ns=(1, 1))
    assert done(str(tmp_path), "curate", "h1") is None
    mark_done(str(tmp_path), "curate", "h1", {"stats": 1}, [str(tmp_path / "curated")])
    (tmp_path / "curated" / "stray.parquet").write_bytes(b"")
    assert done(str(tmp_path), "curate", "h1") is None
    os.remove(tmp_path / "curated" / "stray.parquet")
    assert done(str(tmp_path), "curate", "h1") is not None
    os.remove(part)
    assert done(str(tmp_path), "curate", "h1") is None


def test_a_moved_run_directory_stays_valid(tmp_path):
    (tmp_path / "a" / "curated").mkdir(parents=True)
    (tmp_path / "a" / "curated" / "p").write_bytes(b"1")
    mark_done(str(tmp_path / "a"), "curate", "h", {}, [str(tmp_path / "a" / "curated")])
    os.rename(tmp_path / "a", tmp_path / "b")
    assert done(str(tmp_path / "b"), "curate", "h") is not None


def test_outputs_behind_an_fsspec_url_are_recorded_and_checked(tmp_path):
    """pack.output may be a URL: its files are recorded under the URL, not joined to the run directory."""
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "shard.arrow").write_bytes(b"1")
    url = f"file://{tmp_path}/published"
    mark_done(str(tmp_path / "run"), "pack", "h", {}, [url])
    assert done(str(tmp_path / "run"), "pack", "h") is not None
    os.remove(tmp_path / "published" / "shard.arrow")
    assert done(str(tmp_path / "run"), "pack", "h") is None
