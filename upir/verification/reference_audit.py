"""An independent, solver-free check of parameter vectors against a spec.

Used to audit the guardrail: the benchmark counts the applied configurations
that violate the spec with it, and the property-based tests compare it with
the guardrail's verdicts. It shares nothing with the Z3 encoding: it runs the
model's reference equations (:mod:`upir.verification.reference`, exact
rationals) and evaluates every predicate with :func:`upir.expr.evaluate`.

The environment is enumerated on a grid, held constant over time, from empty
queues:

- each environment name ranges over its bounds (the numeric bounds the
  assumptions put on it, within its physical domain; ``levels`` evenly spaced
  values from the lowest to the highest, 2 = both ends);
- plus the points where the model changes regime for the parameters at hand: a
  service time equal to the timeout and just above it (the attempt is then cut
  and fails), and the arrival rates at which a batcher's batches start and stop
  filling (``1000 / flush_ms`` and ``1000 * batch_size / flush_ms``);
- every combination that satisfies the assumptions exactly is simulated until
  its queues reach a fixed point (or ``max_steps`` steps).

So a violation it reports is a real one (a concrete, allowed, constant
environment under which a property fails), but it can miss violations that need
an environment off the grid or one that changes over time: it is a lower bound
on unsafety, the verifier is the proof.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.expr.ast import Compare, Expr, Name, Neg, Num, names
from upir.verification import reference as ref
from upir.verification.structure import (
    ARRIVAL,
    Structure,
    failure_rate_name,
    service_ms_name,
)

__all__ = ["IndependentChecker", "Violation", "assumption_bounds"]

_EPS = Fraction(1, 1000)
_UNBOUNDED = Fraction(10**6)  # stand-in top of a rate or time no assumption bounds


@dataclass(frozen=True, slots=True)
class Violation:
    """A property that fails under one constant environment."""

    property: str
    env: Mapping[str, Fraction]
    step: int
    """First failing step (ALWAYS), or the trace length for other operators."""


def _number(e: Expr) -> Fraction | None:
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Neg) and isinstance(e.operand, Num):
        return -e.operand.value
    return None


def assumption_bounds(
    assumptions: list[Expr],
) -> dict[str, tuple[Fraction | None, Fraction | None]]:
    """Numeric bounds ``lo <= env.x <= hi`` read off simple comparisons."""
    out: dict[str, tuple[Fraction | None, Fraction | None]] = {}

    def note(name: str, lo: Fraction | None, hi: Fraction | None) -> None:
        old_lo, old_hi = out.get(name, (None, None))
        if lo is not None:
            old_lo = lo if old_lo is None else max(old_lo, lo)
        if hi is not None:
            old_hi = hi if old_hi is None else min(old_hi, hi)
        out[name] = (old_lo, old_hi)

    for expr in assumptions:
        if not isinstance(expr, Compare):
            continue
        for op, left, right in zip(expr.ops, expr.operands, expr.operands[1:], strict=False):
            ln, rn = _number(left), _number(right)
            if isinstance(left, Name) and rn is not None:
                if op in ("<=", "<"):
                    note(left.name, None, rn)
                elif op in (">=", ">"):
                    note(left.name, rn, None)
                elif op == "==":
                    note(left.name, rn, rn)
            elif isinstance(right, Name) and ln is not None:
                if op in ("<=", "<"):
                    note(right.name, ln, None)
                elif op in (">=", ">"):
                    note(right.name, None, ln)
                elif op == "==":
                    note(right.name, ln, ln)
    return out


class IndependentChecker:
    """Checks parameter vectors of one UPIR by enumerating environments.

    Args:
        upir: the resource (architecture, spec, non-tunable parameters).
        levels: values per environment name between its bounds (>= 2).
        step_ms: the model's step, ms (the verifier's ``SolverSettings.step_ms``).
        max_steps: longest constant-environment run, steps.
        horizon: trace length for non-ALWAYS operators without a time bound
            (the verifier's ``bmc_steps``).
    """

    def __init__(
        self,
        upir: UPIR,
        *,
        levels: int = 2,
        step_ms: int = 100,
        max_steps: int = 300,
        horizon: int = 8,
    ) -> None:
        if levels < 2:
            raise ValueError("levels must be >= 2")
        self.upir = upir
        self.st = Structure(upir.architecture)
        self.step_ms = Fraction(step_ms)
        self.max_steps = max_steps
        self.horizon = horizon
        self.props: tuple[TemporalProperty, ...] = upir.specification.all_properties()
        wanted = set(self.st.env_domains)
        for p in self.props:
            for e in (p.predicate, p.trigger):
                if e is not None:
                    wanted |= {n for n in names(e) if n.startswith("env.")}
        bounds = assumption_bounds([a.expr for a in upir.specification.assumptions])
        self.ranges: dict[str, tuple[Fraction, Fraction]] = {}
        for name in sorted(wanted):
            dom = self.st.domain(name)
            lo, hi = bounds.get(name, (None, None))
            d_lo = dom.lower if dom.lower is not None else -_UNBOUNDED
            if dom.lower_strict and (lo is None or lo <= d_lo):
                lo = d_lo + _EPS
            lo = d_lo if lo is None else max(lo, d_lo)
            hi = (dom.upper if dom.upper is not None else _UNBOUNDED) if hi is None else hi
            if dom.upper is not None:
                hi = min(hi, dom.upper)
            self.ranges[name] = (lo, max(lo, hi))
        self.levels = levels
        self._memo: dict[tuple[tuple[str, Fraction], ...], tuple[Violation, ...]] = {}

    # -- public API --------------------------------------------------------------------
    def violations(
        self, values: Mapping[str, Fraction], *, first_only: bool = False
    ) -> tuple[Violation, ...]:
        """Properties that fail for ``values`` (tunable parameters; the others
        as in the UPIR), one violation per property (just the first found with
        ``first_only``). Empty: none found on the grid."""
        params = self.upir.with_params(values).param_values()
        key = (("first", Fraction(int(first_only))), *sorted(params.items()))
        found = self._memo.get(key)
        if found is not None:
            return found
        out: dict[str, Violation] = {}
        for env in self.environments(params):
            for v in self._check(params, env, first_only or set(out)):
                out.setdefault(v.property, v)
            if out and (first_only or len(out) == len(self.props)):
                break
        result = tuple(out.values())
        self._memo[key] = result
        return result

    def is_safe(self, values: Mapping[str, Fraction]) -> bool:
        """True when no violation is found on the grid."""
        return not self.violations(values, first_only=True)

    def environments(self, params: Mapping[str, Fraction]) -> list[dict[str, Fraction]]:
        """The grid of allowed constant environments for ``params``."""
        axes: list[list[Fraction]] = []
        names_ = list(self.ranges)
        for name in names_:
            lo, hi = self.ranges[name]
            pts = {lo + (hi - lo) * i / (self.levels - 1) for i in range(self.levels)}
            pts |= {p for p in self._breakpoints(name, params) if lo <= p <= hi}
            axes.append(sorted(pts))
        envs: list[dict[str, Fraction]] = []
        for combo in itertools.product(*axes):
            env = dict(zip(names_, combo, strict=True))
            if ref.env_allowed(self.st, self.upir, env):
                envs.append(env)
        return envs

    # -- internals -----------------------------------------------------------------------
    def _breakpoints(self, name: str, params: Mapping[str, Fraction]) -> list[Fraction]:
        pts: list[Fraction] = []
        for svc in self.st.of_type("service"):
            if name == service_ms_name(svc):
                t = params[f"{svc}.timeout_ms"]
                pts += [t, t + _EPS]
            elif name == failure_rate_name(svc):
                pts.append(Fraction(0))
        if name == ARRIVAL:
            for b in self.st.of_type("batcher"):
                flush, size = params[f"{b}.flush_ms"], params[f"{b}.batch_size"]
                if flush > 0:
                    pts += [1000 / flush, 1000 * size / flush]
        return pts

    def _check(
        self, params: Mapping[str, Fraction], env: dict[str, Fraction], skip: bool | set[str]
    ) -> list[Violation]:
        """Violations under one constant environment; ``skip`` (a set) names
        properties already known to fail; ``True`` stops at the first."""
        first_only = skip is True
        known = skip if isinstance(skip, set) else set()
        props = [p for p in self.props if p.name not in known]
        if not props:
            return []
        full = ref.filler_env(self.st, env, set())
        lengths = {q: Fraction(0) for q in self.st.of_type("queue")}
        always = [p for p in props if p.operator is TemporalOperator.ALWAYS]
        others = [p for p in props if p.operator is not TemporalOperator.ALWAYS]
        need = max([self._span(p) for p in others], default=0)
        trace: list[dict[str, Fraction]] = []
        failed: dict[str, Violation] = {}
        fixed = False
        t = 0
        while t <= self.max_steps:
            result = ref.step(self.st, params, full, lengths, self.step_ms)
            trace.append(result.values)
            for p in always:
                if p.name not in failed and ref.truth(p.predicate, result.values) is not True:
                    failed[p.name] = Violation(p.name, env, t)
                    if first_only:
                        return [failed[p.name]]
            fixed = result.next_lengths == lengths
            lengths = result.next_lengths
            if (fixed and t >= need) or len(failed) == len(always) and t >= need:
                break
            t += 1
        for p in others:
            span = self._span(p)
            run = list(trace[: span + 1])
            while len(run) < span + 1 and fixed:
                run.append(trace[-1])  # a fixed point repeats for ever
            if not ref.property_holds(p, run, self.step_ms):
                failed[p.name] = Violation(p.name, env, len(run))
                if first_only:
                    return [failed[p.name]]
        return list(failed.values())

    def _span(self, p: TemporalProperty) -> int:
        if p.operator is TemporalOperator.WITHIN and p.time_bound_ms is not None:
            return ref.within_steps(p.time_bound_ms, self.step_ms)
        return self.horizon
