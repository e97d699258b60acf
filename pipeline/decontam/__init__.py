"""Benchmark decontamination: evaluation items indexed as n-gram hashes, every curated document scanned
for them (DeepSeek-Coder's rule, Guo et al. 2024 §2.4; datatrove's NGramsDecontFilter)."""
