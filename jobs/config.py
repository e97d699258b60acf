"""The run configuration: one YAML file names the sources, every stage's settings, and Ray's limits."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.usage import UsageError
from pipeline.config_base import StrictModel
from pipeline.read.readers import SourceSpec
from pipeline.schema import SOURCES
from pipeline.stages import CurateConfig
from tokenization.mixing import MixConfig
from tokenization.shards.shards import PackConfig
from tokenization.tokenizer.tokenize import TokenizeConfig
from tokenization.tokenizer.train import TokenizerConfig


class RayConfig(StrictModel):
    """Local limits: a laptop run must never hang or swap. Only ``shuffle_batch_mb`` applies when attaching
    to a cluster."""

    num_cpus: int | None = Field(None, gt=0)  # default: every core of this machine
    object_store_mb: int = Field(1024, gt=64)
    spill_dir: str | None = None  # where the object store spills; default: Ray's temp folder
    dashboard: bool = False  # when on, it listens on 127.0.0.1 only
    # Input a shuffle map task coalesces before partitioning it (Ray Data's shuffle_input_batch_bytes,
    # 1 GiB by default). The task holds the batch and its partitioned copy, so this, not the corpus,
    # bounds a worker's memory in a shuffle; applies on a cluster too (it is the driver's DataContext).
    shuffle_batch_mb: int = Field(128, gt=0)
    # How Ray Data shuffles (groupby, repartition): "sort" is its task-based pull shuffle, "hash" its
    # aggregator-actor shuffle (Ray's own default). Sort by default, measured on 2 CPUs over 255 MB: each hash
    # shuffle waited 1.1-1.6 s for new aggregator processes that then held slots later steps needed (exact
    # dedup 6.2 -> 2.2 s, repository documents 9.2 -> 6.5 s, image dedup 1.7 -> 0.45 s; same outputs).
    # With "sort" Ray Data's slot reservation per operator is turned off as well: it ran one task at a time
    # beside an idle core (decontamination 18.2 -> 9.8 s, quality 20.5 -> 15.0 s). A sort has a reducer per
    # input block and its driver a reference per map block and reducer: a sort's input is cut into the step's
    # partitions, and a step that needs more than 64 reducers takes the hash shuffle (jobs.ray_steps._shuffled).
    shuffle: Literal["sort", "hash"] = "sort"


# What each pass reads of the config: its marker hashes exactly these (with the hashes of the passes it
# reads the outputs of), so changing any of them reruns the pass and those after it.
PASS_SETTINGS: dict[str, tuple[str, ...]] = {
    "curate": ("sources", "curate", "seed"),  # the seed: near dedup's MinHash permutations
    "tokenizer": ("tokenizer", "seed"),  # the seed: which documents the training sample takes
    "pack_tokens": ("tokenize", "seed", "pack.num_pack_groups"),  # the seed: FIM choices, pack groups
    "pack": ("mix", "pack", "tokenize", "seed"),  # tokenize: the manifest's image token layout
}
PASS_INPUTS: dict[str, tuple[str, ...]] = {  # the passes whose outputs each pass reads
    "curate": (),
    "tokenizer": ("curate",),
    "pack_tokens": ("curate", "tokenizer"),
    "pack": ("pack_tokens",),
}
# Settings that change how a run goes, never what it writes: no pass hashes them.
RUN_ONLY_SETTINGS = ("output_dir", "max_quarantined_share", "progress_interval_s", "ray", "base_dir")


class RunConfig(StrictModel):
    model_config = ConfigDict(extra="forbid")

    output_dir: str = "out/sample"  # relative to the working directory
    seed: int = 1234
    # A run that quarantines more than this share of the records it read still writes its outputs,
    # then exits with code 3 (jobs.run.EXIT_QUARANTINED) so that a scheduler notices.
    max_quarantined_share: float = Field(0.01, ge=0, le=1)
    progress_interval_s: float = Field(30.0, gt=0)  # a progress line per running step this often
    sources: list[SourceSpec] = Field(min_length=1)  # at least one source
    curate: CurateConfig = Field(default_factory=CurateConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    mix: MixConfig = Field(default_factory=MixConfig)  # source shares of the packed tokens
    pack: PackConfig = Field(default_factory=PackConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    base_dir: str = Field("", exclude=True)  # folder of the config file: relative source paths start here

    @model_validator(mode="after")
    def _image_spans_fit_rows(self) -> RunConfig:
        self.tokenize.check_fits(self.pack.seq_len)  # an image span is never cut across rows
        return self

    @model_validator(mode="after")
    def _mixes_name_sources(self) -> RunConfig:
        """A mix key that names no source kind (a typo) would silently weigh nothing."""
        read = {s.name for s in self.sources}
        named = (
            ("mix.weights", self.mix.weights),
            ("tokenizer.mix", self.tokenizer.mix),
            ("mix.optional", dict.fromkeys(self.mix.optional, 1.0)),
        )
        for key, weights in named:
            for name in weights:
                if name not in SOURCES:
                    hint = difflib.get_close_matches(name, SOURCES, n=1)
                    raise ValueError(
                        f"{key}: {name!r} is not a source; the sources are {', '.join(SOURCES)}"
                        + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    )
            if key != "mix.optional" and not any(weights.get(name, 0) > 0 for name in read):
                raise ValueError(f"{key} gives no weight to any source this config reads ({', '.join(sorted(read))})")
        return self

    def setting(self, dotted: str) -> object:
        """The value at a dotted path (``pack.num_pack_groups``), as plain JSON data."""
        value: object = self
        for part in dotted.split("."):
            value = getattr(value, part)
        if isinstance(value, BaseModel):
            return value.model_dump()
        return [x.model_dump() if isinstance(x, BaseModel) else x for x in value] if isinstance(value, list) else value

    def pass_hash(self, name: str, upstream: dict[str, str] | None = None, inputs: object = None) -> str:
        """A digest of what pass ``name`` reads: its settings (PASS_SETTINGS), the hashes of the passes whose
        outputs it reads (``upstream``), and, for the first pass, the state of its input files."""
        data = {
            "settings": {s: self.setting(s) for s in PASS_SETTINGS[name]},
            "upstream": {p: (upstream or {})[p] for p in PASS_INPUTS[name]},
            "inputs": inputs,
        }
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_config_path() -> str:
    return str(resources.files("jobs") / "configs" / "sample.yaml")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last
    silently: a second ``curate:`` block would drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def load_config(path: str | None = None) -> RunConfig:
    path = os.path.abspath(path or default_config_path())
    if not os.path.isfile(path):
        raise UsageError(f"config file not found: {path}")
    with open(path) as f:
        try:
            raw = yaml.load(f, Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as e:
            raise UsageError(f"config {path} is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"config {path} must be a mapping of settings, not a {type(raw).__name__}")
    cfg = RunConfig.model_validate(raw)
    cfg.base_dir = os.path.dirname(path)
    return cfg
