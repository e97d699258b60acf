"""Packing into rows, attention masks, Arrow shards and their storage."""
