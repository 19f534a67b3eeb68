"""Interval arithmetic and three-valued predicate evaluation: every operation's
range contains the exact result for every point in its inputs, and TRUE/FALSE
are only answered when every point agrees."""

from __future__ import annotations

import math
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from upir.expr import evaluate, parse
from upir.verification import intervals as iv
from upir.verification.intervals import INF, Interval, Truth

small = st.fractions(min_value=-50, max_value=50, max_denominator=8)


@st.composite
def interval_and_point(draw: st.DrawFn) -> tuple[Interval, F]:
    a, b = sorted([draw(small), draw(small)])
    x = draw(st.fractions(min_value=a, max_value=b, max_denominator=16))
    return Interval(a, b), x


def inside(i: Interval | None, x: F) -> bool:
    return i is not None and i.lo <= x <= i.hi


@settings(max_examples=50, deadline=None)
@given(interval_and_point(), interval_and_point())
def test_arithmetic_contains_point_results(a: tuple[Interval, F], b: tuple[Interval, F]) -> None:
    (ia, x), (ib, y) = a, b
    assert inside(iv.add(ia, ib), x + y)
    assert inside(iv.sub(ia, ib), x - y)
    assert inside(iv.mul(ia, ib), x * y)
    assert inside(iv.neg(ia), -x)
    assert inside(iv.absolute(ia), abs(x))
    assert inside(iv.minimum([ia, ib]), min(x, y))
    assert inside(iv.maximum([ia, ib]), max(x, y))
    if ib.contains_zero():
        assert iv.div(ia, ib) is None
        assert iv.mod(ia, ib) is None
    else:
        assert inside(iv.div(ia, ib), x / y)
        assert inside(iv.mod(ia, ib), x - y * math.floor(x / y))


def test_unbounded_ends() -> None:
    a = Interval(F(2), INF)
    assert iv.mul(a, Interval.point(0)) == Interval.point(0)
    assert iv.add(a, Interval.point(1)).hi == INF
    assert iv.div(Interval.point(1), a) == Interval(F(0), F(1, 2))


PREDICATES = [
    "env.x <= 10",
    "env.x < env.y",
    "env.x == env.y or env.y > 3",
    "not (env.x > 2) and env.y >= -1",
    "1 / env.x > 0",
    "env.x == 0 or 10 / env.x >= 1",
    "min(env.x, env.y) <= max(env.x, 3) < 20",
    "abs(env.x - env.y) != 0",
    "env.x % 3 < 2",
]


PARSED = {text: parse(text, field="t", expect="bool") for text in PREDICATES}


@settings(max_examples=60, deadline=None)
@given(interval_and_point(), interval_and_point(), st.sampled_from(PREDICATES))
def test_truth_agrees_with_every_point(
    a: tuple[Interval, F], b: tuple[Interval, F], text: str
) -> None:
    (ix, x), (iy, y) = a, b
    expr = PARSED[text]
    ranges = {"env.x": ix, "env.y": iy}
    verdict = iv.evaluate_truth(expr, lambda n: ranges[n])
    values = {"env.x": x, "env.y": y}
    try:
        actual: bool | None = bool(evaluate(expr, values))
    except Exception:
        actual = None  # divides by zero at this point
    if verdict is Truth.TRUE:
        assert actual is True
    elif verdict is Truth.FALSE:
        assert actual is False
    elif verdict is Truth.UNKNOWN:
        assert actual is not None


def test_division_that_may_hit_zero_is_never_proved() -> None:
    """Ranges cannot see that a guard excludes zero, so a guarded division over a
    range containing zero stays undecided (the monolithic check decides it);
    over a range without zero it is decided."""
    guarded = parse("env.x == 0 or 10 / env.x >= 2", field="t", expect="bool")
    with_zero = {"env.x": Interval(F(0), F(5))}
    without_zero = {"env.x": Interval(F(1), F(5))}
    assert iv.evaluate_truth(guarded, lambda n: with_zero[n]) is Truth.UNDEFINED
    assert iv.evaluate_truth(guarded, lambda n: without_zero[n]) is Truth.TRUE
    short_circuit = parse("env.x >= 0 or 10 / env.x >= 2", field="t", expect="bool")
    assert iv.evaluate_truth(short_circuit, lambda n: with_zero[n]) is Truth.TRUE
