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
    "last_applied",
    "hold_reason",
]


def last_applied(status: Mapping[str, Any]) -> dict[str, Fraction] | None:
    """The one reading of ``status.appliedParameters``: the parameters last
    written to the workload, whatever generation of the spec they were proved
    for (None when nothing was applied). The workload runs them until the next
    write, so the live conformance check judges these."""
    applied = status.get("appliedParameters")
    if not isinstance(applied, Mapping):
        return None
    return {k: to_fraction(v) for k, v in applied.items()} or None


def applied_parameters(
    status: Mapping[str, Any], meta: Mapping[str, Any]
) -> dict[str, Fraction] | None:
    """:func:`last_applied`, while the spec they were proved for is still the
    current generation (None otherwise): what the handlers and the tuning loop
    may build on."""
    if status.get("observedGeneration") != meta.get("generation"):
        return None
    return last_applied(status)
