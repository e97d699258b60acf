"""Curation: readers into the Document table, cleaning, filtering, deduplication and accounting."""
