from pipeline.books.hyphen import HyphenConfig, join_hyphens


def _join(text: str, cfg: HyphenConfig | None = None) -> tuple[str, int]:
    lines, count = join_hyphens(text.split("\n"), cfg or HyphenConfig())
    return "\n".join(lines), count


def test_split_word_the_book_spells_whole_is_joined():
    text = "She set an exam-\nple, a good one.\nIt was an example to all."
    assert _join(text) == ("She set an example,\na good one.\nIt was an example to all.", 1)
    alone = "a fine exam-\nple\nof it; the example"  # the second half was the whole next line
    assert _join(alone) == ("a fine example\nof it; the example", 1)


def test_compounds_and_dashes_keep_their_hyphen():
    compound = "a looking-\nglass, and another looking-glass"  # seen hyphenated elsewhere
    assert _join(compound) == (compound, 0)
    unseen = "a daisy-\nchain in the grass"  # seen neither way: transcribers wrap at compounds
    assert _join(unseen) == (unseen, 0)
    assert _join(unseen, HyphenConfig(join_unseen=True)) == ("a daisychain\nin the grass", 1)
    capital = "the Rabbit-\nHole, and a rabbithole"  # an upper-case continuation is a compound
    assert _join(capital) == (capital, 0)
    dash = "you bear to women--\nas I perceive; womenas"
    assert _join(dash) == (dash, 0)
