from pipeline.books.pages import PageNumberConfig, RunningHeaderConfig, page_number_lines, running_header_lines

# Body lines longer than a running header can be, so only the furniture is a candidate.
BODY = [
    "The road ran north out of the village, past the mill and the long wall",
    "of the churchyard, and then up into the hills where the sheep grazed on",
    "the thin grass under a low sky, and nobody could remember who had laid",
    "its stones or why it went where it went, for it led to nothing at all.",
] * 3


def _pages(n: int, header: str | None, numbers: list[str]) -> list[str]:
    lines: list[str] = []
    for p in range(n):
        lines += ([header, ""] if header else []) + BODY + ["", numbers[p], ""]
    return lines


def test_rising_page_numbers_go_and_decorated_ones_anywhere():
    lines = _pages(6, None, [str(p) for p in range(11, 17)])
    found = page_number_lines(lines, PageNumberConfig())
    assert sorted(lines[i] for i in found) == [str(p) for p in range(11, 17)]
    assert len(found) == 6
    lines = ["Some text.", "", "Page 4", "", "more text", "- 5 -", "[Pg 6]", "— xii —"]
    assert page_number_lines(lines, PageNumberConfig()) == {2, 5, 6, 7}


def test_numbers_that_are_not_page_numbers_stay():
    # not rising
    assert page_number_lines(_pages(6, None, ["4", "20", "3", "9", "1", "7"]), PageNumberConfig()) == set()
    # too few for a run
    assert page_number_lines(_pages(4, None, ["1", "2", "3", "4"]), PageNumberConfig()) == set()
    # upper-case roman numerals alone are chapter numbers
    assert page_number_lines(_pages(6, None, ["I", "II", "III", "IV", "V", "VI"]), PageNumberConfig()) == set()
    # a column of numbers (program output, a table) is data
    output = [">>> for i in range(3): print(i)", "0", "1", "2", ""] + BODY
    assert page_number_lines(output * 6, PageNumberConfig()) == set()


def test_repeating_page_header_goes():
    lines = _pages(9, "ALICE'S ADVENTURES IN WONDERLAND", [""] * 9)
    found = running_header_lines(lines, RunningHeaderConfig())
    assert {lines[i] for i in found} == {"ALICE'S ADVENTURES IN WONDERLAND"} and len(found) == 9
    with_numbers = _pages(9, "12   THE ROAD", [""] * 9)  # numbers inside the header differ page to page
    for p, i in enumerate(i for i, line in enumerate(with_numbers) if line == "12   THE ROAD"):
        with_numbers[i] = f"{p * 2 + 10}   THE ROAD"
    assert len(running_header_lines(with_numbers, RunningHeaderConfig())) == 9


def test_irregular_or_code_repeats_stay():
    speakers: list[str] = []
    for gap in (10, 60, 12, 90, 14, 120, 11, 45, 13, 100):  # often enough, but at no page rhythm
        speakers += ["ROSALIND", *(BODY * 10)[:gap]]
    assert running_header_lines(speakers, RunningHeaderConfig()) == set()
    assert running_header_lines(_pages(9, ">>> try:", [""] * 9), RunningHeaderConfig()) == set()
    assert running_header_lines(_pages(7, "THE ROAD", [""] * 7), RunningHeaderConfig()) == set()  # too few
