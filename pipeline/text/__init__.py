"""Text stages every prose source shares: cleaning, language id, PII, the quality filters."""
