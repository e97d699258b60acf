"""Web pages: HTML extraction, interleaved image documents, WARC, the URL filter."""
