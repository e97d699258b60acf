"""C4's heuristics (Raffel et al. 2020, section 2.2) as datatrove's ``C4QualityFilter`` applies them.

datatrove removes lines and drops pages in one pass; here :func:`c4_lines` is the rewrite (it
removes lines and tags each removal) and :func:`c4_document` the filter that follows it. A line
naming "lorem ipsum" or holding "{" survives the rewrite whatever comes after those checks in
datatrove's order (javascript, policy), so that the filter sees it and drops the page, as
datatrove does. Sentences are counted as spaCy's sentencizer splits each remaining line.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config_base import StrictModel
from pipeline.stage_spec import ENGLISH_WEB, StageSpec
from pipeline.text.batch_words import split_lines, words
from pipeline.text.first_failing import fail, no_reasons, open_rows
from pipeline.text.spacy_words import TERMINAL_PUNCTUATION

_CITATION = r"\[\p{Nd}*\]|\[edit\]|\[citation needed\]"
_POLICY = "terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
# spaCy's Sentencizer.default_punct_chars: the sentence terminals less these.
_SENTENCE_ENDS = TERMINAL_PUNCTUATION - frozenset(
    "\u061d\u061e\u0837\u0839\u083d\u083e\u17d4\u17d5\u17d6\u17d9\u17da\u1b7d\u1b7e\u2e53\u2e54\U00010f55\U00010f56"
    "\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011944\U00011946\U00011ef7"
    "\U00011ef8\U00011f43\U00011f44\U00016e98"
)


# C4's line ends (. ? ! " '), and the CJK sentence ends (。！？…) with any closing quotes or
# brackets after them (。」 ！』 ？”): a Chinese or Japanese sentence is as finished as an English one
_TERMINAL_LINE = r"([.?!\"']|[。！？…][」』”’）)]*)$"


class C4Config(StrictModel):
    """C4's rules with datatrove's defaults as FineWeb set them (Penedo et al. 2024); ``None``/False turns one off."""

    filter_no_terminal_punct: bool = False  # C4 keeps only lines ending in . ? ! " '; FineWeb turned it off
    min_words_per_line: int | None = 3
    max_word_length: int | None = 1000  # a line with a longer whitespace-separated word goes
    remove_citations: bool = True  # Wikipedia-style [1], [edit], [citation needed]
    filter_javascript: bool = True
    filter_policy: bool = True  # terms of use, privacy/cookie policy lines
    filter_lorem_ipsum: bool = True
    filter_curly_bracket: bool = True
    min_num_sentences: int | None = 5


def _line_fate(lines: pa.Array, cfg: C4Config) -> tuple[pa.Array, np.ndarray]:
    """Each line as kept (citations removed) and, for a removed line, the rule that removed it."""
    stripped = pc.utf8_trim_whitespace(lines)
    fate = no_reasons(len(lines))

    def remove(name: str, hit: np.ndarray) -> None:
        fail(fate, hit, name)

    if cfg.max_word_length is not None:
        hit = np.zeros(len(lines), bool)
        for i in np.flatnonzero(pc.utf8_length(stripped).to_numpy() > cfg.max_word_length):  # few lines
            hit[i] = max(map(len, stripped[int(i)].as_py().split())) > cfg.max_word_length
        remove("too_long_word", hit)
    text = pc.replace_substring_regex(stripped, _CITATION, "") if cfg.remove_citations else stripped
    if cfg.filter_no_terminal_punct:
        ended = pc.match_substring_regex(text, _TERMINAL_LINE).to_numpy(zero_copy_only=False)
        remove("no_terminal_punct", ~ended | pc.ends_with(text, "...").to_numpy(zero_copy_only=False))
    if cfg.min_words_per_line is not None:  # splitting at most k-1 times counts words up to k
        least = cfg.min_words_per_line
        n_words = pc.list_value_length(pc.utf8_split_whitespace(stripped, max_splits=max(least - 1, 0)))
        remove("too_few_words", n_words.to_numpy() < least)
    live = np.flatnonzero(open_rows(fate))  # the phrase rules read only the lines still kept
    if len(live) and (cfg.filter_javascript or cfg.filter_policy):
        kept = text.take(pa.array(live))
        lower = pc.utf8_lower(kept)

        def has(phrase: str, where: pa.Array = lower) -> np.ndarray:
            return pc.match_substring(where, phrase).to_numpy(zero_copy_only=False)

        none = np.zeros(len(live), bool)
        spared = has("lorem ipsum") if cfg.filter_lorem_ipsum else none
        script = ~spared & has("javascript") if cfg.filter_javascript else none
        fate[live[script]] = "javascript"
        if cfg.filter_policy:
            spared = spared | (has("{", kept) if cfg.filter_curly_bracket else none)
            policy = pc.match_substring_regex(lower, _POLICY).to_numpy(zero_copy_only=False)
            fate[live[~script & ~spared & policy]] = "policy"
    return text, fate


def c4_lines(table: pa.Table, cfg: C4Config) -> pa.Table:
    """Rewrite stage: remove C4's unwanted lines; one ``rewrite_tags`` entry per non-blank line removed."""
    n = table.num_rows
    lines, row = split_lines(table["text"])
    text, fate = _line_fate(lines, cfg)
    keep = open_rows(fate)
    offsets = np.concatenate(([0], np.cumsum(np.bincount(row[keep], minlength=n)))).astype(np.int32)
    kept = pa.ListArray.from_arrays(pa.array(offsets), text.filter(pa.array(keep)))
    joined = pc.utf8_trim_whitespace(pc.binary_join(kept, pa.scalar("\n", text.type))).cast(pa.large_string())
    tagged = ~keep & (pc.utf8_length(pc.utf8_trim_whitespace(lines)).to_numpy() > 0)
    tag_offsets = np.concatenate(([0], np.cumsum(np.bincount(row[tagged], minlength=n)))).astype(np.int32)
    tags = pa.ListArray.from_arrays(pa.array(tag_offsets), pa.array(fate[tagged].tolist(), pa.string()))
    out = table.set_column(table.schema.get_field_index("text"), "text", joined)
    return out.append_column("rewrite_tags", tags)


