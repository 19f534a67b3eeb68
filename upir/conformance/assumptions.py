"""Observed environment values against a specification's assumptions.

A proof holds for the environments the assumptions allow (DESIGN.md section 8).
Here each assumption is evaluated, with the project's exact expression
evaluator, on every instant at which all of its names were observed: an
instant that makes it false breaks it. An assumption some of whose names were
never observed is *unobserved*: the data neither cover nor break it.

Observations are samples ``(timestamp, value)`` per ``env.*`` name; samples of
different names are joined on equal timestamps (Prometheus range queries with
the same start and step line up exactly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from upir.core.specification import Assumption
from upir.expr import EvaluationError, evaluate
from upir.expr.ast import names
from upir.expr.printer import to_source

Sample = tuple[float, Fraction]
Observations = Mapping[str, Sequence[Sample]]
"""``env.<name>`` -> samples ``(unix seconds, exact value)``."""


class Coverage(str, Enum):
    """What the observations say of one assumption."""

    COVERED = "covered"
    BROKEN = "broken"
    UNOBSERVED = "unobserved"


@dataclass(frozen=True, slots=True)
class AssumptionCheck:
    """One assumption against the observations: ``instants`` checked (at which
    every name it uses was observed), ``violations`` among them, and the first
    violating instant with its values (``example``); ``missing`` names the
    variables never observed (``UNOBSERVED``)."""

    text: str
    coverage: Coverage
    instants: int
    violations: int
    example: tuple[float, Mapping[str, Fraction]] | None = None
    missing: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.coverage is Coverage.UNOBSERVED:
            return f"'{self.text}': not observed ({', '.join(self.missing)} has no data)"
        if self.coverage is Coverage.COVERED:
            return f"'{self.text}': holds at all {self.instants} observed instants"
        assert self.example is not None
        at, values = self.example
        shown = ", ".join(f"{k}={_number(v)}" for k, v in sorted(values.items()))
        return (
            f"'{self.text}': broken at {self.violations} of {self.instants} instants "
            f"(first at t={at:.0f}: {shown})"
        )


def joined(observations: Observations) -> dict[float, dict[str, Fraction]]:
    """Timestamp -> the value of every name observed at that instant."""
    rows: dict[float, dict[str, Fraction]] = {}
    for name, samples in observations.items():
        for at, value in samples:
            rows.setdefault(at, {})[name] = value
    return dict(sorted(rows.items()))


def check_assumption(
    assumption: Assumption, rows: Mapping[float, Mapping[str, Fraction]]
) -> AssumptionCheck:
    """:class:`AssumptionCheck` of one assumption over joined rows."""
    text = to_source(assumption.expr)
    used = names(assumption.expr)
    seen = set().union(*(r.keys() for r in rows.values())) if rows else set()
    missing = tuple(sorted(used - seen))
    if missing:
        return AssumptionCheck(text, Coverage.UNOBSERVED, 0, 0, missing=missing)
    instants = violations = 0
    example: tuple[float, Mapping[str, Fraction]] | None = None
    for at, row in rows.items():
        if not used <= row.keys():
            continue
        instants += 1
        values = {n: row[n] for n in used}
        if not _holds(assumption, values):
            violations += 1
            if example is None:
                example = (at, values)
    if instants == 0:
        # every name observed, never all at once: nothing to decide jointly
        return AssumptionCheck(text, Coverage.UNOBSERVED, 0, 0, missing=tuple(sorted(used)))
    coverage = Coverage.BROKEN if violations else Coverage.COVERED
    return AssumptionCheck(text, coverage, instants, violations, example)


def check_assumptions(
    assumptions: Sequence[Assumption], observations: Observations
) -> list[AssumptionCheck]:
    """Every assumption against ``observations``, in order."""
    rows = joined(observations)
    return [check_assumption(a, rows) for a in assumptions]


def _holds(assumption: Assumption, values: Mapping[str, Fraction]) -> bool:
    try:
        return evaluate(assumption.expr, values) is True
    except EvaluationError:
        return False  # a division by zero is no environment the assumption allows


def _number(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    value = float(x)
    return f"{value:.6g}" if math.isfinite(value) else str(x)
