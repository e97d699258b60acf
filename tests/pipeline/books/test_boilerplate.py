import pyarrow as pa

from pipeline.books.boilerplate import GutenbergConfig, gutenberg_boilerplate, strip_gutenberg
from pipeline.books.layout import BookLayoutConfig, clean_layout
from pipeline.text.clean import CleanConfig, clean_text

# A Project Gutenberg etext as distributed: header, producer credit, hard-wrapped text, a line-end
# compound ("looking-" / "glass"), a split word whose joined form the book uses ("exam-" / "ple"),
# indented verse, end marker and licence; CRLF line ends.
PG_BOOK = """\
The Project Gutenberg EBook of A Short Tale, by Ann Writer

This eBook is for the use of anyone anywhere at no cost and with
almost no restrictions whatsoever.  You may copy it, give it away or
re-use it under the terms of the Project Gutenberg License included
with this eBook or online at www.gutenberg.org


Title: A Short Tale

Author: Ann Writer

Release Date: May 1, 2001 [EBook #99999]

Language: English


*** START OF THIS PROJECT GUTENBERG EBOOK A SHORT TALE ***




Produced by Jane Doe and the Online Distributed
Proofreading Team at http://www.pgdp.net




A SHORT TALE

CHAPTER I. The Road

The road ran north out of the village, past the mill and the
long grey wall of the churchyard, and then up into the hills
where the sheep were grazing under a low sky. Nobody in the
village could remember who had first laid its stones.

On the morning of the fair the miller's daughter took the road
with a basket of eggs on her arm and a looking-
glass in her apron pocket, for she meant to see her face in the
water of the well before she sold a single egg.

She sang as she walked:

  Over the hill and over the stream,
  Carry the eggs and carry the cream.

At the top of the hill she stopped to rest, and set an exam-
ple to the sheep by sitting very still. It was a good example.

End of the Project Gutenberg EBook of A Short Tale, by Ann Writer

*** END OF THIS PROJECT GUTENBERG EBOOK A SHORT TALE ***

***** This file should be named 99999.txt or 99999.zip *****

Updated editions will replace the previous one--the old editions
will be renamed.

*** START: FULL LICENSE ***

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK
"""

EXPECTED = """\
A SHORT TALE

CHAPTER I. The Road

The road ran north out of the village, past the mill and the long grey wall of the churchyard, \
and then up into the hills where the sheep were grazing under a low sky. Nobody in the village \
could remember who had first laid its stones.

On the morning of the fair the miller's daughter took the road with a basket of eggs on her arm \
and a looking-glass in her apron pocket, for she meant to see her face in the water of the well \
before she sold a single egg.

She sang as she walked:

  Over the hill and over the stream,
  Carry the eggs and carry the cream.

At the top of the hill she stopped to rest, and set an example to the sheep by sitting very \
still. It was a good example."""


def test_gutenberg_book_with_hard_wraps_cleaned_exactly():
    text = clean_text(PG_BOOK.replace("\n", "\r\n"), CleanConfig())
    stripped, tags = strip_gutenberg(text, GutenbergConfig())
    assert tags == ["gutenberg_header", "gutenberg_footer", "gutenberg_credit"]
    cleaned, layout_tags = clean_layout(stripped, BookLayoutConfig())
    assert cleaned == EXPECTED
    assert layout_tags == ["hyphen_join", "reflow", "reflow", "reflow"]


OLD_ETEXT = """\
**The Project Gutenberg Etext of Old Tales**
Copyright laws are changing all over the world.
*****These eBooks Were Prepared By Thousands of Volunteers!*****

*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*

This etext was prepared by John Doe.

OLD TALES

Once upon a time.

*End of The Project Gutenberg Etext of Old Tales
"""


def test_older_markers_small_print_header_and_etext_footer():
    text, tags = strip_gutenberg(OLD_ETEXT, GutenbergConfig())
    assert text == "OLD TALES\n\nOnce upon a time."
    assert tags == ["gutenberg_header", "gutenberg_footer", "gutenberg_credit"]


def test_near_misses_stay():
    # A credit-like first paragraph in a book that never names Project Gutenberg is the book's own text.
    report = "Produced by the Committee on Roads\n\nThe roads of the county are in poor repair."
    assert strip_gutenberg(report, GutenbergConfig()) == (report, [])
    # The package's broad markers ("The Project Gutenberg", "by Project Gutenberg") are not cut points here.
    essay = "The history of etexts.\n\nThe Project Gutenberg volunteers typed it\nby Project Gutenberg rules.\n"
    assert strip_gutenberg(essay, GutenbergConfig()) == (essay, [])


def test_licence_notices_inside_the_text_go_and_an_unclosed_one_stays():
    notice = "<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS IS COPYRIGHT 1993\nSERVICE THAT CHARGES FOR DOWNLOAD>>"
    text = f"ACT I\n\n{notice}\n\nSCENE I. A room.\n\n{notice}\n\nSCENE II. A street."
    assert strip_gutenberg(text, GutenbergConfig()) == (
        "ACT I\n\nSCENE I. A room.\n\nSCENE II. A street.",
        ["gutenberg_licence"] * 2,
    )
    unclosed = "ACT I\n\n<<THIS ELECTRONIC VERSION OF THE PLAY\n\nSCENE I."
    assert strip_gutenberg(unclosed, GutenbergConfig()) == (unclosed, [])


def test_each_part_is_switchable():
    off = GutenbergConfig(header=False, footer=False, credits=False)
    text = clean_text(PG_BOOK, CleanConfig())
    assert strip_gutenberg(text, off) == (text, [])
    kept_footer, tags = strip_gutenberg(text, GutenbergConfig(footer=False))
    assert tags == ["gutenberg_header", "gutenberg_credit"] and kept_footer.endswith(
        "READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK"
    )


def test_stage_rewrites_text_and_tags_each_part():
    table = pa.table({"text": pa.array([OLD_ETEXT, "plain text"], pa.large_string())})
    out = gutenberg_boilerplate(table, GutenbergConfig())
    assert out["text"].to_pylist() == ["OLD TALES\n\nOnce upon a time.", "plain text"]
    assert out["rewrite_tags"].to_pylist() == [["gutenberg_header", "gutenberg_footer", "gutenberg_credit"], []]
