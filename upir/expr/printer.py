"""Printing an AST back to source text.

:func:`to_source` writes the fewest parentheses that keep the tree's shape, so
``parse(to_source(e)) == e`` for every tree the parser can produce (and, more
generally, every well-typed tree whose :class:`Num` values are non-negative finite
decimals within the literal limits).

Numbers are printed exactly, as plain decimals without an exponent (``0.000001``,
``1500``): significant digits and magnitude are properties of the value, so the
printed form of a literal the parser accepted is always accepted again.

The parser never folds constants, so some :class:`Num` values can only come from
code (the synthesizer, a counterexample, a constraint bound), never from text:

* a negative value prints as unary minus (``-5``), which re-parses to
  ``Neg(Num(5))``;
* a rational that is not a finite decimal, such as ``1/3``, prints as the exact
  division ``(1 / 3)``, which re-parses to a :class:`BinOp`.

Both re-parse to a tree with exactly the same value (see :mod:`upir.expr.evaluate`),
only not the same shape; that is the documented price of not folding constants.
"""

from __future__ import annotations

from fractions import Fraction

from upir.expr.ast import BinOp, BoolLit, BoolOp, Compare, Expr, Name, Neg, Not, Num

# Binding strength of each printed form; mirrors upir.expr.parser.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _ATOM = 1, 2, 3, 4, 5, 6, 7, 8
_ARITH_LEVEL = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "%": _MUL}
_BOOL_LEVEL = {"or": _OR, "and": _AND}


def format_number(value: Fraction | int) -> str:
    """The exact source text of a number: a plain decimal when the value is a finite
    decimal (``2.5``, ``-0.001``), else the exact division ``(p / q)``."""
    frac = Fraction(value)
    sign = "-" if frac < 0 else ""
    num, den = abs(frac.numerator), frac.denominator
    twos = fives = 0
    rest = den
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"({sign}{num} / {den})"
    # den divides 10**scale, and scale is the least such power, so the last printed
    # digit is never a redundant zero.
    scale = max(twos, fives)
    digits = str(num * 10**scale // den)
    if scale == 0:
        return sign + digits
    digits = digits.rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def _level(expr: Expr) -> int:
    if isinstance(expr, BoolOp):
        return _BOOL_LEVEL[expr.op]
    if isinstance(expr, Not):
        return _NOT
    if isinstance(expr, Compare):
        return _CMP
    if isinstance(expr, BinOp):
        return _ARITH_LEVEL[expr.op]
    if isinstance(expr, Neg):
        return _UNARY
    if isinstance(expr, Num) and expr.value < 0:
        return _UNARY
    return _ATOM


def _wrap(expr: Expr, min_level: int) -> str:
    """``expr`` printed, in parentheses when it binds looser than ``min_level``."""
    text = to_source(expr)
    return text if _level(expr) >= min_level else f"({text})"


def to_source(expr: Expr) -> str:
    """Source text that parses back to ``expr`` (see the module docstring for the
    exact guarantee). Recursion depth is the tree height, which the parser bounds."""
    if isinstance(expr, Num):
        return format_number(expr.value)
    if isinstance(expr, BoolLit):
        return "true" if expr.value else "false"
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Neg):
        operand = _wrap(expr.operand, _UNARY)
        # "- -x" rather than "--x": both parse, the first reads better.
        return f"- {operand}" if operand.startswith("-") else f"-{operand}"
    if isinstance(expr, Not):
        return f"not {_wrap(expr.operand, _NOT)}"
    if isinstance(expr, BinOp):
        level = _ARITH_LEVEL[expr.op]
        # Left-associative: the right operand needs parentheses at its own level,
        # so a - (b - c) and a * (b / c) keep their shape (and their value).
        return f"{_wrap(expr.left, level)} {expr.op} {_wrap(expr.right, level + 1)}"
    if isinstance(expr, Compare):
        # Operands of a chain bind tighter than comparisons; a nested Compare
        # (ill-typed anyway) would be parenthesized rather than merged into the chain.
        parts = [_wrap(expr.operands[0], _CMP + 1)]
        for op, right in zip(expr.ops, expr.operands[1:], strict=True):
            parts.append(op)
            parts.append(_wrap(right, _CMP + 1))
        return " ".join(parts)
    if isinstance(expr, BoolOp):
        # Strictly tighter: a nested BoolOp of the same kind keeps its parentheses,
        # because the parser only flattens unparenthesized chains.
        level = _BOOL_LEVEL[expr.op]
        return f" {expr.op} ".join(_wrap(item, level + 1) for item in expr.operands)
    return f"{expr.func}({', '.join(to_source(arg) for arg in expr.args)})"
