"""Reasons a run emitted that the per-row stages did not declare (pipeline/stage_spec.py)."""

from pipeline.stages import STAGES


def undeclared(reasons: list[dict]) -> list[tuple[str, str]]:
    """The (stage, reason) pairs of ``stats.json``'s ``curate.reasons`` whose row stage does not declare them."""
    specs = {s.name: s for s in STAGES}
    return sorted(
        {
            (r["stage"], r["reason"])
            for r in reasons
            if r["stage"] in specs and not specs[r["stage"]].declares(r["reason"])
        }
    )
