from pipeline.books.index import IndexConfig, index_sections

PROSE = (
    "Alice was beginning to get very tired of sitting by her sister on the\n"
    "bank, and of having nothing to do: once or twice she had peeped into the\n"
    "book her sister was reading, but it had no pictures or conversations in it.\n"
)
BODY = ("\n" + PROSE) * 40
INDEX = (
    "INDEX\n\nEntries in italics are illustrations.\n\nA\n\n"
    "Alice, 1, 9, 17\nApples, 23-25\nArrows, 30\n\nB\n\n"
    "Bill, see Lizard\nBottle, 5\nButter, 12, 31\n"
)


def test_index_at_the_end_goes_with_its_letter_dividers():
    lines = (BODY + "\n" + INDEX + "\nPrinted by the Press.").split("\n")
    ((start, end),) = index_sections(lines, IndexConfig())
    assert lines[start] == "INDEX" and lines[end - 1] == "Butter, 12, 31"
    assert lines[end + 1] == "Printed by the Press."


def test_index_heading_without_entries_or_early_in_the_book_stays():
    prose_after = (BODY + "\nThe Index\n\nThe index finger of her left hand was sore for days.\n" + PROSE).split("\n")
    assert index_sections(prose_after, IndexConfig()) == []
    early = (INDEX + BODY).split("\n")
    assert index_sections(early, IndexConfig()) == []
    few = (BODY + "\nINDEX\n\nAlice, 1\nBill, 2\n").split("\n")
    assert index_sections(few, IndexConfig()) == []
