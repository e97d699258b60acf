"""spaCy's English word splitting, reproduced: the words Gopher, C4 and FineWeb count.

Gopher, C4 and FineWeb define their rules over words, and datatrove (which produced FineWeb)
takes words from spaCy's English tokenizer. spaCy is the slow part of those filters, so we
reproduce its tokenizer's rules (whitespace chunks, then prefixes, suffixes, infixes, URLs and
the English exceptions) in :func:`chunk_words`; pipeline/text/batch_words.py runs it once per
distinct chunk of a batch.

The words are spaCy's on every page of benchmarks/web_filters.py (1,748) and on all but one of
5.4 million distinct chunks of text found on a Debian machine (docs, man pages, package READMEs
and data). The known difference: our letter classes come from Python's Unicode tables while
spaCy lists scripts one by one, so a hyphen between letters of a script it does not list
(Georgian, Armenian, Myanmar, Thai...) splits here only.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_PUNCT = ",:;!?¿؟¡()\\[\\]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉〈〉⟦⟧"
_CURRENCY = r"[$£€¥฿﷼₠-₿]|US\$|C\$|A\$"
_UNITS = (
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh "
    "mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
).replace(" ", "|")


_AFTER_DOT = frozenset(_PUNCT.replace("\\", "") + _QUOTES + "…%²-+|")  # marks before a "." that splits it
_UNIT_TAIL = re.compile(r"[0-9][^\W\d_]{1,4}$")  # a unit suffix after a number ("10km")


def _ranges(test, stop: int = 0x10000) -> str:
    """A regex character class body for the code points below ``stop`` that pass ``test``.

    Letter classes stay in the Basic Multilingual Plane: Python's ``re`` scans classes with many
    astral ranges linearly, which made tokenizing several times slower.
    """
    out, start, prev = [], None, None
    for cp in range(stop):
        if test(chr(cp)):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = None
    return "".join(out)


@functools.cache
def _patterns() -> tuple[re.Pattern, ...]:
    """spaCy's English prefix, suffix, infix and URL patterns (spacy/lang/punctuation.py, char_classes.py)."""
    # spaCy's letter classes also hold the CJK symbols block and the vowel signs of the Hebrew
    # and Indic scripts, whose whole blocks it lists
    letter = lambda c: (  # noqa: E731
        c.isalpha()
        or "\u3000" <= c <= "\u303f"
        or (("\u0591" <= c <= "\u05f4" or "\u0900" <= c <= "\u0dff") and unicodedata.category(c) in ("Mn", "Mc"))
    )
    lower = _ranges(lambda c: letter(c) and not c.isupper())
    upper = _ranges(lambda c: letter(c) and not c.islower())
    alpha = _ranges(letter)
    sym = "[" + _ranges(lambda c: unicodedata.category(c) == "So", 0x20000) + "]"  # with emoji
    prefix = re.compile(rf"^(?:§|%|=|—|–|\+(?![0-9])|…|[{_PUNCT}]|\.\.+|[{_QUOTES}]|{_CURRENCY}|{sym})")
    suffix = re.compile(
        rf"(?:…|……|[{_PUNCT}]|\.\.+|[{_QUOTES}]|{sym}|'s|'S|’s|’S|—|–|(?<=[0-9])\+|(?<=°[FfCcKk])\.|"
        rf"(?<=[0-9])(?:{_CURRENCY})|(?<=[0-9])(?:{_UNITS})|(?<=[0-9{lower}%²\-+…{_PUNCT}{_QUOTES}|])\.|"
        rf"(?<=[{upper}][{upper}])\.)$"
    )
    infix = re.compile(
        rf"\.\.+|…|{sym}|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=[{lower}{_QUOTES}])\.(?=[{upper}{_QUOTES}])|"
        rf"(?<=[{alpha}]),(?=[{alpha}])|(?<=[{alpha}0-9])(?:-|–|—|--|---|——|~)(?=[{alpha}])|"
        rf"(?<=[{alpha}0-9])[:<>=/](?=[{alpha}])"
    )
    url = re.compile(
        r"(?u)^(?:(?:[\w+\-.]{2,})://)?(?:\S+(?::\S*)?@)?(?:(?!(?:10|127)(?:\.\d{1,3}){3})"
        r"(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
        r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}"
        r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?"
        rf"[A-Za-z0-9\u00a1-\uffff]\.)+(?:[{lower}]{{2,63}}))(?::\d{{2,5}})?(?:[/?#]\S*)?$"
    )
    hint = re.compile(rf"[.…,\-–—~:<>=/+*^]|{sym}")  # a core without these has no infix
    # the common chunks: a word or a number between single-character affixes; hyphenated words
    simple = re.compile(
        rf"((?:[§%=—–+…{_PUNCT}{_QUOTES}$£€¥฿₠-₿﷼]|{sym})*)([^\W\d_]+|[0-9]+)"
        rf"((?:'s|'S|’s|’S)?(?:[…{_PUNCT}{_QUOTES}—–.]|{sym})*)"
    )
    hyphenated = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
    return prefix, suffix, infix, url, hint, simple, hyphenated


