"""Live conformance: one window of observed values against what was proved.

A proof holds for the model and its assumptions (DESIGN.md section 8). Every
window the operator reads, through Prometheus, the environment (``env.*``
values) and the measured metrics; :func:`judge` sets them against

- the assumptions, each evaluated with the project's exact evaluator on the
  observed values (an assumption some of whose names returned nothing is not
  judged);
- the bounds proved for the parameters that run (:func:`proved_bounds`): every
  PROVED property that holds at every step whose predicate, or a conjunct of
  it, bounds one model quantity by constants, for the quantities a metric
  measures. A metric measures ``system.<q>`` when it is named like a
  ``constraints`` key (``latency_ms`` -> ``system.latency_ms``), and the
  quantity it is named after when its name has a dot (``gateway.latency_ms``).

The window's reason is ``AssumptionViolated`` when an assumption is broken
(the proofs do not cover the environment seen), else ``BoundExceeded`` when a
measured metric lies outside a proved bound (the model does not describe the
running system), else ``Conformant`` when anything could be checked, else
``NoData``. :func:`advance` adds hysteresis: the reported condition changes
status only after :attr:`~upir.settings.ConformanceSettings.windows`
consecutive windows agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from upir.conformance.assumptions import Coverage, check_assumption
from upir.conformance.calibrate import simple_bounds
from upir.core.catalog import CONSTRAINT_KEYS
from upir.core.specification import Assumption
from upir.core.temporal import TemporalOperator
from upir.expr import EvaluationError, evaluate
from upir.expr.ast import BoolOp, Expr, names
from upir.expr.printer import format_number, to_source
from upir.settings import ConformanceSettings
from upir.verification.results import VerificationReport, VerificationResult


class Reason(str, Enum):
    """The ``Conformant`` condition's reasons."""

    CONFORMANT = "Conformant"
    ASSUMPTION_VIOLATED = "AssumptionViolated"
    BOUND_EXCEEDED = "BoundExceeded"
    NO_DATA = "NoData"

    @property
    def status(self) -> bool | None:
        """The condition status: True, False, or None (Unknown) for NoData."""
        if self is Reason.CONFORMANT:
            return True
        return None if self is Reason.NO_DATA else False


@dataclass(frozen=True, slots=True)
class Bound:
    """One proved bound on a measured metric: ``expr`` (a comparison over
    ``quantity`` alone) is part of the predicate of the PROVED property
    ``proved_by``."""

    metric: str
    """The ``spec.tuning.prometheus.queries`` key that measures ``quantity``."""
    quantity: str
    proved_by: str
    expr: Expr
    lower: Fraction | None
    upper: Fraction | None

    @property
    def text(self) -> str:
        return to_source(self.expr)


def quantity_of(metric: str) -> str | None:
    """The model quantity a metric query measures, or None (not checked)."""
    return metric if "." in metric else CONSTRAINT_KEYS.get(metric)


def _every_step(result: VerificationResult) -> bool:
    """Whether a PROVED result means its predicate holds at every step: ALWAYS
    does; EVENTUALLY and WITHIN only when proved from the composed ranges,
    which hold at every reachable step (UNTIL and SINCE are proved through
    their trigger, which says nothing of the predicate at each step)."""
    op = result.property.operator
    if op is TemporalOperator.ALWAYS:
        return True
    return op in (TemporalOperator.EVENTUALLY, TemporalOperator.WITHIN) and (
        result.method == "compositional"
    )


def _conjuncts(expr: Expr) -> Iterable[Expr]:
    if isinstance(expr, BoolOp) and expr.op == "and":
        for part in expr.operands:
            yield from _conjuncts(part)
    else:
        yield expr


def proved_bounds(report: VerificationReport, metrics: Iterable[str]) -> tuple[Bound, ...]:
    """The bounds the verdicts in ``report`` (for the parameters that run) prove
    on the quantities ``metrics`` measure. Only PROVED counts."""
    wanted: dict[str, list[str]] = {}
    for m in metrics:
        q = quantity_of(m)
        if q is not None:
            wanted.setdefault(q, []).append(m)
    out: list[Bound] = []
    for r in report.results:
        if not r.passed or not _every_step(r):
            continue
        for part in _conjuncts(r.property.predicate):
            found = simple_bounds(part)
            if found is None or found[0] not in wanted:
                continue
            name, lo, hi = found
            out.extend(Bound(m, name, r.property.name, part, lo, hi) for m in wanted[name])
    return tuple(out)


def exact(value: float) -> Fraction:
    """An observed float as the exact decimal it prints as (``812.5``, not the
    binary fraction nearest to it)."""
    return Fraction(repr(value))


@dataclass(frozen=True, slots=True)
class Finding:
    """One window's verdict; ``observed`` holds every finite value read
    (``env.*`` names and metric names), ``limits`` the proved or assumed
    ``(name, "min" | "max") -> limit`` for the observed names (the gauges)."""

    reason: Reason
    message: str
    observed: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[tuple[str, str], float] = field(default_factory=dict)


