"""Images: decoding and checks, captions, perceptual hashes, image dedup."""