# spaCy's English tokenizer exceptions (spacy/lang/en/tokenizer_exceptions.py), generated the same way:
# base words and the clitics split off them, each with and without its apostrophe.
_CLITICS = {
    "i": "'m|'m a|'ll|'ll 've|'d|'d 've|'ve",
    "you we they": "'ll|'ll 've|'d|'d 've|'ve|'re",
    "he she it": "'ll|'ll 've|'d|'d 've|'s",
    "who what when where why how there": "'s|'ll|'ll 've|'re|'ve|'d|'d 've",
    "that this": "'s|'ll|'ll 've|'d|'d 've",
    "these those": "'ll|'ll 've|'re|'ve|'d|'d 've",
    "ca could do does did had may might must need ought sha should wo would": "n't|n't 've",
    "ai are is was were have has dare": "n't",
    "could might must should would not": "'ve",
}
# Long word lists read best as text (hence the noqa: SIM905 below).
_NOT_SPLIT = "Ill ill Its its Hell hell Shell shell Shed shed were Were Well well Whore whore".split()  # noqa: SIM905
_WHOLE = (  # noqa: SIM905
    "'s 'S ‘s ‘S 'd 'll 're 'em 'bout 'cause 'Cause 'cos 'Cos 'coz 'Coz 'cuz 'Cuz 'nuff ' '' em ll nuff "
    "doin doin' Doin Doin' goin goin' Goin Goin' havin havin' Havin Havin' lovin lovin' Lovin Lovin' "
    "nothin nothin' Nothin Nothin' nuthin nuthin' Nuthin Nuthin' somethin somethin' Somethin Somethin' "
    "ol ol' Ol Ol' ma'am Ma'am o'clock O'clock C++ and/or w/o a.m. p.m. e.g. E.g. E.G. i.e. I.e. I.E. "
    "vs. v.s. Mr. Mrs. Ms. Dr. St. Mt. Jr. Inc. Ltd. Co. co. Corp. Bros. Prof. Rev. Gen. Gov. Sen. Rep. "
    "Adm. Messrs. Ph.D. D.C. Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. Ala. Ariz. Ark. "
    "Calif. Colo. Conn. Del. Fla. Ga. Ia. Id. Ill. Ind. Kan. Kans. Ky. La. Mass. Md. Mich. Minn. Miss. "
    "Mo. Mont. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Okla. Ore. Pa. S.C. Tenn. Va. Wash. Wis. "
    'Ak. ä. ö. ü. — \\t \\n \\") <space>'
).split() + [c + "." for c in "abcdefghijklmnopqrstuvwxyz"]
_EMOTICONS = r""":) :-) :)) :-)) :))) :-))) (: (-: =) (= :] :-] [: [-: [= =] :o) (o: :} :-} 8) 8-) (-8 ;) ;-) (; (-;
:( :-( :(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-( :/ :-/ =/ =| :| :-| ]= =[ :1 :P :-P :p :-p :O :-O :o :-o
:0 :-0 :() >:o :* :-* :3 :-3 =3 :> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D ^_^ ^__^ ^___^ >.< >.> <.<
._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.O O.o O.O o.o 0.0 o.0 0.o @_@ <3 <33 <333 </3 (^_^)
(-_-) (._.) (>_<) (*_*) (¬_¬) ಠ_ಠ ಠ︵ಠ (ಠ_ಠ) ¯\(ツ)/¯ (╯°□°）╯︵┻━┻ ><(((*>""".split()  # noqa: SIM905
_SPLIT = {
    "cannot": "can not",
    "Cannot": "Can not",
    "gonna": "gon na",
    "Gonna": "Gon na",
    "gotta": "got ta",
    "Gotta": "Got ta",
    "let's": "let 's",
    "Let's": "Let 's",
    "c'mon": "c'm on",
    "C'mon": "C'm on",
    "y'all": "y' all",
    "yall": "y all",
    "how'd'y": "how 'd 'y",
    "How'd'y": "How 'd 'y",
}


