from pipeline.books.reflow import ReflowConfig, reflow

WRAPPED = (
    "Alice was beginning to get very tired of sitting by her sister on the\n"
    "bank, and of having nothing to do: once or twice she had peeped into the\n"
    "book her sister was reading, but it had no pictures or conversations in\n"
    "it, 'and what is the use of a book,' thought Alice 'without pictures or\n"
    "conversation?'\n"
)
JOINED = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to "
    "do: once or twice she had peeped into the book her sister was reading, but it had no pictures or "
    "conversations in it, 'and what is the use of a book,' thought Alice 'without pictures or conversation?'"
)


def _reflow(text: str) -> tuple[str, int]:
    lines, count = reflow(text.split("\n"), ReflowConfig())
    return "\n".join(lines), count


def test_wrapped_paragraphs_are_joined_and_blank_lines_kept():
    assert _reflow(f"CHAPTER I\n\n\n{WRAPPED}\n{WRAPPED}") == (f"CHAPTER I\n\n\n{JOINED}\n\n{JOINED}\n", 2)


def test_verse_code_tables_lists_and_headings_keep_their_lines():
    verse = (
        "Of Man's first disobedience, and the fruit of that forbidden tree\n"
        "Whose mortal taste brought death into the World, and all our woe,\n"
        "With loss of Eden, till one greater Man restore us, and regain\n"
    )
    code = "    for line in lines:\n        if line.strip():\n            print(line)\n"
    table = "sed -n      print nothing unless asked, and nothing\nsed -e      add the script to the commands run\n"
    items = (
        "The package holds three programs that are installed together:\n"
        "a) sed, the stream editor that filters and transforms text lines\n"
        "b) grep, which prints the lines that match a pattern given to it\n"
    )
    heading = "CHAPTER I\nDown the Rabbit-Hole\n"
    for block in (verse, code, table, items, heading):
        text = f"{WRAPPED}\n{WRAPPED}\n{block}"
        assert _reflow(text) == (f"{JOINED}\n\n{JOINED}\n\n{block}", 2)


def test_text_that_is_not_hard_wrapped_is_left_alone():
    one_line_paragraphs = "\n".join([JOINED, "and then", JOINED, "so it goes"] * 5)
    assert _reflow(one_line_paragraphs) == (one_line_paragraphs, 0)


def test_cjk_lines_join_without_a_space():
    wrapped = (
        "このDebian リファレンスはシステムインストール後のユーザー向け案内書と\n"
        "して Debian のシステム管理に関する概論の提供を目指しています。\n"
    )
    joined = (
        "このDebian リファレンスはシステムインストール後のユーザー向け案内書と"
        "して Debian のシステム管理に関する概論の提供を目指しています。"
    )  # no space at the join
    assert _reflow("\n".join([wrapped] * 6)) == ("\n".join([joined + "\n"] * 6), 6)
