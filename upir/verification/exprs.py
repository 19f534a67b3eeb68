"""Predicates and assumptions as Z3 formulas: exact arithmetic, the
short-circuit definedness of :func:`upir.expr.evaluate` (division by zero is a
proof obligation), and ``%`` as ``a - b*floor(a/b)``."""

from __future__ import annotations

from collections.abc import Callable

from upir.errors import SolverError
from upir.expr.ast import BinOp, BoolLit, BoolOp, Call, Compare, Expr, Name, Neg, Not, Num, names
from upir.verification import z3util as z
from upir.verification.z3util import Formula, Term

Lookup = Callable[[str], Term]


def encode_num(expr: Expr, lookup: Lookup) -> Term:
    """A numeric expression as a Z3 real term."""
    if isinstance(expr, Num):
        return z.num(expr.value)
    if isinstance(expr, Name):
        return lookup(expr.name)
    if isinstance(expr, Neg):
        return -encode_num(expr.operand, lookup)
    if isinstance(expr, BinOp):
        left, right = encode_num(expr.left, lookup), encode_num(expr.right, lookup)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        if expr.op == "/":
            return left / right
        # a % b = a - b*floor(a/b), as upir.expr.evaluate computes it
        return left - right * z.floor(left / right)
    if isinstance(expr, Call):
        args = [encode_num(a, lookup) for a in expr.args]
        if expr.func == "min":
            return z.min_(args)
        if expr.func == "max":
            return z.max_(args)
        return z.ite(args[0] < 0, -args[0], args[0])
    raise SolverError(f"not a numeric expression: {type(expr).__name__}")


def _cmp(op: str, a: Term, b: Term) -> Formula:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b


def encode_bool(expr: Expr, lookup: Lookup) -> Formula:
    """A predicate as a Z3 formula (its value where it is defined)."""
    if isinstance(expr, BoolLit):
        return z.boolean(expr.value)
    if isinstance(expr, Not):
        return z.not_(encode_bool(expr.operand, lookup))
    if isinstance(expr, BoolOp):
        parts = [encode_bool(e, lookup) for e in expr.operands]
        return z.and_(parts) if expr.op == "and" else z.or_(parts)
    if isinstance(expr, Compare):
        terms = [encode_num(e, lookup) for e in expr.operands]
        return z.and_(_cmp(op, terms[i], terms[i + 1]) for i, op in enumerate(expr.ops))
    raise SolverError(f"not a predicate: {type(expr).__name__}")


Finite = Callable[[str], "Formula | None"]
"""Where a name has a finite value (None: everywhere); see
:meth:`upir.verification.encoder.Unrolling.finite`."""


def defined(expr: Expr, lookup: Lookup, finite: Finite | None = None) -> Formula:
    """Where ``expr`` is defined: no division or modulo by zero is *reached*,
    and no name without a finite value (``finite``: a saturated service's
    latency, docs/model.md section 3.1) is read.

    Mirrors :func:`upir.expr.evaluate`: ``and``/``or`` and comparison chains stop
    at the first deciding operand, so a guarded ``x == 0 or 1 / x > 2`` is defined
    everywhere."""
    if isinstance(expr, Name):
        found = finite(expr.name) if finite is not None else None
        return found if found is not None else z.boolean(True)
    if isinstance(expr, (Num, BoolLit)):
        return z.boolean(True)
    if isinstance(expr, (Neg, Not)):
        return defined(expr.operand, lookup, finite)
    if isinstance(expr, BinOp):
        parts = [defined(expr.left, lookup, finite), defined(expr.right, lookup, finite)]
        if expr.op in ("/", "%"):
            parts.append(encode_num(expr.right, lookup) != 0)
        return z.and_(parts)
    if isinstance(expr, Call):
        return z.and_(defined(a, lookup, finite) for a in expr.args)
    if isinstance(expr, BoolOp):
        # D(a and rest) = D(a) and (a -> D(rest)); D(a or rest) = D(a) and (not a -> D(rest))
        result: Formula = z.boolean(True)
        for item in reversed(expr.operands):
            cond = encode_bool(item, lookup)
            guard = cond if expr.op == "and" else z.not_(cond)
            result = z.and_([defined(item, lookup, finite), z.implies(guard, result)])
        return result
    if isinstance(expr, Compare):
        terms = [encode_num(e, lookup) for e in expr.operands]
        # D(o0) and D(o1) and (o0 op1 o1 -> D(o2) and (o1 op2 o2 -> ...))
        result = z.boolean(True)
        for i in range(len(expr.ops) - 1, 0, -1):
            link = _cmp(expr.ops[i - 1], terms[i - 1], terms[i])
            result = z.implies(
                link, z.and_([defined(expr.operands[i + 1], lookup, finite), result])
            )
        return z.and_(
            [
                defined(expr.operands[0], lookup, finite),
                defined(expr.operands[1], lookup, finite),
                result,
            ]
        )
    return z.boolean(True)


def may_be_unbounded(name: str) -> bool:
    """Whether a name may have no finite value (a latency or a wait; which of
    them really may is the unrolling's :meth:`finite`)."""
    return name.endswith((".latency_ms", ".wait_ms"))


def needs_guard(expr: Expr | None) -> bool:
    """Whether ``expr`` may be undefined somewhere: it divides, or reads a
    name that may have no finite value."""
    if expr is None:
        return False
    return has_division(expr) or any(may_be_unbounded(n) for n in names(expr))


def has_division(expr: Expr | None) -> bool:
    if expr is None:
        return False
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, BinOp):
            if node.op in ("/", "%"):
                return True
            stack.extend((node.left, node.right))
        elif isinstance(node, (Neg, Not)):
            stack.append(node.operand)
        elif isinstance(node, (Compare, BoolOp)):
            stack.extend(node.operands)
        elif isinstance(node, Call):
            stack.extend(node.args)
    return False
