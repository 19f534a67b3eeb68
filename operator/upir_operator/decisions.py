"""The tuning loop's decisions: the library's step, and what the operator reads.

One window's decision is :func:`upir.tuning.step.step` (hold, score, roll back,
propose, guard, then apply / recommend / keep), the same function ``upir tune
--simulate`` and the tuning benchmark run; this module re-exports its types for
the operator's modules and holds the one reader of the applied parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from upir.core.numbers import to_fraction
from upir.tuning.step import REQUIRED_METRICS, Action, Decision, LoopState, Sample, hold_reason

TuningState = LoopState
"""What the loop remembers between windows (the library's :class:`LoopState`)."""

__all__ = [
    "REQUIRED_METRICS",
    "Action",
    "Decision",
    "Sample",
    "TuningState",
    "applied_parameters",
    "hold_reason",
]


def applied_parameters(
    status: Mapping[str, Any], meta: Mapping[str, Any]
) -> dict[str, Fraction] | None:
    """The last applied (proved) parameters, while the spec they were proved
    for is still the current generation (None otherwise): the one reading of
    ``status.appliedParameters``, for the handlers and the tuning loop."""
    applied = status.get("appliedParameters")
    if status.get("observedGeneration") != meta.get("generation") or not isinstance(
        applied, Mapping
    ):
        return None
    return {k: to_fraction(v) for k, v in applied.items()} or None