def _sentences(lines: pa.Array) -> np.ndarray:
    """Sentences per line as spaCy's sentencizer finds them: a word after a sentence end starts one."""
    w = words(lines)
    ends = pc.is_in(w.distinct, value_set=pa.array(sorted(_SENTENCE_ENDS), pa.string())).to_numpy(zero_copy_only=False)[
        w.ids
    ]
    word = ~pc.match_substring_regex(w.distinct, r"^\pP+$").to_numpy(zero_copy_only=False)[w.ids]
    ends_before = np.concatenate(([0], np.cumsum(ends)))
    at = np.flatnonzero(word)
    line = w.row[at]
    same = np.concatenate(([False], line[1:] == line[:-1]))
    since = np.where(same, np.concatenate(([0], at[:-1] + 1)), np.searchsorted(w.row, line))
    opens = ends_before[at] > ends_before[since]
    return 1 + np.bincount(line[opens], minlength=len(lines))


def c4_document(table: pa.Table, cfg: C4Config) -> pa.Table:
    """Filter stage (after :func:`c4_lines`): ``lorem_ipsum``, ``curly_bracket`` or ``too_few_sentences``."""
    texts, n = table["text"], table.num_rows
    reason = no_reasons(n)
    lorem = pc.match_substring(pc.utf8_lower(texts), "lorem ipsum").to_numpy(zero_copy_only=False)
    lorem &= cfg.filter_lorem_ipsum
    curly = pc.match_substring(texts, "{").to_numpy(zero_copy_only=False) & cfg.filter_curly_bracket
    reason[lorem], reason[curly & ~lorem] = "lorem_ipsum", "curly_bracket"
    for r in np.flatnonzero(lorem & curly):  # datatrove stops at the first line holding either
        lines = texts[int(r)].as_py().splitlines()
        first = next((line for line in lines if "{" in line or "lorem ipsum" in line.lower()), "")
        reason[r] = "lorem_ipsum" if "lorem ipsum" in first.lower() else "curly_bracket"
    if cfg.min_num_sentences is not None:
        lines, row = split_lines(texts)
        filled = pc.utf8_length(pc.utf8_trim_whitespace(lines)).to_numpy() > 0
        lines, row = lines.filter(pa.array(filled)), row[filled]
        # every line holds at least one sentence: count only where the lines are too few to tell
        unsure = open_rows(reason) & (np.bincount(row, minlength=n) < cfg.min_num_sentences)
        pick = unsure[row]
        count = np.bincount(row[pick], weights=_sentences(lines.filter(pa.array(pick))), minlength=n)
        reason[unsure & (count < cfg.min_num_sentences)] = "too_few_sentences"
    return table.append_column("drop_reason", pa.array(reason, pa.string()))


# one set of options for both, as datatrove's C4QualityFilter takes them
C4_LINES_SPEC = StageSpec("c4_lines", "rewrite", c4_lines, C4Config, ENGLISH_WEB, config_key="c4")
C4_SPEC = StageSpec(
    "c4", "filter", c4_document, C4Config, ENGLISH_WEB, ("lorem_ipsum", "curly_bracket", "too_few_sentences")
)
