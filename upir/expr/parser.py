"""Parser of the expression language: text -> typed AST (DESIGN.md section 3).

A hand-written whitelist tokenizer (:mod:`upir.expr.tokens`) feeds a precedence-
climbing parser. Nothing is ever evaluated or compiled: the only thing that leaves
this module is a tree of the frozen nodes of :mod:`upir.expr.ast`.

Precedence, loosest first, as in Python::

    or  <  and  <  not  <  comparisons (chained)  <  + -  <  * / %  <  unary -  <  atoms

``a < b <= c`` is one chained :class:`Compare`; ``a and b and c`` is one flattened
:class:`BoolOp` (a parenthesized ``(a and b) and c`` stays nested, so printing and
re-parsing always gives back the same tree). Literals are never folded: ``-5`` is
``Neg(Num(5))`` and ``1 / 3`` is a :class:`BinOp`, so the tree is what the user wrote.
The one constant check: dividing (or taking ``%``) by the literal ``0`` is an error.

Types are checked while parsing (arithmetic and comparisons on numbers, ``and``,
``or``, ``not`` on booleans), so every tree this module returns is well-typed.

Every problem raises :class:`~upir.errors.ExpressionError` with the field path, a
readable message and the 0-based character position. Nesting is bounded *before*
recursing (see :class:`~upir.expr.limits.ExprLimits`), so hostile input such as
5,000 nested parentheses fails fast instead of exhausting the Python stack.
"""

from __future__ import annotations

from upir.errors import ExpressionError
from upir.expr.ast import (
    BOOL,
    NUM,
    ArithOp,
    BinOp,
    BoolLit,
    BoolOp,
    BoolOpName,
    Call,
    Compare,
    CompareOp,
    Expr,
    ExprType,
    FuncName,
    Name,
    Neg,
    Not,
    Num,
)
from upir.expr.limits import DEFAULT_LIMITS, ExprLimits
from upir.expr.tokens import Token, next_token

# Binding strength of each level; a higher number binds tighter.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY = 1, 2, 3, 4, 5, 6, 7

_ARITH: dict[str, tuple[ArithOp, int]] = {
    "+": ("+", _ADD),
    "-": ("-", _ADD),
    "*": ("*", _MUL),
    "/": ("/", _MUL),
    "%": ("%", _MUL),
}
_COMPARE: dict[str, CompareOp] = {
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "==": "==",
    "!=": "!=",
}
_BOOLOPS: dict[str, tuple[BoolOpName, int]] = {"or": ("or", _OR), "and": ("and", _AND)}
_FUNCS: dict[str, FuncName] = {"min": "min", "max": "max", "abs": "abs"}

# A parsed sub-expression with the height of its tree (a leaf has height 1).
_Parsed = tuple[Expr, int]


def _is_literal_zero(expr: Expr) -> bool:
    """``0``, ``-0``, ``--0.0``: a divisor that is zero whatever the names' values."""
    while isinstance(expr, Neg):
        expr = expr.operand
    return isinstance(expr, Num) and expr.value == 0


def _kind_name(kind: ExprType) -> str:
    return "a number" if kind == NUM else "a boolean"


