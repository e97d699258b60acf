"""Settings of decontamination: the evaluation sets, the rule, and what a hit does."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config_base import StrictModel

RULE_N = {"deepseek_coder": 10, "datatrove": 12}  # DeepSeek-Coder §2.4; datatrove NGramsDecontConfig.n_grams


class EvalSetConfig(StrictModel):
    """One evaluation set: a JSONL (.gz/.zst) or Parquet file, or a ``datasets`` directory (save_to_disk)."""

    task: str = Field(min_length=1)  # the name reports and ``detail`` use, e.g. humaneval
    path: str = Field(min_length=1)  # relative to the config's folder
    id_field: str | None = None  # the item id (None: the row number)
    # the prompt side (a question, a docstring); datatrove's rule indexes the n-grams that span the end of
    # the query and the start of each label, DeepSeek-Coder's every field alike
    query_fields: list[str] = Field(default_factory=list)
    label_fields: list[str] = Field(min_length=1)  # the answer side (a solution, tests, a gold answer)


class DecontamConfig(StrictModel):
    """Drop (or redact) documents that share an n-gram with an evaluation item; after every dedup step."""

    sets: list[EvalSetConfig] = Field(min_length=1)
    # datatrove: its normalization and spaCy words, 12-grams of each label and of the query-label overlap;
    # deepseek_coder: 10-grams of whitespace words as written, and items of 3-9 words matched whole. On the real
    # corpus the latter dropped 9 library repositories (7.5 MB: sympy, twisted, tornado, networkx...) for
    # HumanEval/53's "return x + y" and Euclid's loop from HumanEval/13: datatrove's is the default
    rule: Literal["deepseek_coder", "datatrove"] = "datatrove"
    n: int | None = Field(None, ge=3)  # None: the rule's own (10 or 12)
    min_words: int = Field(3, ge=1)  # deepseek_coder: shorter items are not matched at all
    query_ngrams: bool = False  # datatrove: also the n-grams of the query alone (its find_query_ngrams)
    # an indexed n-gram needs at least this many words with a letter. 0: the rules as published, under which
    # datatrove's numbers-to-0 makes any 12 numbers in a row match HumanEval/156's numeral table (58 of 2,850
    # clean real documents flagged) and HumanEval/78's "0, 1, 2, ..., 9," drops any repository with a digit
    # table under DeepSeek-Coder's (the sample's brotli, 880 KB). 2 flagged none and found every paste
    min_alpha_words: int = Field(2, ge=0)
    cjk_characters: bool = True  # a Han, kana, Hangul or Thai character counts as a word
    mode: Literal["drop", "redact"] = "drop"  # redact: cut the matching spans, keep the rest
    sources: list[str] | None = None  # scanned sources (None: all)

    @property
    def gram(self) -> int:
        return self.n or RULE_N[self.rule]

    @model_validator(mode="after")
    def _distinct_tasks(self) -> DecontamConfig:
        tasks = [s.task for s in self.sets]
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"sets: task names must be distinct, got {tasks}")
        return self
