"""The model's equations (model 2), written once (``docs/model.md`` sections 3 to 8),
over a small arithmetic interface with three backends.

Each equation below is one function of an :class:`Arith` and its inputs. The
same function gives:

* :data:`EXACT`: exact rationals, for the reference semantics and replay
  (:mod:`upir.verification.reference`);
* :data:`Z3`: Z3 terms, for the solver's unrollings
  (:mod:`upir.verification.encoder`);
* :data:`INTERVALS`: ranges valid for every value of the inputs' ranges, for
  the compositional contracts (:mod:`upir.verification.contracts`). Every model
  quantity is monotone in each input over its physical domain (docs/model.md
  section 3), so interval arithmetic on these equations gives the exact ends;
  a condition that the ranges do not decide takes the hull of both branches.

So the three cannot drift apart: a change of an equation changes all of them,
and ``tests/unit/verification/test_verif_equations.py`` runs every worked
example of docs/model.md through every backend. What stays per consumer is
how the graph is walked (eagerly per step, lazily per term, or once per
composition) and the queue's state abstraction in the contracts (an invariant
over all reachable steps, not a one-step equation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Protocol, TypeVar

from upir.verification import z3util as z
from upir.verification.intervals import INF, Interval, Truth, maximum, minimum
from upir.verification.intervals import add as iv_add
from upir.verification.intervals import mul as iv_mul
from upir.verification.intervals import sub as iv_sub
from upir.verification.z3util import Formula, Term

V = TypeVar("V")
C = TypeVar("C")

_K = Fraction(1000)


class Arith(Protocol[V, C]):
    """Values ``V`` and conditions ``C`` of one backend. ``ite`` takes its
    branches as thunks so the exact backend evaluates only the one it needs
    (the other may divide by zero)."""

    def num(self, x: Fraction | int) -> V: ...
    def add(self, a: V, b: V) -> V: ...
    def sub(self, a: V, b: V) -> V: ...
    def mul(self, a: V, b: V) -> V: ...
    def div(self, a: V, b: V) -> V: ...
    def min(self, items: Sequence[V]) -> V: ...
    def max(self, items: Sequence[V]) -> V: ...
    def gt(self, a: V, b: V) -> C: ...
    def ge(self, a: V, b: V) -> C: ...
    def ite(self, c: C, then: Callable[[], V], other: Callable[[], V]) -> V: ...


class _Exact:
    def num(self, x: Fraction | int) -> Fraction:
        return Fraction(x)

    def add(self, a: Fraction, b: Fraction) -> Fraction:
        return a + b

    def sub(self, a: Fraction, b: Fraction) -> Fraction:
        return a - b

    def mul(self, a: Fraction, b: Fraction) -> Fraction:
        return a * b

    def div(self, a: Fraction, b: Fraction) -> Fraction:
        return a / b

    def min(self, items: Sequence[Fraction]) -> Fraction:
        return min(items)

    def max(self, items: Sequence[Fraction]) -> Fraction:
        return max(items)

    def gt(self, a: Fraction, b: Fraction) -> bool:
        return a > b

    def ge(self, a: Fraction, b: Fraction) -> bool:
        return a >= b

    def ite(self, c: bool, then: Callable[[], Fraction], other: Callable[[], Fraction]) -> Fraction:
        return then() if c else other()


class _Z3:
    def num(self, x: Fraction | int) -> Term:
        return z.num(x)

    def add(self, a: Term, b: Term) -> Term:
        return a + b

    def sub(self, a: Term, b: Term) -> Term:
        return a - b

    def mul(self, a: Term, b: Term) -> Term:
        return a * b

    def div(self, a: Term, b: Term) -> Term:
        return a / b

    def min(self, items: Sequence[Term]) -> Term:
        return z.min_(items)

    def max(self, items: Sequence[Term]) -> Term:
        return z.max_(items)

    def gt(self, a: Term, b: Term) -> Formula:
        return a > b

    def ge(self, a: Term, b: Term) -> Formula:
        return a >= b

    def ite(self, c: Formula, then: Callable[[], Term], other: Callable[[], Term]) -> Term:
        return z.ite(c, then(), other())


class _Intervals:
    """Ranges of non-negative model quantities (``inf`` for unbounded ends)."""

    def num(self, x: Fraction | int) -> Interval:
        return Interval.point(x)

    def add(self, a: Interval, b: Interval) -> Interval:
        return iv_add(a, b)

    def sub(self, a: Interval, b: Interval) -> Interval:
        return iv_sub(a, b)

    def mul(self, a: Interval, b: Interval) -> Interval:
        return iv_mul(a, b)

    def div(self, a: Interval, b: Interval) -> Interval:
        """``a / b`` for ``a, b >= 0``: a divisor that may be 0 gives ``inf``
        (the equations divide only where the exact model's divisor is > 0)."""
        if a.lo < 0 or b.lo < 0:
            raise ValueError(f"interval division of {a} by {b}: negative range")
        lo = Fraction(0) if b.hi == INF else a.lo / b.hi
        hi: Fraction | float = INF if b.lo == 0 or a.hi == INF else a.hi / b.lo
        return Interval(lo, hi)

    def min(self, items: Sequence[Interval]) -> Interval:
        return minimum(list(items))

    def max(self, items: Sequence[Interval]) -> Interval:
        return maximum(list(items))

    def gt(self, a: Interval, b: Interval) -> Truth:
        if a.lo > b.hi:
            return Truth.TRUE
        if a.hi <= b.lo:
            return Truth.FALSE
        return Truth.UNKNOWN

    def ge(self, a: Interval, b: Interval) -> Truth:
        if a.lo >= b.hi:
            return Truth.TRUE
        if a.hi < b.lo:
            return Truth.FALSE
        return Truth.UNKNOWN

    def ite(
        self, c: Truth, then: Callable[[], Interval], other: Callable[[], Interval]
    ) -> Interval:
        if c is Truth.TRUE:
            return then()
        if c is Truth.FALSE:
            return other()
        a, b = then(), other()
        return Interval(min(a.lo, b.lo), max(a.hi, b.hi))


EXACT: Arith[Fraction, bool] = _Exact()
Z3: Arith[Term, Formula] = _Z3()
INTERVALS: Arith[Interval, Truth] = _Intervals()


# -- service (section 3) ------------------------------------------------------------


def attempt_ms(m: Arith[V, C], s: V, timeout: V) -> V:
    """One attempt lasts the service time, cut off at the timeout."""
    return m.min([s, timeout])


def failure_prob(m: Arith[V, C], s: V, timeout: V, f: V) -> V:
    """An attempt cut by the timeout fails; otherwise it fails at rate ``f``."""
    return m.ite(m.gt(s, timeout), lambda: m.num(1), lambda: f)


def expected_attempts(m: Arith[V, C], p: V, retries: int) -> V:
    """``1 + p + ... + p^retries`` (Horner), the mean attempts per request."""
    acc = m.num(1)
    for _ in range(retries):
        acc = m.add(m.num(1), m.mul(p, acc))
    return acc


def availability(m: Arith[V, C], p: V, retries: int) -> V:
    """``1 - p^(retries+1)``: a served request fails when every attempt fails
    (the attempts' success; a service's availability also counts what it
    sheds, :func:`service_availability`)."""
    acc = p
    for _ in range(retries):
        acc = m.mul(acc, p)
    return m.sub(m.num(1), acc)


def call_ms(m: Arith[V, C], attempt: V, p: V, attempts: V) -> V:
    """How long one call holds its slot, worst case: every attempt is used
    when any may fail (model 1's whole ``latency_ms``)."""
    return m.ite(m.gt(p, m.num(0)), lambda: m.mul(attempts, attempt), lambda: attempt)


LN100 = Fraction(461, 100)
"""A rational upper bound of ``ln 100 = 4.60517...``: the p99 of a tail bounded
by ``exp(-theta x)`` is at most ``ln(100) / theta <= LN100 / theta``."""


def ln_upper(n: int) -> Fraction:
    """A rational upper bound of ``ln(100 n)`` (``n >= 1``), within 0.002:
    the tail quantile ``1 / (100 n)`` that lets ``n`` services' latencies
    add up to an end-to-end p99 (union bound, docs/model.md section 8)."""
    if n <= 1:
        return LN100
    # math.log is within a few ulps; the 1/1000 margin covers it
    return Fraction(math.ceil(math.log(100 * n) * 1000) + 1, 1000)


def wait_ms(m: Arith[V, C], call: V, slots: V, util: V, ln_q: Fraction = LN100) -> V:
    """Bound of the wait for a slot that at most a share ``exp(-ln_q)`` of
    calls exceed (``LN100``: the p99), for ``util < 1`` (docs/model.md
    section 3.1): ``H (c-1)/c + ln_q * H / (c (1 - util))`` with ``H`` the
    longest call and ``c`` the slots. Undefined at ``util >= 1``: the callers
    guard it (no finite bound holds there)."""
    pooled = m.div(m.mul(call, m.sub(slots, m.num(1))), slots)
    tail = m.div(m.mul(m.num(ln_q), call), m.mul(slots, m.sub(m.num(1), util)))
    return m.add(pooled, tail)


def wait_ms_of_load(
    m: Arith[V, C], call: V, slots: V, load: V, budget: V, ln_q: Fraction = LN100
) -> V:
    """:func:`wait_ms` at ``util = load / budget`` (``budget > load``), as
    ``H (c-1)/c + ln_q H budget / (c (budget - load))``: the same value with one
    division by a polynomial, which Z3's nonlinear arithmetic handles far
    better than a division by ``1 - load / budget``."""
    pooled = m.div(m.mul(call, m.sub(slots, m.num(1))), slots)
    tail = m.div(m.mul(m.mul(m.num(ln_q), call), budget), m.mul(slots, m.sub(budget, load)))
    return m.add(pooled, tail)


def latency_ms(m: Arith[V, C], call: V, wait: V) -> V:
    """p99 bound of a service's latency below saturation: the p99 wait plus
    the longest call (the call never exceeds it, so the sum's p99 does not)."""
    return m.add(wait, call)


def work_ms(m: Arith[V, C], arrival: V, attempt: V, expected: V) -> V:
    """Slot time offered per second, ms/s: ``arrival * a * E`` (per call)."""
    return m.mul(m.mul(arrival, attempt), expected)


def slot_budget(m: Arith[V, C], slots: V, items: V) -> V:
    """Slot time a second the slots give, ms/s, in items: ``1000 c b``."""
    return m.mul(m.mul(m.num(_K), slots), items)


def utilization(m: Arith[V, C], arrival: V, attempt: V, expected: V, slots: V, items: V) -> V:
    """``arrival / capacity`` written without nested divisions (the work
    offered per second over the slots' ``1000 c b``), which is the same value
    and far easier for Z3's nonlinear arithmetic."""
    return m.div(work_ms(m, arrival, attempt, expected), slot_budget(m, slots, items))


def saturated(m: Arith[V, C], arrival: V, capacity: V) -> C:
    """Utilization >= 1: the backlog for the slots grows without bound."""
    return m.ge(arrival, capacity)


def shed_rps(m: Arith[V, C], arrival: V, capacity: V) -> V:
    """The rate a service cannot serve (its excess over capacity)."""
    return m.max([m.num(0), m.sub(arrival, capacity)])


def served_share(m: Arith[V, C], arrival: V, capacity: V) -> V:
    """The share of the offered load a service serves: ``min(1, K / arrival)``."""
    return m.min(
        [
            m.num(1),
            m.ite(m.gt(arrival, capacity), lambda: m.div(capacity, arrival), lambda: m.num(1)),
        ]
    )


def service_availability(m: Arith[V, C], share: V, success: V) -> V:
    """Served successfully / offered: the served share times the share of
    served requests whose attempts do not all fail."""
    return m.mul(share, success)


def calls_capacity(m: Arith[V, C], replicas: V, concurrency: V, attempt: V, expected: V) -> V:
    """Calls per second ``R*C`` workers complete: ``1000 R C / (a E)``."""
    return m.div(m.mul(m.num(_K), m.mul(replicas, concurrency)), m.mul(attempt, expected))


def sustained(m: Arith[V, C], calls: V, size: V, flush: V) -> V:
    """Item rate a service doing ``calls`` calls/s sustains behind a batcher:
    full batches when a flush interval lets batches grow, else one item a call
    (section 6)."""
    return m.ite(m.ge(m.mul(calls, flush), m.num(_K)), lambda: m.mul(calls, size), lambda: calls)


def served(m: Arith[V, C], arrival: V, capacity: V) -> V:
    """What a service passes on: ``min(arrival, capacity)``."""
    return m.min([arrival, capacity])


def served_unless(m: Arith[V, C], arrival: V, capacity: V, full: C) -> V:
    """:func:`served` given ``full`` = :func:`saturated` (``arrival >=
    capacity``): the same value, with the capacity (a division) only in the
    saturated branch, which Z3's nonlinear arithmetic handles far better."""
    return m.ite(full, lambda: capacity, lambda: arrival)


# -- batcher (section 5) --------------------------------------------------------------


def batch_items(m: Arith[V, C], lam: V, size: V, flush: V) -> V:
    """Items per batch: full, or what arrives in one flush interval (>= 1)."""
    return m.max([m.num(1), m.min([size, m.div(m.mul(lam, flush), m.num(_K))])])


def batch_wait(m: Arith[V, C], lam: V, size: V, flush: V) -> V:
    """The first item's wait for ``size - 1`` more, or the flush interval."""
    return m.ite(
        m.ge(m.num(1), size),
        lambda: m.num(0),
        lambda: m.ite(
            m.gt(lam, m.num(0)),
            lambda: m.min([flush, m.div(m.mul(m.sub(size, m.num(1)), m.num(_K)), lam)]),
            lambda: flush,
        ),
    )


# -- queue (section 4) ------------------------------------------------------------------


def drained(m: Arith[V, C], length: V, in_items: V, drain_items: V | None) -> V:
    """Items leaving in one step: the backlog, up to what the drain takes
    (everything when nothing bounds the drain)."""
    backlog = m.add(length, in_items)
    return backlog if drain_items is None else m.min([backlog, drain_items])


def dropped(m: Arith[V, C], length: V, in_items: V, out: V, capacity: V) -> V:
    """Items over capacity after the step's drain."""
    return m.max([m.num(0), m.sub(m.sub(m.add(length, in_items), out), capacity)])


def next_length(m: Arith[V, C], length: V, in_items: V, out: V, capacity: V) -> V:
    """The length at the next step, at most the capacity."""
    return m.min([capacity, m.sub(m.add(length, in_items), out)])


def queue_pass(m: Arith[V, C], in_items: V, dropped_items: V) -> V:
    """The share of a step's inflow a queue keeps (1 when nothing arrives)."""
    return m.ite(
        m.gt(in_items, m.num(0)),
        lambda: m.sub(m.num(1), m.div(dropped_items, in_items)),
        lambda: m.num(1),
    )


def queue_wait(m: Arith[V, C], length: V, drain: V | None) -> V:
    """The backlog ahead of a new item, in ms (0 when nothing bounds the drain)."""
    return m.num(0) if drain is None else m.div(m.mul(length, m.num(_K)), drain)


# -- system (section 8) -------------------------------------------------------------------


def path_latency(m: Arith[V, C], own: V, upstream: Sequence[V]) -> V:
    """Own latency plus the slowest path into the component."""
    return own if not upstream else m.add(own, m.max(upstream))


def loss(m: Arith[V, C], availability_: V) -> V:
    """The share of offered requests not served successfully (shed, failed
    or dropped): ``1 - system.availability``."""
    return m.sub(m.num(1), availability_)


def request_availability(m: Arith[V, C], copies: Sequence[tuple[V, int]]) -> V:
    """The share of requests entering one entry point that succeed: every
    connection carries the whole flow, so a request sends ``k`` copies through a
    component ``k`` paths away from its entry, and succeeds only when every copy
    does (docs/model.md section 8): the product of ``own ** k`` over the
    components it reaches (``copies``: each one's own availability and ``k``)."""
    acc = m.num(1)
    for own, k in copies:
        for _ in range(k):
            acc = m.mul(acc, own)
    return acc
