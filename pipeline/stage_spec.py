"""What a per-row stage declares about itself, in its own module: pipeline/stages.py keeps the order.

A spec names the stage (the name its outcomes carry in stats.json and rejects/), its kind, its
function and config model, the rows it judges by default, and every drop or quarantine reason it may
emit (a reason is a name or a pattern such as ``top_\\d+_gram``), so that a test can hold each stage
to what it declares. A reason is snake_case and names the rule that failed, never the stage (the
``stage`` column holds that): ``too_few_words``, ``dup_line_frac``, ``license_unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from pipeline.config_base import StrictModel

Kind = Literal["rewrite", "filter", "rewrite_filter"]


class Scope(StrictModel):
    """Which kept rows a stage judges; the others pass it untouched."""

    sources: list[str] | None = None  # None: every source
    languages: list[str] | None = None  # None: every language (needs langid when set)
    has_images: bool | None = None  # True: only rows with at least one image; None: any row


# FineWeb's rules were tuned on English web text (Penedo et al. 2024); other languages and
# sources pass them untouched unless a config widens the scope.
ENGLISH_WEB = Scope(sources=["web"], languages=["en"])


@dataclass(frozen=True)
class StageSpec:
    name: str
    kind: Kind
    fn: Callable[[pa.Table, Any], pa.Table]
    config: type[StrictModel]
    scope: Scope = field(default_factory=Scope)  # the default; curate.scopes.<name> replaces it
    reasons: tuple[str, ...] = ()  # drop and quarantine reasons, names or regular expressions
    config_key: str | None = None  # the curate key of its settings (default: its name)
    default: Callable[[], StrictModel] | None = None  # its default settings (default: the model's defaults)
    optional: bool = True  # ``null`` turns it off

    @property
    def key(self) -> str:
        return self.config_key or self.name

    def declares(self, reason: str) -> bool:
        return any(re.fullmatch(r, reason) for r in self.reasons)
