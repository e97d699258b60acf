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
    # table under DeepSeek-Coder's (the sample's brotli, 880 KB). 2 flagged none of those, but HumanEval/116's
    # "array 0 0 0 0 0 0 0 0 0 0 def" still matched any array of ten numbers (sympy, and numpy held out)
    min_alpha_words: int = Field(3, ge=0)
    cjk_characters: bool = True  # a Han, kana, Hangul or Thai character counts as a word
    # GPT-3 (Brown et al. 2020, App. C): an n-gram found in more than this many documents of the corpus is
    # common text and ignored. On the real corpus datatrove's rule alone dropped 6 library repositories (sympy,
    # nltk) for normalized code such as "for i in range n for j in range i 0 n". None: every hit counts, as
    # datatrove and DeepSeek-Coder have it
    common_documents: int | None = Field(10, ge=1)
    # PaLM (Chowdhery et al. 2022, §8: an example is contaminated when 70 % of its 8-grams are in the corpus):
    # a document counts as holding an item only when it holds this share of the n-grams of one of the item's
    # fields (or of its query-label overlap). The real corpus's library repositories held 2-31 % of one field's
    # (a loop, a table of number words); a pasted solution holds all. Held out (site-packages of 114 other
    # packages, 209 MB, 40 pastes): 4 clean documents flagged as published, 0 with this and min_alpha_words 3,
    # every paste long enough for a 12-gram still found. 0: any one n-gram, as datatrove and DeepSeek-Coder
    min_coverage: float = Field(0.7, ge=0.0, le=1.0)
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
