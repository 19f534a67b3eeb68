"""Exact evaluation: examples, errors, and agreement with Python Fraction arithmetic."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upir.errors import PermanentError
from upir.expr import (
    BinOp,
    BoolLit,
    BoolOp,
    Call,
    Compare,
    EvaluationError,
    Expr,
    Name,
    Neg,
    Not,
    Num,
    evaluate,
    parse,
)

F = Fraction
ENV = {"a.x": F(7), "b.y": F(-3), "c.z": F(1, 2), "d.zero": F(0)}


def ev(text: str, env: dict[str, Fraction] | None = None) -> Fraction | bool:
    return evaluate(parse(text, field="f", expect=None), ENV if env is None else env)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", F(7)),
        ("(1 + 2) * 3", F(9)),
        ("1 / 3", F(1, 3)),
        ("0.1 + 0.2", F(3, 10)),
        ("a.x / b.y", F(-7, 3)),
        ("a.x % 3", F(1)),
        ("-a.x % 3", F(2)),
        ("a.x % -3", F(-2)),
        ("-a.x % -3", F(-1)),
        ("c.z % 0.2", F(1, 10)),
        ("-c.z % 0.2", F(1, 10)),
        ("-a.x", F(-7)),
        ("- -a.x", F(7)),
        ("min(a.x, b.y, c.z)", F(-3)),
        ("max(a.x, b.y, c.z)", F(7)),
        ("abs(b.y)", F(3)),
        ("abs(c.z)", F(1, 2)),
        ("2.5e-2 * 40", F(1)),
    ],
)
def test_arithmetic_is_exact(text: str, value: Fraction) -> None:
    result = ev(text)
    assert result == value
    assert isinstance(result, Fraction)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a.x > b.y", True),
        ("a.x < b.y", False),
        ("b.y < c.z < a.x", True),
        ("b.y < a.x < c.z", False),
        ("1 <= 1 <= 1 == 1 != 2", True),
        ("0.1 + 0.2 == 0.3", True),
        ("a.x >= 7 and b.y <= -3", True),
        ("a.x > 7 or b.y < -3", False),
        ("not a.x > 7", True),
        ("true and not false", True),
        ("false or false or true", True),
    ],
)
def test_predicates(text: str, value: bool) -> None:
    assert ev(text) is value


def test_int_values_are_accepted() -> None:
    assert evaluate(parse("a.x * 2", field="f", expect="num"), {"a.x": 3}) == 6  # type: ignore[dict-item]


def test_missing_name_is_an_evaluation_error_naming_it() -> None:
    expr = parse("a.x + nope.q > 0", field="f")
    with pytest.raises(EvaluationError, match="no value for 'nope.q'") as info:
        evaluate(expr, ENV)
    assert isinstance(info.value, PermanentError)
    assert info.value.expr == Name("nope.q")
    assert info.value.expr.pos == 6


@pytest.mark.parametrize("value", [1.5, True, "3", None])
def test_inexact_values_are_rejected(value: object) -> None:
    with pytest.raises(EvaluationError, match="must be an exact number"):
        evaluate(Name("a.x"), {"a.x": value})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.x / d.zero > 0", "division by zero in 'a.x / d.zero'"),
        ("a.x % (d.zero * 2) > 0", r"modulo by zero in 'a.x % \(d.zero \* 2\)'"),
        ("1 / (a.x - 7) > 0", r"division by zero in '1 / \(a.x - 7\)'"),
    ],
)
def test_division_by_zero_names_the_expression(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        ev(text)


def test_boolean_operators_short_circuit_like_python() -> None:
    assert ev("d.zero == 0 or 1 / d.zero > 2") is True
    assert ev("d.zero != 0 and 1 / d.zero > 2") is False
    assert ev("1 > 2 > 1 / d.zero") is False
    with pytest.raises(EvaluationError):
        ev("d.zero == 0 and 1 / d.zero > 2")


# -- hypothesis: agreement with Python's own Fraction arithmetic ---------------------

# Each strategy yields (tree, thunk); the thunk computes the expected value with
# Python's operators on Fractions (ZeroDivisionError for a zero divisor) and keeps
# Python's left-to-right short-circuit order.
Thunk = Callable[[], Fraction | bool]
Pair = tuple[Expr, Thunk]

VALUES = {"a.x": F(7, 2), "b.y": F(-3), "c.z": F(0), "d.w": F(5, 7)}
_ARITH: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_CMP: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _leaf_num(value: Fraction) -> Pair:
    return Num(value), lambda: value


def _leaf_name(name: str) -> Pair:
    return Name(name), lambda: VALUES[name]


def _neg(pair: Pair) -> Pair:
    return Neg(pair[0]), lambda: -pair[1]()  # type: ignore[operator]


def _binop(op: str, left: Pair, right: Pair) -> Pair:
    fn = _ARITH[op]
    return BinOp(op, left[0], right[0]), lambda: fn(left[1](), right[1]())  # type: ignore[arg-type]


def _call(func: str, args: list[Pair]) -> Pair:
    builtin = {"min": min, "max": max, "abs": abs}[func]
    if func == "abs":
        args = args[:1]
        return Call("abs", (args[0][0],)), lambda: abs(args[0][1]())  # type: ignore[arg-type]
    return Call(func, tuple(a[0] for a in args)), lambda: builtin(a[1]() for a in args)  # type: ignore[call-overload]


SMALL = st.fractions(min_value=-20, max_value=20, max_denominator=12)
NUM_LEAF = st.one_of(SMALL.map(_leaf_num), st.sampled_from(sorted(VALUES)).map(_leaf_name))


def _num_ext(inner: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    return st.one_of(
        inner.map(_neg),
        st.builds(_binop, st.sampled_from(sorted(_ARITH)), inner, inner),
        st.builds(
            _call, st.sampled_from(["min", "max", "abs"]), st.lists(inner, min_size=2, max_size=3)
        ),
    )


NUM_PAIRS = st.recursive(NUM_LEAF, _num_ext, max_leaves=8)


@st.composite
def _compare(draw: st.DrawFn) -> Pair:
    operands: list[Pair] = draw(st.lists(NUM_PAIRS, min_size=2, max_size=4))
    ops = draw(
        st.lists(
            st.sampled_from(sorted(_CMP)), min_size=len(operands) - 1, max_size=len(operands) - 1
        )
    )

    def thunk() -> bool:
        # Python's chained comparison: each operand once, stop at the first false link.
        left = operands[0][1]()
        for op, (_, right_thunk) in zip(ops, operands[1:], strict=True):
            right = right_thunk()
            if not _CMP[op](left, right):  # type: ignore[arg-type]
                return False
            left = right
        return True

    return Compare(tuple(ops), tuple(o[0] for o in operands)), thunk  # type: ignore[arg-type]


def _bool_ext(inner: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    def boolop(op: str, items: list[Pair]) -> Pair:
        if op == "and":
            return BoolOp("and", tuple(i[0] for i in items)), lambda: all(i[1]() for i in items)
        return BoolOp("or", tuple(i[0] for i in items)), lambda: any(i[1]() for i in items)

    return st.one_of(
        inner.map(lambda p: (Not(p[0]), lambda: not p[1]())),
        st.builds(boolop, st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)),
    )


BOOL_PAIRS = st.recursive(
    st.one_of(st.booleans().map(lambda b: (BoolLit(b), lambda: b)), _compare()),
    _bool_ext,
    max_leaves=4,
)


def _check(pair: Pair) -> None:
    expr, thunk = pair
    try:
        expected = thunk()
    except ZeroDivisionError:
        with pytest.raises(EvaluationError, match="by zero"):
            evaluate(expr, VALUES)
        return
    result = evaluate(expr, VALUES)
    assert result == expected
    assert isinstance(result, bool) == isinstance(expected, bool)


@settings(max_examples=150, deadline=None)
@given(NUM_PAIRS)
def test_numeric_evaluation_agrees_with_python_fractions(pair: Pair) -> None:
    _check(pair)


@settings(max_examples=100, deadline=None)
@given(BOOL_PAIRS)
def test_predicate_evaluation_agrees_with_python(pair: Pair) -> None:
    _check(pair)


@settings(max_examples=100, deadline=None)
@given(st.fractions(max_denominator=50), st.fractions(max_denominator=50).filter(bool))
def test_modulo_is_floored(a: Fraction, b: Fraction) -> None:
    result = evaluate(BinOp("%", Num(a), Num(b)), {})
    assert result == a - b * math.floor(a / b)
    assert result == a % b
    assert result == 0 or (result > 0) == (b > 0)


def test_constant_value_of_expressions_without_names() -> None:
    from fractions import Fraction

    from upir.expr import constant_value, parse

    assert constant_value(parse("2 * 3 + 1", field="t", expect=None)) == Fraction(7)
    assert constant_value(parse("1 > 2", field="t")) is False
    assert constant_value(parse("not false", field="t")) is True
    assert constant_value(parse("env.x > 2", field="t")) is None