def _num(x: Fraction | float) -> str:
    """A value as read: exact for fractions, the shortest round-trip text for
    floats (never rounded to fewer digits than were observed)."""
    if isinstance(x, Fraction):
        short = abs(x.numerator) < 10**30 and x.denominator < 10**15
        return format_number(x) if short else repr(float(x))
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def judge(
    assumptions: Sequence[Assumption],
    environment: Mapping[str, float | None],
    bounds: Sequence[Bound],
    metrics: Mapping[str, float | None],
    unread: Mapping[str, str] | None = None,
) -> Finding:
    """One window: ``environment`` (``env.<name>`` -> value, None when the query
    returned nothing) against ``assumptions``, ``metrics`` against ``bounds``.
    ``unread`` says why a query gave no value (name -> message), for NoData."""
    env = {k: exact(v) for k, v in environment.items() if v is not None and math.isfinite(v)}
    seen = {k: v for k, v in metrics.items() if v is not None and math.isfinite(v)}
    observed: dict[str, float] = {k: float(v) for k, v in env.items()} | seen
    limits: dict[tuple[str, str], float] = {}
    checked = 0
    broken: list[str] = []
    row = {0.0: env}
    for a in assumptions:
        check = check_assumption(a, row)
        if check.coverage is Coverage.UNOBSERVED:
            continue
        checked += 1
        if check.coverage is Coverage.BROKEN:
            assert check.example is not None
            values = ", ".join(f"{k}={_num(v)}" for k, v in sorted(check.example[1].items()))
            broken.append(f"assumption '{check.text}' does not hold: observed {values}")
        found = simple_bounds(a.expr)
        if found is not None and found[0] in env:
            _limit(limits, found[0], found[1], found[2])
    exceeded: list[str] = []
    for b in bounds:
        value = seen.get(b.metric)
        if value is None:
            continue
        checked += 1
        _limit(limits, b.metric, b.lower, b.upper)
        if not _holds(b.expr, {b.quantity: exact(value)}):
            exceeded.append(
                f"proved bound '{b.text}' ({b.proved_by}) exceeded: observed "
                f"{b.metric}={_num(value)}"
            )
    if broken:
        return Finding(Reason.ASSUMPTION_VIOLATED, "; ".join(broken + exceeded), observed, limits)
    if exceeded:
        return Finding(Reason.BOUND_EXCEEDED, "; ".join(exceeded), observed, limits)
    if checked:
        shown = ", ".join(f"{k}={_num(v)}" for k, v in sorted(observed.items()))
        msg = f"{checked} check(s) hold: {shown}"
        return Finding(Reason.CONFORMANT, msg, observed, limits)
    configured = set(environment)
    if not bounds and not any(names(a.expr) <= configured for a in assumptions):
        why = (
            "nothing to check: no environment query covers an assumption and no metric "
            "query measures a quantity with a proved bound"
        )
    else:
        why = "; ".join(f"{k}: {v}" for k, v in sorted((unread or {}).items()))
        why = f"the queries returned nothing ({why})" if why else "the queries returned nothing"
    return Finding(Reason.NO_DATA, why, observed, limits)


def _limit(
    limits: dict[tuple[str, str], float],
    name: str,
    lo: Fraction | None,
    hi: Fraction | None,
) -> None:
    """Keep the tightest limit per side."""
    if hi is not None:
        old = limits.get((name, "max"))
        limits[(name, "max")] = float(hi) if old is None else min(old, float(hi))
    if lo is not None:
        old = limits.get((name, "min"))
        limits[(name, "min")] = float(lo) if old is None else max(old, float(lo))


def _holds(expr: Expr, values: Mapping[str, Fraction]) -> bool:
    try:
        return evaluate(expr, values) is True
    except EvaluationError:
        return False


@dataclass(frozen=True, slots=True)
class ConformanceState:
    """What is reported (``reason``, ``message``; None before the first window)
    and the windows seen since that disagree with it: ``pending`` (the latest
    one's reason) for ``pending_windows`` in a row."""

    reason: Reason | None = None
    message: str = ""
    pending: Reason | None = None
    pending_windows: int = 0

    @property
    def conformant(self) -> bool | None:
        return None if self.reason is None else self.reason.status


def advance(
    state: ConformanceState, finding: Finding, settings: ConformanceSettings
) -> ConformanceState:
    """The state after one more window. The first window is reported at once;
    after that the condition's status (True / False / Unknown) changes only
    when ``settings.windows`` consecutive windows agree on the new status. A
    window with the reported status updates the reason and message at once
    (from AssumptionViolated to BoundExceeded, say) and clears what was pending."""
    if state.reason is None or finding.reason.status == state.reason.status:
        return ConformanceState(finding.reason, finding.message)
    same = state.pending is not None and state.pending.status == finding.reason.status
    count = state.pending_windows + 1 if same else 1
    if count >= settings.windows:
        return ConformanceState(finding.reason, finding.message)
    return ConformanceState(state.reason, state.message, finding.reason, count)


def describe(state: ConformanceState, settings: ConformanceSettings) -> str:
    """The condition message: the reported finding, and a change in the making."""
    if state.pending is None:
        return state.message
    return (
        f"{state.message} (the last {state.pending_windows} of {settings.windows} windows "
        f"needed to change it gave {state.pending.value})"
    )