@functools.cache
def _specials() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {w: (w,) for w in _WHOLE + _EMOTICONS}
    out.update({k: tuple(v.split()) for k, v in _SPLIT.items()})
    for bases, chains in _CLITICS.items():
        for base in bases.split():
            for form in (base, base.title()):
                for chain in chains.split("|"):
                    for pieces in (chain.split(), chain.replace("'", "").split()):
                        out["".join((form, *pieces))] = (form, *pieces)
    for h in range(1, 13):
        out.update({f"{h}{p}": (str(h), p) for p in ("a.m.", "am", "p.m.", "pm")})
    out.update({f"°{u}.": ("°", u, ".") for u in "CFKcfk"})
    for key in _NOT_SPLIT:
        out.pop(key, None)
    out.update({k.replace("'", "’"): tuple(p.replace("'", "’") for p in v) for k, v in out.items() if "'" in k})
    return out


def _suffix_len(s: str, suffix: re.Pattern) -> int:
    """Length of the leftmost suffix match, searching only the tail (suffixes are short but dot runs)."""
    m = suffix.search(s, max(0, len(s) - 8))
    if not m:
        return 0
    start = m.start()
    if m.end() - start > 1 and s[start] == ".":
        while start and s[start - 1] == ".":
            start -= 1
    return len(s) - start


def _affixes(s: str, specials: dict, prefix: re.Pattern, suffix: re.Pattern) -> tuple[list[str], str, list[str]]:
    """spaCy's ``Tokenizer._split_affixes``: peel prefixes and suffixes until a special case or a fixed point."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last = -1
    while s and len(s) != last:
        if s in specials:
            break
        last = len(s)
        m = prefix.match(s)
        pre = m.end() if m else 0
        if pre and s[pre:] and s[pre:] in specials:
            prefixes.append(s[:pre])
            return prefixes, s[pre:], suffixes
        suf = _suffix_len(s[pre:], suffix)
        if suf and s[:-suf] and s[:-suf] in specials:
            suffixes.append(s[-suf:])
            return prefixes, s[:-suf], suffixes
        if pre and suf and pre + suf <= len(s):
            prefixes.append(s[:pre])
            suffixes.append(s[-suf:])
            s = s[pre:-suf]
        elif pre:
            prefixes.append(s[:pre])
            s = s[pre:]
        elif suf:
            suffixes.append(s[-suf:])
            s = s[:-suf]
    return prefixes, s, suffixes


def _split(chunk: str, specials: dict[str, tuple[str, ...]]) -> list[str]:
    """spaCy's ``Tokenizer._tokenize``: affixes, then the core as a special case, a URL or split at infixes."""
    prefix, suffix, infix, url, hint = _patterns()[:5]
    prefixes, core, suffixes = _affixes(chunk, specials, prefix, suffix)
    words = prefixes
    if core in specials:
        words.extend(specials[core])
    elif core and (not hint.search(core) or ("." in core and url.match(core))):
        words.append(core)
    elif core:
        start = 0
        for m in infix.finditer(core):
            if m.start() == 0:
                continue
            if m.start() != start:
                words.append(core[start : m.start()])
            if m.end() != m.start():
                words.append(core[m.start() : m.end()])
            start = m.end()
        if core[start:]:
            words.append(core[start:])
    words.extend(reversed(suffixes))
    return words


@functools.cache
def _affix_specials() -> tuple[dict[tuple[str, ...], tuple[str, ...]], int, frozenset[str]]:
    """spaCy's special-case matcher: the specials holding affixes, keyed by the words they would split
    into; the longest such split, and every word in one."""
    prefix, suffix, infix = _patterns()[:3]
    out = {}
    for key, words in _specials().items():
        if prefix.search(key) or suffix.search(key) or infix.search(key):
            pattern = tuple(_split(key, {}))
            if len(pattern) > 1:
                out[pattern] = words
    return out, max(map(len, out)), frozenset(w for pattern in out for w in pattern)


