"""Listing inputs: each real file once, no walk out of the root, loops and links that cannot hang or escape."""

import json
import os
import time

import pyarrow as pa
import pytest

from pipeline.read.listing import ListingError, match_pattern, walk_files
from pipeline.read.readers import SourceSpec, expand_inputs, expand_sources, read_input


def _tree(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"text": name}) + "\n")


def test_symlink_loops_under_a_double_star_list_each_file_once_quickly(tmp_path):
    _tree(tmp_path / "d", ["a.jsonl", "sub/b.jsonl"])
    os.symlink(tmp_path / "d", tmp_path / "d" / "sub" / "loop1")  # two links back to ancestors
    os.symlink(tmp_path / "d" / "sub", tmp_path / "d" / "sub" / "loop2")
    started = time.monotonic()
    found = expand_inputs(SourceSpec(name="web", paths=["d/**/*.jsonl"]), str(tmp_path))
    assert time.monotonic() - started < 2
    assert [f.rel for f in found] == ["a.jsonl", "sub/b.jsonl"]


def test_a_directory_link_out_of_the_root_is_not_walked(tmp_path):
    _tree(tmp_path / "outside", ["secret.jsonl"])
    _tree(tmp_path / "d", ["a.jsonl"])
    os.symlink(tmp_path / "outside", tmp_path / "d" / "elsewhere")
    assert [os.path.basename(p) for p in walk_files(str(tmp_path / "d"), 10)] == ["a.jsonl"]
    assert [os.path.basename(p) for p in match_pattern(str(tmp_path / "d" / "**" / "*.jsonl"), 10)] == ["a.jsonl"]


def test_a_file_link_out_of_the_root_is_quarantined_not_read(tmp_path):
    _tree(tmp_path / "outside", ["secret.jsonl"])
    _tree(tmp_path / "d", ["a.jsonl"])
    os.symlink(tmp_path / "outside" / "secret.jsonl", tmp_path / "d" / "link.jsonl")
    spec = SourceSpec(name="web", paths=["d/*.jsonl"])
    rows = {f.rel: pa.concat_tables(read_input(spec, f)).to_pylist() for f in expand_inputs(spec, str(tmp_path))}
    assert rows["a.jsonl"][0]["status"] == "kept"
    (link,) = rows["link.jsonl"]
    assert (link["status"], link["reason"]) == ("quarantined", "outside_root")
    assert "secret" not in link["text"]


def test_a_file_linked_twice_inside_the_root_is_read_once(tmp_path):
    _tree(tmp_path / "d", ["a.jsonl"])
    os.symlink(tmp_path / "d" / "a.jsonl", tmp_path / "d" / "again.jsonl")
    assert len(walk_files(str(tmp_path / "d"), 10)) == 1


def test_same_file_names_under_two_patterns_and_two_sources_get_distinct_ids(tmp_path):
    _tree(tmp_path, ["a/data.jsonl", "b/data.jsonl", "c/data.jsonl"])
    specs = [SourceSpec(name="web", paths=["a/*.jsonl", "b/*.jsonl"]), SourceSpec(name="web", paths=["c/*.jsonl"])]
    rels = [f.rel for _, f in expand_sources(specs, str(tmp_path))]
    assert rels == ["a/data.jsonl", "b/data.jsonl", "c/data.jsonl"]


def test_one_file_in_two_sources_of_one_name_is_an_error(tmp_path):
    _tree(tmp_path, ["a/data.jsonl"])
    specs = [SourceSpec(name="web", paths=["a/*.jsonl"]), SourceSpec(name="web", paths=["a/data.jsonl"])]
    with pytest.raises(ListingError, match="listed by sources 0 and 1"):
        expand_sources(specs, str(tmp_path))


def test_a_file_name_that_is_not_utf8_is_read_with_an_escaped_id(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    name = os.fsdecode(b"caf\xe9.jsonl")  # Latin-1 bytes: not UTF-8
    with open(os.path.join(str(d), name), "w") as f:
        f.write('{"text": "bonjour"}\n')
    spec = SourceSpec(name="web", paths=["d/*.jsonl"])
    (inp,) = expand_inputs(spec, str(tmp_path))
    assert inp.rel == "caf\\xe9.jsonl"
    (row,) = pa.concat_tables(read_input(spec, inp)).to_pylist()
    assert (row["id"], row["text"], row["status"]) == ("web/caf\\xe9.jsonl#0", "bonjour", "kept")


def test_listing_past_its_time_limit_is_an_error_naming_the_setting(tmp_path):
    _tree(tmp_path / "d", [f"s{i}/f.jsonl" for i in range(50)])
    with pytest.raises(ListingError, match="list_timeout_s"):
        walk_files(str(tmp_path / "d"), 1e-9)
