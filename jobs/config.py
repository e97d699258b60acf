"""The run configuration: one YAML file names the sources, every stage's settings, and Ray's limits."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.readers import SourceSpec
from pipeline.stages import CurateConfig
from tokenization.mixing import MixConfig
from tokenization.shards import PackConfig
from tokenization.tokenize import TokenizeConfig
from tokenization.tokenizer_train import TokenizerConfig


class RayConfig(BaseModel):
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


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output_dir: str = "out/sample"  # relative to the working directory
    seed: int = 1234
    # A run that quarantines more than this share of the records it read still writes its outputs,
    # then exits with code 3 (jobs.run.EXIT_QUARANTINED) so that a scheduler notices.
    max_quarantined_share: float = Field(0.01, ge=0, le=1)
    progress_interval_s: float = Field(30.0, gt=0)  # a progress line per running step this often
    sources: list[SourceSpec]
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

    def stage_hash(self, *sections: str) -> str:
        """A digest of the settings a stage depends on, stored in its completion marker."""
        data = {s: getattr(self, s) for s in sections}
        blob = json.dumps({k: v.model_dump() if isinstance(v, BaseModel) else
                           [x.model_dump() for x in v] if isinstance(v, list) else v for k, v in data.items()},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_config_path() -> str:
    return str(resources.files("jobs") / "configs" / "sample.yaml")


def load_config(path: str | None = None) -> RunConfig:
    path = os.path.abspath(path or default_config_path())
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file not found: {path}")
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    cfg = RunConfig.model_validate(raw)
    cfg.base_dir = os.path.dirname(path)
    return cfg
