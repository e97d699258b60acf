"""Model-based quality selection: a fastText classifier trained on the corpus itself (or brought by the
user) scores documents after deduplication, and a selection rule keeps the best (DCLM, Li et al. 2024)."""
