"""The "first failing rule wins" bookkeeping the quality filters share: one reason per row, kept from
the first rule the row fails, in the order the rules run (datatrove's filters return at the first
failure the same way)."""

from __future__ import annotations

import numpy as np


def no_reasons(n: int) -> np.ndarray:
    """One slot per row, None until a rule fails."""
    return np.full(n, None, dtype=object)


def open_rows(reason: np.ndarray) -> np.ndarray:
    """Rows no rule has failed yet (a boolean mask)."""
    return np.equal(reason, None)


def fail(reason: np.ndarray, fails: np.ndarray, name: str) -> None:
    """Give ``name`` to the rows that fail this rule and no earlier one."""
    reason[open_rows(reason) & fails] = name
