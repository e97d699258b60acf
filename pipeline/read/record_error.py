"""The error a reader or a record check raises for one record: a machine-readable reason and a detail."""

from __future__ import annotations


class RecordError(ValueError):
    """A record that cannot become a document; ``reason`` is its short machine-readable name."""

    def __init__(self, reason: str, detail: str, raw: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.raw = reason, detail, raw
