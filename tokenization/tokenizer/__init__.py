"""The byte-level BPE tokenizer: training, special tokens, encoding, FIM, image tokens."""