def _simple_words(pre: str, word: str, post: str, specials: dict) -> list[str] | None:
    """What :func:`_split` makes of ``pre + word + post``, a word or number between single-character
    affixes (``post`` may open with "'s"), or None to leave it to :func:`_split`."""
    clitic = post[:2] if post[:2] in ("'s", "'S", "’s", "’S") else ""
    marks = post[len(clitic) :]
    if ".." in marks or "……" in marks or (word.isdigit() and pre.endswith("+")):
        return None  # dot runs and "……" are one suffix; "+" before a number is its sign
    for i, mark in enumerate(marks):  # a "." is a suffix only after some characters
        if mark != ".":
            continue
        if i:
            splits = marks[i - 1] in _AFTER_DOT
        elif clitic:
            splits = clitic[-1] == "s"
        else:  # after a digit, a lowercase letter, or two capitals
            last, prev = word[-1], word[-2:-1]
            splits = last.isdigit() or (
                last <= "\uffff" and (not last.isupper() or (prev != "" and prev <= "\uffff" and not prev.islower()))
            )
        if not splits:
            return None
    if any(
        pre[i:] + word + post[:j] in specials
        for i in range(len(pre) + 1)
        for j in range(len(post) + 1)
        if i < len(pre) or j
    ):
        return None  # a special case on the way: let the full loop see it
    return [*pre, *specials.get(word, (word,)), *([clitic] if clitic else []), *marks]


def chunk_words(chunk: str) -> tuple[str, ...]:
    """spaCy's English words of one whitespace-free chunk."""
    specials = _specials()
    words = None
    if not chunk:  # Arrow splits an empty text into one empty chunk
        return ()
    if chunk not in specials:
        if chunk.isalpha():
            return (chunk,)
        hint, simple, hyphenated = _patterns()[4:]
        if (
            chunk[0].isalnum()
            and chunk[-1].isalnum()
            and not hint.search(chunk)
            and chunk[-2:-1] not in "'’"
            and not _UNIT_TAIL.search(chunk)
            and not chunk.startswith(("US$", "C$", "A$"))
        ):
            return (chunk,)  # no prefix, suffix or infix can match: an identifier, a code, a number
        m = simple.fullmatch(chunk)
        if m and (m[2].isalpha() or m[2].isdigit()):
            words = _simple_words(m[1], m[2], m[3], specials)
        elif hyphenated.fullmatch(chunk) and chunk.replace("-", "").isalpha() and max(chunk) <= "\uffff":
            words = re.split("(-)", chunk)
    words = list(words) if words is not None else _split(chunk, specials)
    # spaCy's special-case matcher, longest matches first (``_filter_special_spans``); it never
    # applies a match that spans whitespace, so matching within the chunk is the same
    matcher, longest, parts = _affix_specials()
    if len(words) > 1 and any(a in parts and b in parts for a, b in zip(words, words[1:])):
        found = [
            (n, i)
            for n in range(min(len(words), longest), 1, -1)
            for i in range(len(words) - n + 1)
            if tuple(words[i : i + n]) in matcher
        ]
        taken: set[int] = set()
        keep = []
        for n, i in found:
            if i not in taken and i + n - 1 not in taken:
                keep.append((i, n))
            taken.update(range(i, i + n))
        for i, n in sorted(keep, reverse=True):
            words[i : i + n] = matcher[tuple(words[i : i + n])]
    return tuple(words)


# datatrove's TERMINAL_PUNCTUATION (the Unicode Sentence_Terminal characters) and PUNCTUATION_SET
# (datatrove/utils/text.py): what FineWeb's line-punctuation rule and Gopher's "symbol word" test read.
TERMINAL_PUNCTUATION = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104a"
    "\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944\u1945"
    "\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d"
    "\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce"
    "\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f"
    "\uff61\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87"
    "\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142"
    "\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c"
    "\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd"
    "\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7"
    "\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b"
    "\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5"
    "\U00016b37\U00016b38\U00016b44\U00016e98\U0001bc9f\U0001da88"
)
PUNCTUATION_SET = TERMINAL_PUNCTUATION | frozenset(
    "!/\u2014\u201d:\uff05\uff11\u3008&(\u3001\u2501\\\u3010#%\u300c\u300d\uff0c\u3011\uff1b+^]~\u201c\u300a\u201e';"
    '\u2019{|\u2236\xb4[=-`*\uff0e\uff08\u2013\uff1f\uff01\uff1a$\uff5e\xab\u3009,><\u300b)?\uff09\u3002\u2026@_."}'
    "\u25ba\xbb" + "".join(map(chr, [*range(0, 9), 11, 12, *range(13, 32), *range(127, 160)]))
)
