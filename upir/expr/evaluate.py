"""Exact evaluation of an expression, independent of Z3.

Used to replay counterexamples: the verifier's model values are substituted and
the predicate is recomputed with exact rational arithmetic, so a reported
violation can be checked without trusting the solver.

Semantics:

* ``/`` is exact rational division;
* ``a % b`` is ``a - b * floor(a / b)`` (Python's sign convention: the result has
  the sign of ``b``);
* ``and``/``or`` short-circuit left to right and a chained comparison stops at the
  first false link, as in Python, so ``x.y == 0 or 1 / x.y > 2`` is true when
  ``x.y`` is 0 (matching Z3, where the first disjunct alone decides);
* division or modulo by zero that is actually reached raises
  :class:`EvaluationError`, as does a name missing from ``values``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from upir.errors import PermanentError
from upir.expr.ast import BinOp, BoolLit, BoolOp, Compare, Expr, Name, Neg, Not, Num, names
from upir.expr.printer import to_source

Value = Fraction | bool


class EvaluationError(PermanentError):
    """An expression cannot be evaluated with the given values.

    ``expr`` is the offending sub-expression (``expr.pos`` locates it in the source).
    """

    def __init__(self, message: str, expr: Expr) -> None:
        super().__init__(message)
        self.expr = expr


def _lookup(node: Name, values: Mapping[str, Fraction]) -> Fraction:
    if node.name not in values:
        raise EvaluationError(f"no value for '{node.name}'", node)
    value: object = values[node.name]
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    raise EvaluationError(
        f"value for '{node.name}' must be an exact number (Fraction or int), "
        f"got {type(value).__name__}",
        node,
    )


def _num(expr: Expr, values: Mapping[str, Fraction]) -> Fraction:
    result = evaluate(expr, values)
    if isinstance(result, bool):
        raise EvaluationError(f"expected a number from '{to_source(expr)}'", expr)
    return result


def _bool(expr: Expr, values: Mapping[str, Fraction]) -> bool:
    result = evaluate(expr, values)
    if not isinstance(result, bool):
        raise EvaluationError(f"expected a boolean from '{to_source(expr)}'", expr)
    return result


def _arith(expr: BinOp, values: Mapping[str, Fraction]) -> Fraction:
    left = _num(expr.left, values)
    right = _num(expr.right, values)
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if right == 0:
        word = "division" if expr.op == "/" else "modulo"
        raise EvaluationError(f"{word} by zero in '{to_source(expr)}'", expr)
    if expr.op == "/":
        return left / right
    return left - right * math.floor(left / right)


def _compare(expr: Compare, values: Mapping[str, Fraction]) -> bool:
    left = _num(expr.operands[0], values)
    for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
        right = _num(operand, values)
        if op == "<":
            holds = left < right
        elif op == "<=":
            holds = left <= right
        elif op == ">":
            holds = left > right
        elif op == ">=":
            holds = left >= right
        elif op == "==":
            holds = left == right
        else:
            holds = left != right
        if not holds:
            return False
        left = right
    return True


def evaluate(expr: Expr, values: Mapping[str, Fraction]) -> Fraction | bool:
    """The exact value of ``expr`` with each name bound by ``values``.

    Args:
        expr: a well-typed tree (as :func:`upir.expr.parse` returns).
        values: exact values by dotted name; ``int`` values are accepted too.

    Returns:
        A :class:`~fractions.Fraction` for numeric expressions, a ``bool`` for
        predicates.

    Raises:
        EvaluationError: a name has no (exact) value, a division or modulo by zero
            is reached, or the tree is ill-typed.
    """
    if isinstance(expr, Num):
        return Fraction(expr.value)
    if isinstance(expr, BoolLit):
        return expr.value
    if isinstance(expr, Name):
        return _lookup(expr, values)
    if isinstance(expr, Neg):
        return -_num(expr.operand, values)
    if isinstance(expr, Not):
        return not _bool(expr.operand, values)
    if isinstance(expr, BinOp):
        return _arith(expr, values)
    if isinstance(expr, Compare):
        return _compare(expr, values)
    if isinstance(expr, BoolOp):
        if expr.op == "and":
            return all(_bool(operand, values) for operand in expr.operands)
        return any(_bool(operand, values) for operand in expr.operands)
    args = [_num(arg, values) for arg in expr.args]
    if not args or (expr.func == "abs" and len(args) != 1):
        raise EvaluationError(f"wrong number of arguments in '{to_source(expr)}'", expr)
    if expr.func == "min":
        return min(args)
    if expr.func == "max":
        return max(args)
    return abs(args[0])


def constant_value(expr: Expr) -> Fraction | bool | None:
    """The value of an expression that names no variable (``2 * 3``, ``1 > 2``,
    ``false``); None when it names one or cannot be computed (a division by
    zero)."""
    if names(expr):
        return None
    try:
        return evaluate(expr, {})
    except EvaluationError:
        return None
