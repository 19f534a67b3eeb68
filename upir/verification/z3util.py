"""The one place that talks to Z3 as a solver.

Everything that creates a solver or an optimizer, runs a check, or reads a model
goes through this module, so the rules hold everywhere:

* every solver gets the wall-clock limit (``timeout_ms``) and the memory ceiling
  (``memory_mb``) from :class:`upir.settings.SolverSettings`; nothing is global;
* every thread works in its own :class:`z3.Context` (a Z3 context is not
  thread-safe), so terms built in one thread are never touched by another;
* a check answers one of :class:`CheckStatus`; ``unknown`` carries Z3's reason and
  is mapped to TIMEOUT (ran out of time or was interrupted) or UNKNOWN (gave up,
  e.g. incomplete nonlinear arithmetic); it is never a pass;
* Z3 exceptions become :class:`upir.errors.SolverError`.

Other modules of the package build terms with the helpers here (``real``,
``num``...) so that they are always in the calling thread's context.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import TypeAlias

import z3

from upir.errors import SolverError
from upir.settings import SolverSettings

Term: TypeAlias = z3.ArithRef
"""A Z3 real-valued term."""
Formula: TypeAlias = z3.BoolRef
"""A Z3 Boolean formula."""

Z3_VERSION = z3.get_version_string()
"""Version of the Z3 library in use; part of every proof-cache key."""

_local = threading.local()


def context() -> z3.Context:
    """The calling thread's Z3 context (created on first use)."""
    ctx: z3.Context | None = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = z3.Context()
        _local.ctx = ctx
    return ctx


# -- terms --------------------------------------------------------------------


def real(name: str) -> Term:
    """A fresh real-valued constant named ``name`` in this thread's context."""
    return z3.Real(name, context())


def integer(name: str) -> Term:
    """An integer-valued constant, as a real term (``ToReal``) for mixed arithmetic."""
    return z3.ToReal(z3.Int(name, context()))


def num(value: Fraction | int) -> Term:
    """The exact rational ``value`` as a Z3 real literal."""
    frac = Fraction(value)
    return z3.RealVal(f"{frac.numerator}/{frac.denominator}", context())


def boolean(value: bool) -> Formula:
    return z3.BoolVal(value, context())


def and_(items: Iterable[Formula]) -> Formula:
    parts = list(items)
    if not parts:
        return boolean(True)
    if len(parts) == 1:
        return parts[0]
    return z3.And(*parts)


def or_(items: Iterable[Formula]) -> Formula:
    parts = list(items)
    if not parts:
        return boolean(False)
    if len(parts) == 1:
        return parts[0]
    return z3.Or(*parts)


def not_(item: Formula) -> Formula:
    return z3.Not(item)


def implies(a: Formula, b: Formula) -> Formula:
    return z3.Implies(a, b)


def ite(cond: Formula, then: Term, other: Term) -> Term:
    result: Term = z3.If(cond, then, other)
    return result


def min_(items: Sequence[Term]) -> Term:
    best = items[0]
    for item in items[1:]:
        best = ite(item < best, item, best)
    return best


def max_(items: Sequence[Term]) -> Term:
    best = items[0]
    for item in items[1:]:
        best = ite(item > best, item, best)
    return best


def floor(term: Term) -> Term:
    """The floor of a real term, as a real term."""
    return z3.ToReal(z3.ToInt(term))


def substitute(term: z3.ExprRef, pairs: Sequence[tuple[z3.ExprRef, z3.ExprRef]]) -> z3.ExprRef:
    return z3.substitute(term, *pairs)


def closed_value(
    term: z3.ExprRef, pairs: Sequence[tuple[z3.ExprRef, z3.ExprRef]] = ()
) -> Fraction | bool:
    """The exact value of ``term`` after substituting ``pairs`` (it must then be
    closed: no free constants left). For tests and tools that evaluate the
    encoding at concrete points."""
    try:
        val = z3.simplify(z3.substitute(term, *pairs) if pairs else term)
    except z3.Z3Exception as err:
        raise SolverError(f"cannot evaluate a term: {err}") from None
    if z3.is_true(val) or z3.is_false(val):
        return bool(z3.is_true(val))
    if z3.is_rational_value(val):
        return Fraction(val.numerator_as_long(), val.denominator_as_long())
    if z3.is_int_value(val):
        return Fraction(val.as_long())
    raise SolverError(f"term is not closed after substitution: {val}")


def is_term(value: object) -> bool:
    return isinstance(value, z3.ExprRef)


# -- checks -------------------------------------------------------------------


class CheckStatus(str, Enum):
    SAT = "sat"
    UNSAT = "unsat"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What one solver check answered; ``reason`` is Z3's reason for ``unknown``."""

    status: CheckStatus
    reason: str = ""
    model: z3.ModelRef | None = None


class Deadline:
    """A wall-clock budget shared by several solver calls for one property."""

    def __init__(self, total_ms: int) -> None:
        self.total_ms = total_ms
        self._end = time.perf_counter() + total_ms / 1000.0

    def remaining_ms(self) -> int:
        """Milliseconds left, at least 1 (Z3 treats 0 as 'no limit')."""
        return max(1, int((self._end - time.perf_counter()) * 1000))

    def expired(self) -> bool:
        return time.perf_counter() >= self._end


