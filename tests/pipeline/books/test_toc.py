from pipeline.books.toc import TocConfig, toc_sections

PROSE = (
    "Alice was beginning to get very tired of sitting by her sister on the\n"
    "bank, and of having nothing to do: once or twice she had peeped into the\n"
    "book her sister was reading, but it had no pictures or conversations in it.\n"
)
BODY = ("\n" + PROSE) * 40


def _spans(text: str) -> list[tuple[str, str]]:
    lines = text.split("\n")
    return [(lines[a], lines[b]) for a, b in toc_sections(lines, TocConfig())]


def test_contents_ends_where_the_first_entry_comes_back_as_a_heading():
    text = (
        "ALICE\n\nCONTENTS\n\n"
        "CHAPTER I.    Down the Rabbit-Hole ........ 1\n"
        "CHAPTER II.   The Pool of Tears ........... 9\n"
        "CHAPTER III.  A Caucus-Race ............... 17\n\n\n"
        "CHAPTER I.\n\nDown the Rabbit-Hole\n" + BODY
    )
    assert _spans(text) == [("CONTENTS", "CHAPTER I.")]  # (first line removed, first line kept)


def test_numbered_contents_ends_at_the_body_text():
    text = (
        "Table des matières\n\n1. Clause de non responsabilité\n2. Ce qu’est Debian\n"
        "    2.1. Règles\n    2.2. Exigences de départ\n3. Rappels pour les nouveaux\n    utilisateurs\n\n"
        "Cette Debian Reference est destinée à fournir un large aperçu de l’administration\n"
        "d’un système Debian, sous la forme d’un guide utilisateur.\n\n"
        "1. Clause de non responsabilité\n" + BODY
    )
    assert _spans(text) == [("Table des matières", "")]
    lines = text.split("\n")
    ((start, end),) = toc_sections(lines, TocConfig())
    assert lines[end + 1].startswith("Cette Debian Reference")


def test_a_contents_heading_over_prose_or_deep_in_the_book_stays():
    over_prose = "CONTENTS\n\nThe box held a kettle, two cups and a saucer, all packed by hand.\n\nCHAPTER I.\n" + BODY
    assert _spans(over_prose) == []
    deep = BODY + "\nCONTENTS\n\nCHAPTER I. Home .... 1\nCHAPTER II. Away .... 5\nCHAPTER III. Back .... 9\n"
    assert _spans(deep) == []
    too_few = "CONTENTS\n\nCHAPTER I. Home .... 1\n\nCHAPTER I. Home\n" + BODY
    assert _spans(too_few) == []
