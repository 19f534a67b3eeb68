"""Printing: minimal parentheses, exact numbers, and print -> parse round trips."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from upir.expr import (
    DEFAULT_LIMITS,
    BinOp,
    BoolLit,
    BoolOp,
    Call,
    Compare,
    EvaluationError,
    Expr,
    ExprLimits,
    Name,
    Neg,
    Not,
    Num,
    children,
    evaluate,
    format_number,
    names,
    parse,
    to_source,
)
from upir.expr.tokens import RESERVED

A, B, C = Name("a.x"), Name("b.y"), Name("c.z")


def n(value: str | int) -> Num:
    return Num(Fraction(value))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "0"),
        ("7", "7"),
        ("1500", "1500"),
        ("1/2", "0.5"),
        ("1/40", "0.025"),
        ("1/1000000", "0.000001"),
        ("1/1000000000000000", "0.000000000000001"),
        ("1000000000000000", "1000000000000000"),
        ("123456789123456789/1000000000", "123456789.123456789"),
        ("-5/2", "-2.5"),
        ("1/3", "(1 / 3)"),
        ("-2/7", "(-2 / 7)"),
        ("1/6", "(1 / 6)"),
    ],
)
def test_format_number_is_exact(value: str, text: str) -> None:
    assert format_number(Fraction(value)) == text
    if not text.startswith("("):
        assert Fraction(text) == Fraction(value)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (BinOp("+", A, BinOp("*", B, C)), "a.x + b.y * c.z"),
        (BinOp("*", BinOp("+", A, B), C), "(a.x + b.y) * c.z"),
        (BinOp("-", BinOp("-", A, B), C), "a.x - b.y - c.z"),
        (BinOp("-", A, BinOp("-", B, C)), "a.x - (b.y - c.z)"),
        (BinOp("+", A, BinOp("+", B, C)), "a.x + (b.y + c.z)"),
        (BinOp("/", A, BinOp("*", B, C)), "a.x / (b.y * c.z)"),
        (BinOp("%", BinOp("%", A, B), C), "a.x % b.y % c.z"),
        (BinOp("%", A, BinOp("%", B, C)), "a.x % (b.y % c.z)"),
        (BinOp("*", Neg(A), B), "-a.x * b.y"),
        (Neg(BinOp("*", A, B)), "-(a.x * b.y)"),
        (BinOp("-", A, Neg(B)), "a.x - -b.y"),
        (Neg(Neg(A)), "- -a.x"),
        (Neg(n(5)), "-5"),
        (Compare(("<=", "<="), (n(5), Name("env.x"), n(40))), "5 <= env.x <= 40"),
        (Compare(("<",), (BinOp("+", A, n(1)), B)), "a.x + 1 < b.y"),
        (Not(Compare(("<",), (A, B))), "not a.x < b.y"),
        (Not(BoolOp("and", (BoolLit(True), BoolLit(False)))), "not (true and false)"),
        (Not(Not(BoolLit(True))), "not not true"),
        (
            BoolOp("or", (BoolOp("and", (BoolLit(True), BoolLit(False))), BoolLit(True))),
            "true and false or true",
        ),
        (
            BoolOp("and", (BoolOp("or", (BoolLit(True), BoolLit(False))), BoolLit(True))),
            "(true or false) and true",
        ),
        (
            BoolOp("and", (BoolOp("and", (BoolLit(True), BoolLit(False))), BoolLit(True))),
            "(true and false) and true",
        ),
        (BoolOp("and", (Not(BoolLit(True)), BoolLit(False))), "not true and false"),
        (Call("min", (A, BinOp("+", B, C))), "min(a.x, b.y + c.z)"),
        (Call("abs", (Neg(A),)), "abs(-a.x)"),
        (BinOp("*", A, n("1/3")), "a.x * (1 / 3)"),
        (BinOp("*", A, n(-3)), "a.x * -3"),
    ],
)
def test_minimal_parentheses(expr: Expr, text: str) -> None:
    assert to_source(expr) == text


@pytest.mark.parametrize(
    "text",
    [
        "gateway.timeout_ms * (gateway.retries + 1) <= 2000",
        "5 <= env.gateway_service_ms <= 40",
        "not (a.x > 1 or b.y < 2) and c.z == 3",
        "max(a.x, b.y) - min(a.x, -b.y) / abs(c.z % 7) != 0.125",
        "(a.x > 1 or b.y > 1) or (c.z > 1 or true)",
        "-(-(a.x)) > --b.y",
        "a.x - (b.y - (c.z - 1)) >= 0.000000000000001",
    ],
)
def test_examples_round_trip(text: str) -> None:
    expr = parse(text, field="f")
    printed = to_source(expr)
    assert parse(printed, field="f") == expr
    assert to_source(parse(printed, field="f")) == printed


# -- hypothesis: every well-typed tree the parser can produce round-trips ----------

_IDENT = st.from_regex(r"_?[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in RESERVED
)
NAMES = st.builds(lambda a, b: Name(f"{a}.{b}"), _IDENT, _IDENT)


def _literal(significant: int, scale: int) -> Fraction:
    return Fraction(significant) * Fraction(10) ** scale


def _within_limits(value: Fraction) -> bool:
    return value == 0 or Fraction(1, 10**15) <= value <= 10**15


# Non-negative finite decimals with at most 18 significant digits inside the literal
# limits: exactly the values a numeric literal can denote.
LITERALS = st.one_of(
    st.integers(0, 1000).map(Fraction),
    st.builds(_literal, st.integers(0, 10**18 - 1), st.integers(-32, 15)).filter(_within_limits),
)
NUMS = LITERALS.map(Num)


def _not_literal_zero(expr: Expr) -> bool:
    while isinstance(expr, Neg):
        expr = expr.operand
    return not (isinstance(expr, Num) and expr.value == 0)


def _num_expr(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        inner.map(Neg),
        st.builds(BinOp, st.sampled_from(["+", "-", "*"]), inner, inner),
        st.builds(BinOp, st.sampled_from(["/", "%"]), inner, inner.filter(_not_literal_zero)),
        st.builds(
            Call, st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=4)
        ).map(lambda c: Call(c.func, tuple(c.args))),
        inner.map(lambda e: Call("abs", (e,))),
    )


NUM_EXPR: st.SearchStrategy[Expr] = st.recursive(st.one_of(NUMS, NAMES), _num_expr, max_leaves=12)
CMP_OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


@st.composite
def _compare(draw: st.DrawFn) -> Expr:
    operands = draw(st.lists(NUM_EXPR, min_size=2, max_size=4))
    ops = draw(st.lists(CMP_OPS, min_size=len(operands) - 1, max_size=len(operands) - 1))
    return Compare(tuple(ops), tuple(operands))


def _bool_expr(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        inner.map(Not),
        st.builds(
            lambda op, items: BoolOp(op, tuple(items)),
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=2, max_size=4),
        ),
    )


BOOL_EXPR: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(st.booleans().map(BoolLit), _compare()), _bool_expr, max_leaves=8
)
EXPRS = st.one_of(NUM_EXPR, BOOL_EXPR)


def _height(expr: Expr) -> int:
    return 1 + max((_height(c) for c in children(expr)), default=0)


def _size(expr: Expr) -> int:
    return 1 + sum(_size(c) for c in children(expr))


def _fits(expr: Expr, text: str, limits: ExprLimits = DEFAULT_LIMITS) -> bool:
    return (
        len(text) <= limits.max_length
        and _height(expr) <= limits.max_depth
        and _size(expr) <= limits.max_nodes
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS)
def test_print_then_parse_gives_an_equal_tree(expr: Expr) -> None:
    text = to_source(expr)
    assume(_fits(expr, text))
    parsed = parse(text, field="f", expect=expr.type)
    assert parsed == expr
    assert to_source(parsed) == text


@settings(max_examples=100, deadline=None)
@given(LITERALS)
def test_every_literal_value_prints_as_an_accepted_literal(value: Fraction) -> None:
    text = format_number(value)
    assert parse(text, field="f", expect="num") == Num(value)


# Any Fraction (negative, non-decimal, beyond the literal limits) prints to text that
# parses to a tree of exactly the same value, though not necessarily the same shape.
ANY_NUM = st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**4).map(Num)
ANY_NUM_EXPR: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(ANY_NUM, NAMES), _num_expr, max_leaves=10
)


@settings(max_examples=100, deadline=None)
@given(ANY_NUM_EXPR, st.fractions(min_value=-50, max_value=50, max_denominator=20))
def test_any_number_prints_to_the_same_value(expr: Expr, value: Fraction) -> None:
    text = to_source(expr)
    limits = ExprLimits(max_length=20_000, max_nodes=5000, max_depth=128)
    assume(_fits(expr, text, limits))
    parsed = parse(text, field="f", expect="num", limits=limits)
    env = dict.fromkeys(names(expr), value)
    try:
        expected = evaluate(expr, env)
    except EvaluationError:  # a zero divisor: the reparsed tree must fail the same way
        with pytest.raises(EvaluationError):
            evaluate(parsed, env)
        return
    assert evaluate(parsed, env) == expected