def _limits(settings: SolverSettings, deadline: Deadline | None) -> tuple[int, int]:
    timeout = settings.timeout_ms
    if deadline is not None:
        timeout = min(timeout, deadline.remaining_ms())
    return timeout, settings.memory_mb


def make_solver(settings: SolverSettings, deadline: Deadline | None = None) -> z3.Solver:
    """A solver in this thread's context with the time and memory limits set."""
    timeout, memory = _limits(settings, deadline)
    try:
        solver = z3.Solver(ctx=context())
        solver.set("timeout", timeout)
        solver.set("max_memory", memory)
    except z3.Z3Exception as err:
        raise SolverError(f"cannot create a Z3 solver: {err}") from None
    return solver


def make_optimize(settings: SolverSettings, deadline: Deadline | None = None) -> z3.Optimize:
    """An optimizer (OMT) in this thread's context with the time limit set."""
    timeout, _ = _limits(settings, deadline)
    try:
        opt = z3.Optimize(ctx=context())
        opt.set("timeout", timeout)
    except z3.Z3Exception as err:
        raise SolverError(f"cannot create a Z3 optimizer: {err}") from None
    return opt


_TIMEOUT_REASONS = ("timeout", "canceled", "cancelled", "interrupted")
_MEMORY_REASONS = ("memory",)


def check(
    solver: z3.Solver | z3.Optimize,
    assumptions: Sequence[Formula] = (),
    *,
    want_model: bool = True,
) -> CheckOutcome:
    """Run one check; map Z3's answer (and its exceptions) onto :class:`CheckOutcome`.

    Raises :class:`SolverError` when Z3 fails (out of memory, internal error)."""
    try:
        answer = solver.check(*assumptions)
    except z3.Z3Exception as err:
        raise SolverError(f"Z3 failed: {err}") from None
    if answer == z3.sat:
        model = None
        if want_model:
            try:
                model = solver.model()
            except z3.Z3Exception as err:
                raise SolverError(f"Z3 gave no model: {err}") from None
        return CheckOutcome(CheckStatus.SAT, model=model)
    if answer == z3.unsat:
        return CheckOutcome(CheckStatus.UNSAT)
    reason = str(solver.reason_unknown())
    lowered = reason.lower()
    if any(word in lowered for word in _MEMORY_REASONS):
        raise SolverError(f"Z3 ran out of memory ({reason})")
    if any(word in lowered for word in _TIMEOUT_REASONS):
        return CheckOutcome(CheckStatus.TIMEOUT, reason)
    return CheckOutcome(CheckStatus.UNKNOWN, reason)


# -- values -------------------------------------------------------------------


def value_of(model: z3.ModelRef, term: z3.ExprRef, *, precision: int = 30) -> Fraction:
    """The exact value of ``term`` in ``model`` as a Fraction.

    An irrational algebraic value (possible with nonlinear constraints) is
    approximated to ``precision`` decimal digits; callers replay the counterexample
    to confirm it still violates."""
    try:
        val = model.eval(term, model_completion=True)
    except z3.Z3Exception as err:
        raise SolverError(f"cannot evaluate a model value: {err}") from None
    if z3.is_rational_value(val):
        return Fraction(val.numerator_as_long(), val.denominator_as_long())
    if z3.is_int_value(val):
        return Fraction(val.as_long())
    if z3.is_algebraic_value(val):
        approx = val.approx(precision)
        return Fraction(approx.numerator_as_long(), approx.denominator_as_long())
    raise SolverError(f"model value {val} of {term} is not a number")


def bool_of(model: z3.ModelRef, formula: Formula) -> bool:
    try:
        val = model.eval(formula, model_completion=True)
    except z3.Z3Exception as err:
        raise SolverError(f"cannot evaluate a model value: {err}") from None
    return bool(z3.is_true(val))


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of an optimum: ``value`` is exact; ``None`` means unbounded.
    ``strict`` says the optimum is approached but not attained (an epsilon)."""

    value: Fraction | None
    strict: bool = False


def optimize_bounds(
    settings: SolverSettings,
    constraints: Sequence[Formula],
    objective: Term,
    deadline: Deadline | None = None,
) -> tuple[Bound, Bound] | None:
    """The infimum and supremum of ``objective`` subject to ``constraints``
    (linear real arithmetic gives exact answers). ``None`` when the constraints
    are unsatisfiable or Z3 cannot decide (nonlinear, time-out)."""
    out: list[Bound] = []
    for maximize in (False, True):
        opt = make_optimize(settings, deadline)
        for c in constraints:
            opt.add(c)
        handle = opt.maximize(objective) if maximize else opt.minimize(objective)
        outcome = check(opt, want_model=False)
        if outcome.status is not CheckStatus.SAT:
            return None
        try:
            inf, val, eps = handle.upper_values() if maximize else handle.lower_values()
        except z3.Z3Exception:
            return None
        if not all(z3.is_rational_value(v) or z3.is_int_value(v) for v in (inf, val, eps)):
            return None
        if _frac(inf) != 0:
            out.append(Bound(None))
        else:
            out.append(Bound(_frac(val), strict=_frac(eps) != 0))
    return out[0], out[1]


def _frac(val: z3.ExprRef) -> Fraction:
    if z3.is_int_value(val):
        return Fraction(val.as_long())
    return Fraction(val.numerator_as_long(), val.denominator_as_long())
