"""Compositional verification: per-component contracts composed along the graph.

Assume-guarantee, in three layers (equations in ``docs/model.md``):

1. **Environment boxes.** For every environment name, a range that contains every
   value the assumptions (and the physical domain) allow. Simple bounds are read
   off the assumptions; anything else is bounded by Z3's optimizer (OMT) over the
   assumption group; a name that cannot be bounded keeps its physical domain.
2. **Component contracts.** Given its parameters and the boxes of its own
   environment names, a service guarantees ranges for attempt time, failure
   probability, expected attempts, latency, availability and call capacity. Each
   quantity is monotone in the environment (proved in ``docs/model.md``), so the
   range ends are the quantity at the box corners. Contracts depend on nothing
   else and are cached per (type, parameters, boxes).
3. **Composition.** Flows, queues, batchers and the system quantities are composed
   along the connection graph with interval arithmetic. A queue whose inflow can
   never exceed its drain stays empty forever (an inductive invariant from the
   empty start); otherwise its length is only known to lie in [0, capacity].

The result maps every name to a range valid at *every reachable step*. A property
whose predicate is definitely true over those ranges holds at every step, which
proves every operator (ALWAYS directly; EVENTUALLY/WITHIN at step 0; UNTIL/SINCE
through their trigger). Composition only ever proves: anything else falls back
to the monolithic check, which finds the real verdict and counterexample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from upir.core.specification import Assumption
from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.expr.ast import BoolOp, Compare, Expr, Name, Num, names
from upir.settings import SolverSettings
from upir.verification import z3util as z
from upir.verification.encoder import domain_constraint, encode_bool
from upir.verification.intervals import (
    INF,
    Bound,
    Interval,
    Truth,
    add,
    evaluate_truth,
    maximum,
    minimum,
    mul,
)
from upir.verification.structure import (
    ARRIVAL,
    EnvDomain,
    Structure,
    drain_rps_name,
    failure_rate_name,
    service_ms_name,
)
from upir.verification.z3util import Term

_ONE = Fraction(1)
_ZERO = Fraction(0)
_K = Fraction(1000)


# -- 1. environment boxes ----------------------------------------------------------


def _domain_interval(dom: EnvDomain) -> Interval:
    return Interval(
        dom.lower if dom.lower is not None else -INF, dom.upper if dom.upper is not None else INF
    )


def _constant(expr: Expr) -> Fraction | None:
    if isinstance(expr, Num):
        return expr.value
    if names(expr):
        return None
    from upir.expr import EvaluationError, evaluate

    try:
        value = evaluate(expr, {})
    except EvaluationError:
        return None
    return value if isinstance(value, Fraction) else None


def _simple_bounds(expr: Expr, out: dict[str, Interval]) -> bool:
    """Tighten ``out`` with the bounds a conjunction of ``name op constant``
    comparisons states; False when ``expr`` says more than that."""
    if isinstance(expr, BoolOp) and expr.op == "and":
        return all(_simple_bounds(e, out) for e in expr.operands)
    if not isinstance(expr, Compare):
        return False
    simple = True
    for i, op in enumerate(expr.ops):
        a, b = expr.operands[i], expr.operands[i + 1]
        ca, cb = _constant(a), _constant(b)
        if isinstance(a, Name) and cb is not None:
            name, c, flipped = a.name, cb, False
        elif isinstance(b, Name) and ca is not None:
            name, c, flipped = b.name, ca, True
        else:
            if ca is None or cb is None:
                simple = False
            continue
        cur = out.get(name, Interval(-INF, INF))
        upper = op in ("<", "<=") if not flipped else op in (">", ">=")
        if op == "==":
            cur = Interval(max(cur.lo, c), min(cur.hi, c))
        elif op == "!=":
            simple = False
        elif upper:
            cur = Interval(cur.lo, min(cur.hi, c))
        else:
            cur = Interval(max(cur.lo, c), cur.hi)
        out[name] = cur
    return simple


def assumption_groups(assumptions: Sequence[Assumption]) -> list[list[Assumption]]:
    """The assumptions split into groups that share no environment name (each
    group constrains its own names, independently of the others)."""
    groups: list[tuple[set[str], list[Assumption]]] = []
    for a in assumptions:
        ns = set(names(a.expr))
        merged_names, merged = set(ns), [a]
        rest = []
        for g_names, g in groups:
            if g_names & ns:
                merged_names |= g_names
                merged = g + merged
            else:
                rest.append((g_names, g))
        groups = [*rest, (merged_names, merged)]
    return [g for _, g in groups]


def env_boxes(
    st: Structure,
    assumptions: Sequence[Assumption],
    env_names: set[str],
    settings: SolverSettings,
) -> dict[str, Interval] | None:
    """A range for each of ``env_names`` (and every name the assumptions mention)
    containing every allowed value. None when the ranges show the assumptions
    allow nothing."""
    boxes: dict[str, Interval] = {n: _domain_interval(st.domain(n)) for n in env_names}
    for group in assumption_groups(assumptions):
        group_names: set[str] = set()
        for a in group:
            group_names |= names(a.expr)
        for n in group_names:
            boxes.setdefault(n, _domain_interval(st.domain(n)))
        syntactic: dict[str, Interval] = {}
        simple = all(_simple_bounds(a.expr, syntactic) for a in group)
        for n, iv in syntactic.items():
            cur = boxes[n]
            boxes[n] = Interval(max(cur.lo, iv.lo), min(cur.hi, iv.hi))
        if not simple:
            _tighten_by_optimizer(st, group, boxes, group_names, settings)
    if any(b.empty() for b in boxes.values()):
        return None
    return boxes


def _tighten_by_optimizer(
    st: Structure,
    group: Sequence[Assumption],
    boxes: dict[str, Interval],
    targets: set[str],
    settings: SolverSettings,
) -> None:
    """Bound each target by Z3's optimizer over the group (exact for linear
    assumptions; a name the optimizer cannot bound keeps its range)."""
    variables: dict[str, Term] = {}

    def lookup(name: str) -> Term:
        if name not in variables:
            variables[name] = z.real(name)
        return variables[name]

    constraints = [encode_bool(a.expr, lookup) for a in group]
    for name in list(variables):
        constraints.extend(domain_constraint(variables[name], st.domain(name)))
    for name in sorted(targets & variables.keys()):
        found = z.optimize_bounds(settings, constraints, variables[name])
        if found is None:
            continue
        lo, hi = found
        cur = boxes[name]
        boxes[name] = Interval(
            max(cur.lo, lo.value) if lo.value is not None else cur.lo,
            min(cur.hi, hi.value) if hi.value is not None else cur.hi,
        )


# -- 2. component contracts -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceContract:
    """Ranges a service guarantees at every step (see the module docstring)."""

    attempt_ms: Interval
    failure_prob: Interval
    expected_attempts: Interval
    latency_ms: Interval
    availability: Interval
    calls_rps: Interval


def _expected(p: Fraction, attempts: int) -> Fraction:
    return sum((p**k for k in range(attempts)), _ZERO)


def service_contract(params: Mapping[str, Fraction], s: Interval, f: Interval) -> ServiceContract:
    """The contract of one service from its parameters (``replicas``,
    ``concurrency``, ``timeout_ms``, ``retries``) and the ranges of its service
    time ``s`` (ms) and failure rate ``f``."""
    timeout, retries = params["timeout_ms"], int(params["retries"])
    attempts = retries + 1
    a = Interval(min(s.lo, timeout), min(s.hi, timeout))
    p_lo = _ONE if s.lo > timeout else Fraction(max(f.lo, 0))
    p_hi = _ONE if s.hi > timeout else Fraction(min(f.hi, 1))
    e = Interval(_expected(p_lo, attempts), _expected(p_hi, attempts))
    lat = Interval(
        a.lo * attempts if p_lo > 0 else a.lo,
        a.hi * attempts if p_hi > 0 else a.hi,
    )
    avail = Interval(_ONE - p_hi**attempts, _ONE - p_lo**attempts)
    rc = _K * params["replicas"] * params["concurrency"]
    calls = Interval(
        rc / (a.hi * e.hi) if a.hi != INF else _ZERO,
        rc / (a.lo * e.lo) if a.lo > 0 else INF,
    )
    return ServiceContract(a, Interval(p_lo, p_hi), e, lat, avail, calls)


# -- 3. composition ------------------------------------------------------------------


def _sustained(calls: Bound, size: Fraction, flush: Fraction) -> Bound:
    return calls * size if calls * flush >= _K else calls


def _batch_items(lam: Bound, size: Fraction, flush: Fraction) -> Fraction:
    if lam == INF:
        return max(_ONE, size) if flush > 0 else _ONE
    assert isinstance(lam, Fraction)
    return max(_ONE, min(size, lam * flush / _K))


def _batch_wait(lam: Bound, size: Fraction, flush: Fraction) -> Fraction:
    if size <= 1:
        return _ZERO
    if lam == INF:
        return _ZERO
    if lam == 0:
        return flush
    assert isinstance(lam, Fraction)
    return min(flush, (size - 1) * _K / lam)


def compose(
    st: Structure,
    params: Mapping[str, Fraction],
    boxes: Mapping[str, Interval],
    contract_of: Callable[[str], ServiceContract],
    step_ms: Fraction,
) -> dict[str, Interval]:
    """Ranges of every quantity of every component and of the system, valid at
    every reachable step. ``contract_of`` gives (cached) service contracts."""
    r: dict[str, Interval] = {k: Interval.point(v) for k, v in params.items()}
    r.update(boxes)
    out: dict[str, Interval] = {}
    path_lat: dict[str, Interval] = {}
    path_av: dict[str, Interval] = {}
    zero = Interval.point(0)

    def accept(name: str) -> Interval | None:
        ctype = st.types[name]
        if ctype == "queue":
            return None
        if ctype == "batcher":
            found = [a for a in (accept(x) for x in st.succs[name]) if a is not None]
            return minimum(found) if found else None
        calls = contract_of(name).calls_rps
        feeders = st.batch_feeders(name)
        if not feeders:
            return calls
        return minimum(
            [
                Interval(
                    _sustained(calls.lo, params[f"{b}.batch_size"], params[f"{b}.flush_ms"]),
                    _sustained(calls.hi, params[f"{b}.batch_size"], params[f"{b}.flush_ms"]),
                )
                for b in feeders
            ]
        )

    for name in st.order:
        ctype, p = st.types[name], f"{name}."
        preds = st.preds[name]
        lam = boxes[ARRIVAL] if not preds else _sum([out[x] for x in preds])
        r[p + "arrival_rps"] = lam
        if ctype == "service":
            c = contract_of(name)
            r[p + "attempt_ms"], r[p + "latency_ms"] = c.attempt_ms, c.latency_ms
            r[p + "availability"] = c.availability
            feeders = st.batch_feeders(name)
            b = minimum([r[f"{x}.batch_items"] for x in feeders]) if feeders else Interval.point(1)
            cap = mul(c.calls_rps, b)
            r[p + "capacity_rps"] = cap
            r[p + "utilization"] = Interval(
                _ZERO if cap.hi == INF else lam.lo / cap.hi, lam.hi / cap.lo if cap.lo > 0 else INF
            )
            out[name] = minimum([lam, cap])
            own_lat, own_av = c.latency_ms, c.availability
        elif ctype == "batcher":
            size, flush = params[p + "batch_size"], params[p + "flush_ms"]
            r[p + "batch_items"] = Interval(
                _batch_items(lam.lo, size, flush), _batch_items(lam.hi, size, flush)
            )
            wait = Interval(_batch_wait(lam.hi, size, flush), _batch_wait(lam.lo, size, flush))
            r[p + "wait_ms"] = r[p + "latency_ms"] = wait
            out[name] = lam
            own_lat, own_av = wait, Interval.point(1)
        else:
            cap_items = params[p + "capacity"]
            drain = (
                boxes[drain_rps_name(name)]
                if st.env_drained(name)
                else _finite_min([accept(x) for x in st.succs[name]])
            )
            if drain is None or lam.hi <= drain.lo:
                # inflow never exceeds the drain: from empty, the queue stays empty
                r[p + "length"] = r[p + "dropped"] = r[p + "wait_ms"] = zero
                out[name] = lam
            else:
                r[p + "length"] = Interval(_ZERO, cap_items)
                r[p + "dropped"] = Interval(_ZERO, lam.hi * step_ms / _K)
                r[p + "wait_ms"] = Interval(
                    _ZERO, cap_items * _K / drain.lo if drain.lo > 0 else INF
                )
                out[name] = Interval(
                    min(lam.lo, drain.lo), min(drain.hi, lam.hi + cap_items * _K / step_ms)
                )
            own_lat, own_av = r[p + "wait_ms"], Interval.point(1)
        r[p + "throughput_rps"] = out[name]
        if preds:
            path_lat[name] = add(own_lat, maximum([path_lat[x] for x in preds]))
            path_av[name] = mul(own_av, minimum([path_av[x] for x in preds]))
        else:
            path_lat[name], path_av[name] = own_lat, own_av
    r["system.latency_ms"] = maximum([path_lat[s] for s in st.sinks])
    r["system.availability"] = minimum([path_av[s] for s in st.sinks])
    r["system.throughput_rps"] = minimum([out[s] for s in st.sinks])
    cost = sum(
        (params[f"{n}.replicas"] * params[f"{n}.cost_per_replica"] for n in st.of_type("service")),
        _ZERO,
    )
    r["system.cost"] = Interval.point(cost)
    return r


def _sum(items: list[Interval]) -> Interval:
    total = items[0]
    for item in items[1:]:
        total = add(total, item)
    return total


def _finite_min(items: list[Interval | None]) -> Interval | None:
    found = [i for i in items if i is not None]
    return minimum(found) if found else None


def proves(prop: TemporalProperty, ranges: Mapping[str, Interval]) -> bool:
    """Whether the ranges prove the property (see the module docstring)."""

    def lookup(name: str) -> Interval:
        return ranges.get(name, Interval(-INF, INF))

    if prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE):
        assert prop.trigger is not None
        # the trigger holds at every step (so at step 0 and at the last step), and
        # the predicate is evaluated at every step too, so it must be defined
        if evaluate_truth(prop.trigger, lookup) is not Truth.TRUE:
            return False
        return evaluate_truth(prop.predicate, lookup) is not Truth.UNDEFINED
    return evaluate_truth(prop.predicate, lookup) is Truth.TRUE


def refutes(prop: TemporalProperty, ranges: Mapping[str, Interval]) -> bool:
    """Whether the ranges show the property's target false at *every* reachable
    step (so any allowed environment violates it at once)."""

    def lookup(name: str) -> Interval:
        return ranges.get(name, Interval(-INF, INF))

    target = (
        prop.trigger
        if prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE)
        else prop.predicate
    )
    assert target is not None
    return evaluate_truth(target, lookup) is Truth.FALSE


def service_env(name: str) -> tuple[str, str]:
    return service_ms_name(name), failure_rate_name(name)
