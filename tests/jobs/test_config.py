"""Config mistakes: every key is checked, an unknown one is named with its dotted path and the nearest
valid key, duplicate YAML keys and renamed keys are errors, and ``config --print`` shows what will run."""

import re

import pytest
import yaml
from pydantic import BaseModel

from jobs.cli import main
from jobs.config import RunConfig, load_config
from jobs.usage import EXIT_USAGE, _keys_at, _unwrap
from pipeline.stages import ROW_STAGE_NAMES, CurateConfig, row_stages
from tests.jobs.test_output_dir import _config


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"curate": {"gopher_qualty": {}}}, r"curate\.gopher_qualty: unknown key; did you mean gopher_quality\?"),
        (
            {"curate": {"gopher_quality": {"min_doc_wordz": 100}}},
            r"curate\.gopher_quality\.min_doc_wordz: unknown key; did you mean min_doc_words\?",
        ),
        ({"pack": {"seq_length": 4096}}, r"pack\.seq_length: unknown key; did you mean seq_len\?"),
        (
            {"sources": [{"name": "web", "paths": ["web/*.jsonl"], "text_feild": "html"}]},
            r"sources\.0\.text_feild: unknown key; did you mean text_field\?",
        ),
        (
            {"curate": {"scopes": {"gopher_quality": {"sourcez": ["web"]}}}},
            r"curate\.scopes\.gopher_quality\.sourcez: unknown key; did you mean sources\?",
        ),
        (
            {"curate": {"scopes": {"gopher_qualiti": {}}}},
            r"scopes\.gopher_qualiti: not a per-row stage; did you mean "
            r"gopher_quality\?",
        ),
        ({"curate": {"pii": {"phones": False}}}, r"pii is now pii_redact"),
        ({"curate": {"length": {"min_chars": 5}}}, r"length is now min_length"),
        ({"ray": {"object_store": 100}}, r"ray\.object_store: unknown key; did you mean object_store_mb\?"),
        ({"sedd": 1}, r"sedd: unknown key; did you mean seed\?"),
        ({"curate": {"zzz": 1}}, r"curate\.zzz: unknown key \(valid here: url_filter, clean, "),
    ],
)
def test_a_mistyped_key_anywhere_names_its_path_and_the_nearest_valid_key(tmp_path, capsys, update, message):
    assert main(["config", _config(tmp_path, **update)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("corpusmill: error: invalid config: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err


def test_a_key_given_twice_in_yaml_is_an_error(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(
        f"sources: [{{name: web, paths: [{tmp_path}/x]}}]\ncurate:\n  clean: {{}}\ncurate:\n  pii_redact: null\n"
    )
    assert main(["config", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "duplicate key 'curate' (first at line 2)" in err and len(err.splitlines()) == 1


def _models(tp, seen: set) -> None:
    """Every pydantic model reachable from ``tp`` through its fields."""
    tp = _unwrap(tp)
    for arg in getattr(tp, "__args__", ()):
        _models(arg, seen)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
        seen.add(tp)
        for field in tp.model_fields.values():
            _models(field.annotation, seen)


def test_every_config_model_refuses_unknown_keys():
    seen: set = set()
    _models(RunConfig, seen)
    assert len(seen) > 40
    lax = sorted(m.__name__ for m in seen if m.model_config.get("extra") != "forbid")
    assert lax == []
    assert _keys_at(RunConfig, ("curate", "scopes", "c4"))[:2] == ["sources", "languages"]


def test_config_keys_are_stage_names():
    fields = set(CurateConfig.model_fields)
    assert [s.name for s in row_stages(CurateConfig())] == list(ROW_STAGE_NAMES)
    # every stage is configured by the key of its name, but c4_lines, which shares c4's options
    assert set(ROW_STAGE_NAMES) - fields == {"c4_lines"}


def test_config_print_shows_every_default_and_reads_back_the_same(tmp_path, capsys):
    assert main(["config", "--print"]) == 0
    printed = capsys.readouterr().out
    resolved = yaml.safe_load(printed)
    assert resolved["curate"]["gopher_quality"]["min_doc_words"] == 50  # a default the sample does not set
    assert resolved["curate"]["image_dedup"]["pixel_check"]["min_block_ssim"] == 0.8
    base = load_config()
    (tmp_path / "resolved.yaml").write_text(printed)
    again = load_config(str(tmp_path / "resolved.yaml"))
    assert again.model_dump(exclude={"sources"}) == base.model_dump(exclude={"sources"})
