"""Tokenizer training, tokenization, packing, attention masks, Arrow shards and the PyTorch loader."""
