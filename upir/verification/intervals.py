"""Interval arithmetic and three-valued evaluation of predicates.

The compositional verifier knows each quantity only as a range ``[lo, hi]``
(bounds that hold at every reachable step). A predicate evaluated over ranges is
*definitely true* (``TRUE``) only when it holds for every combination of values in
the ranges and every division it reaches is away from zero; anything else is not a
proof. Endpoints are exact :class:`~fractions.Fraction` values, or ``±inf``
(floats) for unbounded ends. Real quantities are finite, so ``0 * inf`` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from upir.expr.ast import BinOp, BoolLit, BoolOp, Call, Compare, Expr, Name, Neg, Not, Num

Bound = Fraction | float  # a float only for -inf / +inf
INF = math.inf


@dataclass(frozen=True, slots=True)
class Interval:
    lo: Bound
    hi: Bound

    @staticmethod
    def point(x: Fraction | int) -> Interval:
        f = Fraction(x)
        return Interval(f, f)

    @staticmethod
    def at_least(x: Bound) -> Interval:
        return Interval(x, INF)

    @property
    def is_point(self) -> bool:
        return self.lo == self.hi

    def empty(self) -> bool:
        return self.lo > self.hi

    def contains_zero(self) -> bool:
        return self.lo <= 0 <= self.hi

    def __repr__(self) -> str:
        return f"[{_show(self.lo)}, {_show(self.hi)}]"


UNBOUNDED = Interval(-INF, INF)


def _show(b: Bound) -> str:
    return str(b) if isinstance(b, Fraction) else ("inf" if b > 0 else "-inf")


def _mul(x: Bound, y: Bound) -> Bound:
    if x == 0 or y == 0:
        return Fraction(0)
    return x * y


def add(a: Interval, b: Interval) -> Interval:
    return Interval(a.lo + b.lo, a.hi + b.hi)


def neg(a: Interval) -> Interval:
    return Interval(-a.hi, -a.lo)


def sub(a: Interval, b: Interval) -> Interval:
    return add(a, neg(b))


def mul(a: Interval, b: Interval) -> Interval:
    products = [_mul(a.lo, b.lo), _mul(a.lo, b.hi), _mul(a.hi, b.lo), _mul(a.hi, b.hi)]
    return Interval(min(products), max(products))


def _recip(x: Bound) -> Bound:
    if isinstance(x, float):
        return Fraction(0)
    return 1 / x


def div(a: Interval, b: Interval) -> Interval | None:
    """``a / b``; None when ``b`` may be zero."""
    if b.contains_zero():
        return None
    return mul(a, Interval(_recip(b.hi), _recip(b.lo)))


def mod(a: Interval, b: Interval) -> Interval | None:
    """``a % b`` (result has the sign of ``b``); None when ``b`` may be zero."""
    if b.contains_zero():
        return None
    if a.is_point and b.is_point and isinstance(a.lo, Fraction) and isinstance(b.lo, Fraction):
        x, y = a.lo, b.lo
        return Interval.point(x - y * math.floor(x / y))
    if b.lo > 0:
        return Interval(Fraction(0), b.hi)
    return Interval(b.lo, Fraction(0))


def minimum(items: list[Interval]) -> Interval:
    return Interval(min(i.lo for i in items), min(i.hi for i in items))


def maximum(items: list[Interval]) -> Interval:
    return Interval(max(i.lo for i in items), max(i.hi for i in items))


def absolute(a: Interval) -> Interval:
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return neg(a)
    return Interval(Fraction(0), max(-a.lo, a.hi))


class Truth(Enum):
    """TRUE/FALSE: decided, for every value in the ranges. UNKNOWN: depends on
    the values (but defined). UNDEFINED: may divide by zero."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"
    UNDEFINED = "undefined"


def _compare(op: str, a: Interval, b: Interval) -> Truth:
    if op in ("<", ">"):
        if op == ">":
            a, b = b, a
        if a.hi < b.lo:
            return Truth.TRUE
        if a.lo >= b.hi:
            return Truth.FALSE
        return Truth.UNKNOWN
    if op in ("<=", ">="):
        if op == ">=":
            a, b = b, a
        if a.hi <= b.lo:
            return Truth.TRUE
        if a.lo > b.hi:
            return Truth.FALSE
        return Truth.UNKNOWN
    disjoint = a.hi < b.lo or b.hi < a.lo
    same_point = a.is_point and b.is_point and a.lo == b.lo
    if op == "==":
        return Truth.TRUE if same_point else Truth.FALSE if disjoint else Truth.UNKNOWN
    return Truth.TRUE if disjoint else Truth.FALSE if same_point else Truth.UNKNOWN


Ranges = Callable[[str], Interval | None]
"""A name's range; None where it may have no value (docs/model.md section 3.1)."""


def evaluate_range(expr: Expr, ranges: Ranges) -> Interval | None:
    """The range of a numeric expression; None when it may divide by zero."""
    if isinstance(expr, Num):
        return Interval.point(expr.value)
    if isinstance(expr, Name):
        return ranges(expr.name)
    if isinstance(expr, Neg):
        inner = evaluate_range(expr.operand, ranges)
        return None if inner is None else neg(inner)
    if isinstance(expr, BinOp):
        left = evaluate_range(expr.left, ranges)
        right = evaluate_range(expr.right, ranges)
        if left is None or right is None:
            return None
        if expr.op == "+":
            return add(left, right)
        if expr.op == "-":
            return sub(left, right)
        if expr.op == "*":
            return mul(left, right)
        if expr.op == "/":
            return div(left, right)
        return mod(left, right)
    if isinstance(expr, Call):
        args: list[Interval] = []
        for a in expr.args:
            r = evaluate_range(a, ranges)
            if r is None:
                return None
            args.append(r)
        if expr.func == "min":
            return minimum(args)
        if expr.func == "max":
            return maximum(args)
        return absolute(args[0])
    return None


def evaluate_truth(expr: Expr, ranges: Ranges) -> Truth:
    """Three-valued truth of a predicate over ranges, with the short-circuit
    evaluation order of :func:`upir.expr.evaluate` (a later operand that may
    divide by zero only matters when it can be reached)."""
    if isinstance(expr, BoolLit):
        return Truth.TRUE if expr.value else Truth.FALSE
    if isinstance(expr, Not):
        inner = evaluate_truth(expr.operand, ranges)
        if inner is Truth.TRUE:
            return Truth.FALSE
        if inner is Truth.FALSE:
            return Truth.TRUE
        return inner
    if isinstance(expr, BoolOp):
        stop = Truth.FALSE if expr.op == "and" else Truth.TRUE
        go = Truth.TRUE if expr.op == "and" else Truth.FALSE
        result = go
        for item in expr.operands:
            value = evaluate_truth(item, ranges)
            if value is Truth.UNDEFINED:
                return Truth.UNDEFINED
            if value is stop:
                # whichever earlier unknown operand stopped the evaluation, it stopped
                # with this same value
                return stop
            if value is Truth.UNKNOWN:
                result = Truth.UNKNOWN
        return result
    if isinstance(expr, Compare):
        left = evaluate_range(expr.operands[0], ranges)
        if left is None:
            return Truth.UNDEFINED
        result = Truth.TRUE
        for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
            right = evaluate_range(operand, ranges)
            if right is None:
                return Truth.UNDEFINED
            link = _compare(op, left, right)
            if link is Truth.FALSE:
                return Truth.FALSE
            if link is Truth.UNKNOWN:
                result = Truth.UNKNOWN
            left = right
        return result
    return Truth.UNKNOWN
