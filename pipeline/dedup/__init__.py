"""Exact and near dedup: MinHash LSH, connected components, which copy survives."""