class _Parser:
    """One parse of one text; not reusable."""

    def __init__(self, text: str, field: str, limits: ExprLimits) -> None:
        self.text = text
        self.field = field
        self.limits = limits
        self.nesting = 0
        self.nodes = 0
        self.tok: Token = next_token(text, 0, field, limits)

    # -- helpers ------------------------------------------------------------------

    def error(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(self.field, message, pos)

    def advance(self) -> Token:
        tok = self.tok
        end = tok.pos + len(tok.text)
        self.tok = next_token(self.text, end, self.field, self.limits)
        return tok

    def too_deep(self, pos: int) -> ExpressionError:
        return self.error(f"expression too deeply nested (limit {self.limits.max_depth})", pos)

    def enter(self, pos: int) -> None:
        """Count one more level of nesting before recursing into it."""
        self.nesting += 1
        if self.nesting > self.limits.max_depth:
            raise self.too_deep(pos)

    def leave(self) -> None:
        self.nesting -= 1

    def node(self, expr: Expr, height: int, pos: int) -> _Parsed:
        """Account for a new node: the node count and the tree height are limited."""
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.error(
                f"expression too large: more than {self.limits.max_nodes} nodes "
                f"(limit {self.limits.max_nodes})",
                pos,
            )
        if height > self.limits.max_depth:
            raise self.too_deep(pos)
        return expr, height

    def require(self, item: _Parsed, want: ExprType, what: str) -> None:
        expr = item[0]
        if expr.type != want:
            raise self.error(f"{what}, got {_kind_name(expr.type)}", expr.pos)

    # -- grammar ------------------------------------------------------------------

    def parse(self, expect: ExprType | None) -> Expr:
        if not self.text.strip(" \t\r\n"):
            raise self.error("empty expression", 0)
        expr, _ = self.expr(0)
        if self.tok.kind == ")":
            raise self.error("unmatched ')'", self.tok.pos)
        if self.tok.kind != "eof":
            raise self.error(
                f"expected an operator or the end of the expression, got {self.tok.describe()}",
                self.tok.pos,
            )
        if expect == BOOL and expr.type != BOOL:
            raise self.error("expected a boolean expression, got a number", expr.pos)
        if expect == NUM and expr.type != NUM:
            raise self.error("expected a number, got a boolean expression", expr.pos)
        return expr

    def expr(self, min_prec: int) -> _Parsed:
        """An expression whose infix operators all bind at least as tight as
        ``min_prec``; left-associative chains are built in a loop, not by recursion."""
        left = self.prefix(min_prec)
        while True:
            kind = self.tok.kind
            if kind in _BOOLOPS:
                op, prec = _BOOLOPS[kind]
                if prec < min_prec:
                    return left
                left = self.boolop(left, op, prec)
            elif kind in _COMPARE:
                if _CMP < min_prec:
                    return left
                left = self.compare(left)
            elif kind in _ARITH:
                arith, prec = _ARITH[kind]
                if prec < min_prec:
                    return left
                what = f"'{arith}' needs numbers"
                self.require(left, NUM, what)
                optok = self.advance()
                self.enter(optok.pos)
                right = self.expr(prec + 1)
                self.leave()
                self.require(right, NUM, what)
                if arith in ("/", "%") and _is_literal_zero(right[0]):
                    word = "division" if arith == "/" else "modulo"
                    raise self.error(f"{word} by zero", optok.pos)
                node = BinOp(arith, left[0], right[0], pos=left[0].pos)
                left = self.node(node, max(left[1], right[1]) + 1, optok.pos)
            else:
                return left

    def boolop(self, first: _Parsed, op: BoolOpName, prec: int) -> _Parsed:
        what = f"'{op}' needs boolean operands"
        self.require(first, BOOL, what)
        operands = [first]
        while self.tok.kind == op:
            optok = self.advance()
            self.enter(optok.pos)
            operand = self.expr(prec + 1)
            self.leave()
            self.require(operand, BOOL, what)
            operands.append(operand)
        node = BoolOp(op, tuple(e for e, _ in operands), pos=first[0].pos)
        return self.node(node, max(h for _, h in operands) + 1, first[0].pos)

    def compare(self, first: _Parsed) -> _Parsed:
        operands = [first]
        ops: list[CompareOp] = []
        while self.tok.kind in _COMPARE:
            optok = self.advance()
            op = _COMPARE[optok.kind]
            what = f"'{op}' compares numbers"
            self.require(operands[-1], NUM, what)
            self.enter(optok.pos)
            operand = self.expr(_CMP + 1)
            self.leave()
            self.require(operand, NUM, what)
            ops.append(op)
            operands.append(operand)
        node = Compare(tuple(ops), tuple(e for e, _ in operands), pos=first[0].pos)
        return self.node(node, max(h for _, h in operands) + 1, first[0].pos)

    def prefix(self, min_prec: int) -> _Parsed:
        tok = self.tok
        if tok.kind == "-":
            self.advance()
            self.enter(tok.pos)
            operand = self.expr(_UNARY)
            self.leave()
            self.require(operand, NUM, "unary '-' needs a number")
            return self.node(Neg(operand[0], pos=tok.pos), operand[1] + 1, tok.pos)
        if tok.kind == "not":
            if min_prec > _NOT:
                raise self.error("'not' must be put in parentheses here", tok.pos)
            self.advance()
            self.enter(tok.pos)
            operand = self.expr(_NOT)
            self.leave()
            self.require(operand, BOOL, "'not' needs a boolean operand")
            return self.node(Not(operand[0], pos=tok.pos), operand[1] + 1, tok.pos)
        if tok.kind == "(":
            self.advance()
            self.enter(tok.pos)
            inner = self.expr(0)
            self.leave()
            if self.tok.kind == "eof":
                raise self.error(f"missing ')' to close '(' at position {tok.pos}", self.tok.pos)
            if self.tok.kind != ")":
                raise self.error(
                    f"expected ')' to close '(' at position {tok.pos}, got {self.tok.describe()}",
                    self.tok.pos,
                )
            self.advance()
            return inner
        if tok.kind == "num" and tok.value is not None:
            self.advance()
            return self.node(Num(tok.value, pos=tok.pos), 1, tok.pos)
        if tok.kind == "name":
            self.advance()
            if self.tok.kind == "(":
                raise self.error(
                    f"unknown function '{tok.text}' (only min, max and abs exist)", tok.pos
                )
            return self.node(Name(tok.text, pos=tok.pos), 1, tok.pos)
        if tok.kind in ("true", "false"):
            self.advance()
            return self.node(BoolLit(tok.kind == "true", pos=tok.pos), 1, tok.pos)
        if tok.kind == "func":
            return self.call()
        raise self.error(f"expected an expression, got {tok.describe()}", tok.pos)

    def call(self) -> _Parsed:
        ftok = self.advance()
        func = _FUNCS[ftok.text]
        if self.tok.kind != "(":
            usage = "abs(x)" if func == "abs" else f"{func}(a, b, ...)"
            raise self.error(f"'{func}' must be called, like {usage}", ftok.pos)
        opener = self.advance()
        self.enter(opener.pos)
        args: list[_Parsed] = []
        if self.tok.kind != ")":
            while True:
                arg = self.expr(0)
                self.require(arg, NUM, f"{func}() takes numbers")
                args.append(arg)
                if self.tok.kind == ",":
                    self.advance()
                elif self.tok.kind == ")":
                    break
                elif self.tok.kind == "eof":
                    raise self.error(
                        f"missing ')' to close '{func}(' at position {ftok.pos}", self.tok.pos
                    )
                else:
                    raise self.error(
                        f"expected ',' or ')' in {func}(), got {self.tok.describe()}",
                        self.tok.pos,
                    )
        self.advance()
        self.leave()
        if func == "abs" and len(args) != 1:
            raise self.error(f"abs() takes exactly 1 argument, got {len(args)}", ftok.pos)
        if func != "abs" and len(args) < 2:
            raise self.error(f"{func}() needs at least 2 arguments, got {len(args)}", ftok.pos)
        node = Call(func, tuple(e for e, _ in args), pos=ftok.pos)
        return self.node(node, max(h for _, h in args) + 1, ftok.pos)


def parse(
    text: str,
    *,
    field: str,
    expect: ExprType | None = BOOL,
    limits: ExprLimits = DEFAULT_LIMITS,
) -> Expr:
    """Parse and type-check one expression.

    Args:
        text: the expression source. Anything that is not a ``str`` is rejected.
        field: the resource field path the text came from (for error messages),
            e.g. ``spec.specification.invariants[0].predicate``.
        expect: ``"bool"`` (predicates, assumptions) or ``"num"`` requires that
            result type; ``None`` accepts either.
        limits: size limits; see :class:`~upir.expr.limits.ExprLimits`.

    Returns:
        The well-typed AST. Node ``pos`` values are 0-based offsets into ``text``.

    Raises:
        ExpressionError: the text is not a valid expression of the expected type,
            or exceeds a limit. Nothing else is raised for any string input.
    """
    if expect not in (BOOL, NUM, None):
        raise ValueError(f"expect must be 'bool', 'num' or None, got {expect!r}")
    if not isinstance(text, str):
        raise ExpressionError(
            field, f"expression must be a string, got {type(text).__name__}", None
        )
    if len(text) > limits.max_length:
        raise ExpressionError(
            field,
            f"expression too long: {len(text)} characters (limit {limits.max_length})",
            limits.max_length,
        )
    try:
        return _Parser(text, field, limits).parse(expect)
    except RecursionError:
        # Unreachable with limits.max_depth <= HARD_MAX_DEPTH unless the caller was
        # already close to the interpreter's recursion limit; still never a traceback.
        raise ExpressionError(
            field, f"expression too deeply nested (limit {limits.max_depth})", 0
        ) from None
