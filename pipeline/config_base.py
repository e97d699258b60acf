"""The base of every config model: an unknown key is an error, never a silently ignored setting.

A typo such as ``gopher_quality: {min_doc_wordz: 100}`` would otherwise run the default threshold
without a word; jobs/config.py turns pydantic's error into the key's dotted path and the nearest
valid key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
