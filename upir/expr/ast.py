"""Typed AST of the UPIR expression language (DESIGN.md section 3).

Nodes are frozen, hashable dataclasses. Numbers are exact rationals
(:class:`fractions.Fraction`) so printing, re-parsing and substituting
counterexamples never loses precision. ``pos`` (0-based offset in the source text)
is carried for error messages only and takes no part in equality, so an AST
compares equal to the AST of its own printed form.

Every node has a static type: :data:`NUM` or :data:`BOOL`. The parser only builds
well-typed trees (arithmetic on numbers, ``and/or/not`` on booleans, comparisons
between numbers), so later stages (the Z3 encoder, the evaluator) can trust it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, TypeAlias

ExprType: TypeAlias = Literal["num", "bool"]
NUM: ExprType = "num"
BOOL: ExprType = "bool"

ArithOp: TypeAlias = Literal["+", "-", "*", "/", "%"]
CompareOp: TypeAlias = Literal["<", "<=", ">", ">=", "==", "!="]
BoolOpName: TypeAlias = Literal["and", "or"]
FuncName: TypeAlias = Literal["min", "max", "abs"]


@dataclass(frozen=True, slots=True)
class Num:
    """A numeric literal, kept exact."""

    value: Fraction
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return NUM


@dataclass(frozen=True, slots=True)
class BoolLit:
    """``true`` or ``false``."""

    value: bool
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return BOOL


@dataclass(frozen=True, slots=True)
class Name:
    """A dotted name: ``<component>.<param>``, ``<component>.<derived>``,
    ``env.<name>`` or ``system.<quantity>``. Names are numeric."""

    name: str
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return NUM

    @property
    def scope(self) -> str:
        """The part before the first dot (a component name, ``env`` or ``system``)."""
        return self.name.split(".", 1)[0]

    @property
    def attr(self) -> str:
        """The part after the first dot."""
        return self.name.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Expr
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return NUM


@dataclass(frozen=True, slots=True)
class Not:
    """Boolean negation."""

    operand: Expr
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return BOOL


@dataclass(frozen=True, slots=True)
class BinOp:
    """Arithmetic ``left op right``."""

    op: ArithOp
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return NUM


@dataclass(frozen=True, slots=True)
class Compare:
    """A (possibly chained) comparison: ``a < b <= c`` means ``a < b and b <= c``.

    ``len(operands) == len(ops) + 1 >= 2``; all operands are numeric.
    """

    ops: tuple[CompareOp, ...]
    operands: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return BOOL


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` over two or more boolean operands (flattened)."""

    op: BoolOpName
    operands: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return BOOL


@dataclass(frozen=True, slots=True)
class Call:
    """``min(a, b, ...)``, ``max(a, b, ...)`` (two or more args) or ``abs(a)``."""

    func: FuncName
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    @property
    def type(self) -> ExprType:
        return NUM


Expr: TypeAlias = Num | BoolLit | Name | Neg | Not | BinOp | Compare | BoolOp | Call


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``expr``, left to right."""
    if isinstance(expr, (Num, BoolLit, Name)):
        return ()
    if isinstance(expr, (Neg, Not)):
        return (expr.operand,)
    if isinstance(expr, BinOp):
        return (expr.left, expr.right)
    if isinstance(expr, (Compare, BoolOp)):
        return expr.operands
    return expr.args


def names(expr: Expr) -> frozenset[str]:
    """Every dotted name the expression mentions."""
    found: set[str] = set()
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add(node.name)
        else:
            stack.extend(children(node))
    return frozenset(found)


def name_nodes(expr: Expr) -> list[Name]:
    """Every :class:`Name` occurrence, in source order, with its ``pos``; for callers
    that report unknown names at their position. Iterative, so any tree depth works."""
    found: list[Name] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.append(node)
        else:
            # Reversed so the leftmost child is visited first (pre-order = source order).
            stack.extend(reversed(children(node)))
    return found
