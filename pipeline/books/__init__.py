"""Books: readers (text, HTML, EPUB) and the layout repairs (pages, headers, hyphens, TOC, index)."""
