"""The model's equations, written once (upir.verification.equations), agree
across their three backends: every worked example of docs/model.md gives the
same value exactly, in Z3 and as a point range, and a range computed over a box
contains the exact value at every point of the box (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction as F
from typing import Any

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from upir.verification import equations as eq
from upir.verification.equations import EXACT, INTERVALS, Z3
from upir.verification.intervals import Interval


def _z3_value(term: Any) -> F:
    value = z3.simplify(term)
    assert z3.is_rational_value(value), value
    return F(value.numerator_as_long(), value.denominator_as_long())


def _everywhere(fn: Callable[..., Any], *args: F | int) -> F:
    """``fn`` through every backend on exact inputs (ints pass through as
    the retries count): all three must give the same value."""
    exact = fn(EXACT, *(EXACT.num(a) if isinstance(a, F) else a for a in args))
    symbolic = fn(Z3, *(Z3.num(a) if isinstance(a, F) else a for a in args))
    ranged = fn(INTERVALS, *(INTERVALS.num(a) if isinstance(a, F) else a for a in args))
    assert _z3_value(symbolic) == exact
    assert ranged == Interval.point(exact)
    return exact  # type: ignore[no-any-return]


def test_service_worked_example() -> None:
    """docs/model.md section 3: R=2, C=4, T=100, r=2; s=50, f=0.1."""
    a = _everywhere(eq.attempt_ms, F(50), F(100))
    p = _everywhere(eq.failure_prob, F(50), F(100), F(1, 10))
    e = _everywhere(eq.expected_attempts, p, 2)
    assert (a, p, e) == (50, F(1, 10), F(111, 100))
    success = _everywhere(eq.availability, p, 2)
    assert success == F(999, 1000)
    call = _everywhere(eq.call_ms, a, p, F(3))
    assert call == 150
    k = _everywhere(eq.calls_capacity, F(2), F(4), a, e)
    assert k == F(16000, 111)
    assert _everywhere(eq.served, F(100), k) == 100
    # model 2: the wait for one of the 8 slots at utilization 111/160
    util = F(100) / k
    assert util == F(111, 160)
    wait = _everywhere(eq.wait_ms, call, F(8), util)
    assert wait == F(150 * 7, 8) + F(461, 100) * 150 / (8 * (1 - util))
    assert round(float(wait), 2) == 413.49
    assert _everywhere(eq.latency_ms, call, wait) == wait + 150
    assert _everywhere(eq.shed_rps, F(100), k) == 0
    share = _everywhere(eq.served_share, F(100), k)
    assert share == 1
    assert _everywhere(eq.service_availability, share, success) == F(999, 1000)


def test_saturated_service_worked_example() -> None:
    """docs/model.md section 3.1: the same service offered 200 rps."""
    k = F(16000, 111)
    assert EXACT.ite(eq.saturated(EXACT, F(200), k), lambda: F(1), lambda: F(0)) == 1
    assert _everywhere(eq.shed_rps, F(200), k) == F(6200, 111)
    share = _everywhere(eq.served_share, F(200), k)
    assert share == F(80, 111)
    avail = _everywhere(eq.service_availability, share, F(999, 1000))
    assert avail == F(80 * 999, 111 * 1000)
    # exactly at capacity is saturated too; just below it is not
    assert eq.saturated(EXACT, k, k) is True
    assert eq.saturated(EXACT, k - F(1, 1000), k) is False


def test_queue_keeps_what_it_does_not_drop() -> None:
    assert _everywhere(eq.queue_pass, F(20), F(10)) == F(1, 2)
    assert _everywhere(eq.queue_pass, F(0), F(0)) == 1
    assert _everywhere(eq.loss, F(9, 10)) == F(1, 10)


def test_ln100_bound_is_above_ln100() -> None:
    import math

    assert math.log(100) < eq.LN100 < math.log(100) + F(1, 100)


def test_service_beyond_its_timeout() -> None:
    a = _everywhere(eq.attempt_ms, F(150), F(100))
    p = _everywhere(eq.failure_prob, F(150), F(100), F(1, 10))
    assert (a, p) == (100, 1)
    assert _everywhere(eq.availability, p, 2) == 0
    assert _everywhere(eq.call_ms, a, p, F(3)) == 300
    e = _everywhere(eq.expected_attempts, p, 2)
    assert _everywhere(eq.calls_capacity, F(2), F(4), a, e) == F(80, 3)


def test_queue_worked_example() -> None:
    """Section 4: capacity 10, 20 items in and at most 10 out per step."""
    length = F(0)
    rows = []
    for _ in range(3):
        out = _everywhere(eq.drained, length, F(20), F(10))
        dropped = _everywhere(eq.dropped, length, F(20), out, F(10))
        wait = _everywhere(eq.queue_wait, length, F(100))
        rows.append((length, out, dropped, wait))
        length = _everywhere(eq.next_length, length, F(20), out, F(10))
    assert rows == [(0, 10, 0, 0), (10, 10, 10, 100), (10, 10, 10, 100)]


def test_batcher_worked_example() -> None:
    """Section 5: B=10, F=50."""
    for lam, items, wait in ((100, 5, 50), (400, 10, F(45, 2)), (0, 1, 50)):
        assert _everywhere(eq.batch_items, F(lam), F(10), F(50)) == items
        assert _everywhere(eq.batch_wait, F(lam), F(10), F(50)) == wait
    assert _everywhere(eq.batch_wait, F(100), F(1), F(50)) == 0


def test_services_behind_batchers_worked_example() -> None:
    """Section 6: K = 50 calls/s behind (B=10, F=50): 500 items/s sustained."""
    assert _everywhere(eq.sustained, F(50), F(10), F(50)) == 500
    assert _everywhere(eq.sustained, F(10), F(10), F(50)) == 10


def _path_latency(m: Any, own: Any, *upstream: Any) -> Any:
    return eq.path_latency(m, own, list(upstream))


def _request_availability(m: Any, *owns_and_copies: Any) -> Any:
    pairs = list(zip(owns_and_copies[::2], owns_and_copies[1::2], strict=True))
    return eq.request_availability(m, [(own, int(k)) for own, k in pairs])


def test_system_worked_example() -> None:
    """Section 8 (api-service): 120 + 0 + 40 ms; availabilities multiply."""
    gw = _everywhere(_path_latency, F(120))
    q = _everywhere(_path_latency, F(0), gw)
    assert _everywhere(_path_latency, F(40), q) == 160
    gw_av = _everywhere(eq.availability, F(1, 100), 2)
    fulfil = _everywhere(eq.availability, F(1, 100), 1)
    assert _everywhere(_request_availability, gw_av, 1, F(1), 1, fulfil, 1) == F(9998990001, 10**10)
    assert _everywhere(_request_availability) == 1
    # a join reached by two paths sees two copies of each request
    assert _everywhere(_request_availability, F(1, 2), 1, F(9, 10), 2) == F(81, 200)


# -- ranges contain every exact value (the contracts' soundness) --------------------

fractions = st.fractions(min_value=0, max_value=500, max_denominator=50)
probs = st.fractions(min_value=0, max_value=1, max_denominator=50)


def _box(draw: Any, values: Any) -> tuple[Interval, F]:
    a, b, c = sorted([draw(values), draw(values), draw(values)])
    return Interval(a, c), b


@st.composite
def service_boxes(draw: Any) -> tuple[Any, ...]:
    s_box, s = _box(draw, st.fractions(min_value=F(1, 10), max_value=500, max_denominator=50))
    f_box, f = _box(draw, probs)
    timeout = draw(st.integers(1, 400))
    retries = draw(st.integers(0, 3))
    return s_box, s, f_box, f, F(timeout), retries


@settings(max_examples=200, deadline=None)
@given(service_boxes())
def test_service_ranges_contain_the_exact_values(box: tuple[Any, ...]) -> None:
    s_box, s, f_box, f, timeout, retries = box

    def all_of(m: Any, s: Any, f: Any) -> list[Any]:
        t = m.num(timeout)
        a = eq.attempt_ms(m, s, t)
        p = eq.failure_prob(m, s, t, f)
        e = eq.expected_attempts(m, p, retries)
        return [
            a,
            p,
            e,
            eq.availability(m, p, retries),
            eq.call_ms(m, a, p, m.num(retries + 1)),
            eq.calls_capacity(m, m.num(2), m.num(3), a, e),
        ]

    exact = all_of(EXACT, s, f)
    ranged = all_of(INTERVALS, s_box, f_box)
    for x, r in zip(exact, ranged, strict=True):
        assert r.lo <= x <= r.hi


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_batcher_ranges_contain_the_exact_values(data: Any) -> None:
    lam_box, lam = _box(data.draw, fractions)
    size = F(data.draw(st.integers(1, 20)))
    flush = F(data.draw(st.integers(1, 500)))
    for fn in (eq.batch_items, eq.batch_wait):
        x = fn(EXACT, lam, size, flush)
        r = fn(INTERVALS, lam_box, INTERVALS.num(size), INTERVALS.num(flush))
        assert r.lo <= x <= r.hi
    calls_box, calls = _box(data.draw, fractions)
    x = eq.sustained(EXACT, calls, size, flush)
    r = eq.sustained(INTERVALS, calls_box, INTERVALS.num(size), INTERVALS.num(flush))
    assert r.lo <= x <= r.hi


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_load_ranges_contain_the_exact_values(data: Any) -> None:
    """Model 2's wait, latency, shed and availability over boxes of arrival,
    capacity and call time (below saturation for the wait)."""
    lam_box, lam = _box(data.draw, fractions)
    cap_box, cap = _box(data.draw, st.fractions(min_value=F(1, 10), max_value=500))
    call_box, call = _box(data.draw, st.fractions(min_value=F(1, 10), max_value=500))
    ok_box, ok = _box(data.draw, probs)
    slots = F(data.draw(st.integers(1, 64)))
    for fn in (eq.shed_rps, eq.served_share):
        x = fn(EXACT, lam, cap)
        r = fn(INTERVALS, lam_box, cap_box)
        assert r.lo <= x <= r.hi
    share = eq.served_share(EXACT, lam, cap)
    x = eq.service_availability(EXACT, share, ok)
    r = eq.service_availability(INTERVALS, eq.served_share(INTERVALS, lam_box, cap_box), ok_box)
    assert r.lo <= x <= r.hi
    util_box, util = _box(data.draw, st.fractions(min_value=0, max_value=F(99, 100)))
    wait = eq.wait_ms(EXACT, call, slots, util)
    wait_box = eq.wait_ms(INTERVALS, call_box, INTERVALS.num(slots), util_box)
    assert wait_box.lo <= wait <= wait_box.hi
    lat_box = eq.latency_ms(INTERVALS, call_box, wait_box)
    assert lat_box.lo <= eq.latency_ms(EXACT, call, wait) <= lat_box.hi


def test_utilization_is_arrival_over_capacity() -> None:
    """The encoder's division-free utilization is the model's arrival / capacity."""
    a, e = F(50), F(111, 100)
    k = eq.calls_capacity(EXACT, F(2), F(4), a, e)
    for items in (F(1), F(5)):
        util = _everywhere(eq.utilization, F(100), a, e, F(8), items)
        assert util == F(100) / (k * items)


def test_wait_of_load_is_the_wait_at_that_utilization() -> None:
    """The encoder's form of the wait (one division by a polynomial) is the
    model's wait at ``util = load / budget``."""
    for load, budget, ln_q in ((F(3000), F(8000), eq.LN100), (F(1), F(9), F(5300, 1000))):
        util = load / budget
        by_load = _everywhere(
            lambda m, *a, q=ln_q: eq.wait_ms_of_load(m, *a, ln_q=q), F(150), F(8), load, budget
        )
        by_util = _everywhere(lambda m, *a, q=ln_q: eq.wait_ms(m, *a, ln_q=q), F(150), F(8), util)
        assert by_load == by_util
