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
from upir.expr import constant_value
from upir.expr.ast import BoolOp, Compare, Expr, Name, names
from upir.settings import SolverSettings
from upir.verification import equations as eq
from upir.verification import z3util as z
from upir.verification.encoder import domain_constraint, encode_bool
from upir.verification.equations import INTERVALS as IV
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
    value = constant_value(expr)
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
        if not group_names and not all(constant_value(a.expr) is True for a in group):
            return None  # a constant assumption that does not hold allows nothing
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
    call_ms: Interval
    """How long a call holds its slot, worst case."""
    success: Interval
    """The share of served requests whose attempts do not all fail."""
    calls_rps: Interval


def service_contract(params: Mapping[str, Fraction], s: Interval, f: Interval) -> ServiceContract:
    """The contract of one service from its parameters (``replicas``,
    ``concurrency``, ``timeout_ms``, ``retries``) and the ranges of its service
    time ``s`` (ms) and failure rate ``f``: the model's own equations
    (:mod:`upir.verification.equations`) over ranges. Each is monotone in ``s``
    and ``f`` (docs/model.md section 3), so the ends are the quantities at the
    box corners."""
    timeout = IV.num(params["timeout_ms"])
    retries = int(params["retries"])
    f = Interval(max(f.lo, _ZERO), min(f.hi, _ONE))
    a = eq.attempt_ms(IV, s, timeout)
    p = eq.failure_prob(IV, s, timeout, f)
    e = eq.expected_attempts(IV, p, retries)
    call = eq.call_ms(IV, a, p, IV.num(retries + 1))
    success = eq.availability(IV, p, retries)
    calls = eq.calls_capacity(IV, IV.num(params["replicas"]), IV.num(params["concurrency"]), a, e)
    return ServiceContract(a, p, e, call, success, calls)


# -- 3. composition ------------------------------------------------------------------


def _sustained(calls: Interval, size: Fraction, flush: Fraction) -> Interval:
    return eq.sustained(IV, calls, IV.num(size), IV.num(flush))


def _batch_items(lam: Interval, size: Fraction, flush: Fraction) -> Interval:
    return eq.batch_items(IV, lam, IV.num(size), IV.num(flush))


def _batch_wait(lam: Interval, size: Fraction, flush: Fraction) -> Interval:
    return eq.batch_wait(IV, lam, IV.num(size), IV.num(flush))


class Ranges:
    """The composed ranges: derived quantities, environment boxes, and the exact
    parameters (as points, looked up on demand)."""

    def __init__(
        self,
        derived: dict[str, Interval],
        boxes: Mapping[str, Interval],
        params: Mapping[str, Fraction],
        unbounded: frozenset[str] = frozenset(),
    ) -> None:
        self.derived = derived
        self.boxes = boxes
        self.params = params
        self.unbounded = unbounded
        """Names that may have no finite value at some reachable step (a
        latency of a service whose utilization may reach 1): their range's top
        is ``inf``, and a predicate reading them is not defined everywhere."""

    def lookup(self, name: str) -> Interval | None:
        """The range for predicates: None where the name may be unbounded
        (evaluated like a possible division by zero)."""
        return None if name in self.unbounded else self.get(name)

    def get(self, name: str) -> Interval:
        found = self.derived.get(name)
        if found is not None:
            return found
        found = self.boxes.get(name)
        if found is not None:
            return found
        value = self.params.get(name)
        if value is not None:
            return Interval.point(value)
        return Interval(-INF, INF)


# (component entries, throughput, own latency, own availability, whether the
# own latency may be unbounded)
# (own availability is None for batchers: they lose nothing)
Piece = tuple[tuple[tuple[str, Interval], ...], Interval, Interval, Interval | None, bool]


class Composition:
    """What a composition computed per component, kept so that the next one
    (after a parameter change) recomputes only the components the change reaches
    (:func:`compose` with ``previous``)."""

    def __init__(self) -> None:
        self.derived: dict[str, Interval] = {}
        self.out: dict[str, Interval] = {}
        self.path_lat: dict[str, Interval] = {}
        self.own_av: dict[str, Interval] = {}
        self.cost: dict[str, Fraction] = {}
        self.saturable: set[str] = set()
        """Services whose utilization may reach 1 (their latency is unbounded)."""
        self.recomputed = 0


def reached_by(st: Structure, changed: set[str]) -> set[str]:
    """Components whose ranges may change when the parameters of ``changed``
    components change: every component whose own piece depends on one of them
    (its support in :class:`Structure`'s dependency analysis, the same one that
    gives cones of influence: a queue depends on what its consumers accept, and
    a service behind batchers on every feeding batcher), then everything
    downstream of those (flows and path sums)."""
    seeds = {n for n in st.order if st.support("piece", n).components & changed}
    reached = set(seeds)
    stack = list(seeds)
    while stack:
        for s in st.succs[stack.pop()]:
            if s not in reached:
                reached.add(s)
                stack.append(s)
    return reached


def compose(
    st: Structure,
    params: Mapping[str, Fraction],
    boxes: Mapping[str, Interval],
    contract_of: Callable[[str], ServiceContract],
    step_ms: Fraction,
    *,
    previous: Composition | None = None,
    changed: set[str] | None = None,
) -> tuple[Ranges, Composition]:
    """Ranges of every quantity of every component and of the system, valid at
    every reachable step. ``contract_of`` gives (cached) service contracts.

    With ``previous`` (a composition over the same graph and boxes) and the set
    of components whose parameters differ from it (``changed``), only the
    components those reach (:func:`reached_by`) are recomputed."""
    state = Composition()
    redo: set[str] | None = None
    if previous is not None and changed is not None:
        redo = reached_by(st, changed)
        state.derived = dict(previous.derived)
        state.out = dict(previous.out)
        state.path_lat = dict(previous.path_lat)
        state.own_av = dict(previous.own_av)
        state.cost = dict(previous.cost)
        state.saturable = set(previous.saturable)
    r, out, path_lat, own_avs = state.derived, state.out, state.path_lat, state.own_av
    accepts: dict[str, Interval | None] = {}

    def accept(name: str) -> Interval | None:
        if name in accepts:
            return accepts[name]
        ctype = st.types[name]
        result: Interval | None
        if ctype == "queue":
            result = None
        elif ctype == "batcher":
            found = [a for a in (accept(x) for x in st.succs[name]) if a is not None]
            result = minimum(found) if found else None
        else:
            calls = contract_of(name).calls_rps
            feeders = st.batch_feeders(name)
            if not feeders:
                result = calls
            else:
                result = minimum(
                    [
                        _sustained(calls, params[f"{b}.batch_size"], params[f"{b}.flush_ms"])
                        for b in feeders
                    ]
                )
        accepts[name] = result
        return result

    for name in st.order:
        if redo is not None and name not in redo:
            continue
        state.recomputed += 1
        ctype = st.types[name]
        preds = st.preds[name]
        lam = boxes[ARRIVAL] if not preds else _sum([out[x] for x in preds])
        extra: Interval | None = None
        if ctype == "service":
            feeders = st.batch_feeders(name)
            extra = minimum([r[f"{x}.batch_items"] for x in feeders]) if feeders else None
        elif ctype == "queue":
            extra = (
                boxes[drain_rps_name(name)]
                if st.env_drained(name)
                else _finite_min([accept(x) for x in st.succs[name]])
            )
        entries, throughput, own_lat, own_av, saturable = _piece(
            st, name, params, lam, extra, contract_of, step_ms
        )
        if saturable:
            state.saturable.add(name)
        else:
            state.saturable.discard(name)
        r.update(entries)
        out[name] = throughput
        path_lat[name] = eq.path_latency(IV, own_lat, [path_lat[x] for x in preds])
        own_avs[name] = Interval.point(1) if own_av is None else own_av
    r["system.latency_ms"] = maximum([path_lat[s] for s in st.sinks])
    r["system.availability"] = minimum(
        [
            eq.request_availability(IV, [(own_avs[n], k) for n, k in copies])
            for copies in st.copies.values()
        ]
    )
    r["system.loss"] = eq.loss(IV, r["system.availability"])
    r["system.throughput_rps"] = minimum([out[s] for s in st.sinks])
    for n in st.of_type("service"):
        if redo is None or n in redo or n not in state.cost:
            state.cost[n] = params[f"{n}.replicas"] * params[f"{n}.cost_per_replica"]
    r["system.cost"] = Interval.point(sum(state.cost.values(), _ZERO))
    unbounded: set[str] = set()
    for n in state.saturable:
        unbounded |= {f"{n}.latency_ms", f"{n}.wait_ms", "system.latency_ms"}
    return Ranges(r, boxes, params, frozenset(unbounded)), state


def _piece(
    st: Structure,
    name: str,
    params: Mapping[str, Fraction],
    lam: Interval,
    extra: Interval | None,
    contract_of: Callable[[str], ServiceContract],
    step_ms: Fraction,
) -> Piece:
    """One component's ranges from its inflow ``lam`` and ``extra`` (a service:
    the batch size it is fed, or None; a queue: its drain, None when unbounded)."""
    ctype, p = st.types[name], f"{name}."
    if ctype == "service":
        c = contract_of(name)
        cap = mul(c.calls_rps, extra) if extra is not None else c.calls_rps
        util = Interval(
            _ZERO if cap.hi == INF else lam.lo / cap.hi, lam.hi / cap.lo if cap.lo > 0 else INF
        )
        feeders = st.batch_feeders(name)
        if len(feeders) == 1:
            util = _intersect(util, _batched_utilization(c.calls_rps, lam, params, feeders[0]))
        unbounded = not util.hi < 1
        if unbounded:
            throughput = eq.served(IV, lam, cap)
            share = eq.served_share(IV, lam, cap)
            shed = eq.shed_rps(IV, lam, cap)
        else:
            # utilization is arrival / capacity exactly, so below 1 at every
            # reachable step nothing is shed. The ranges of ``lam`` and ``cap``
            # taken apart lose that link behind a batcher (small inflows make
            # one-item batches, so ``cap.lo`` belongs to small ``lam`` only) and
            # would put ``cap.lo < lam.hi``: a shed no step can have.
            throughput, share, shed = lam, Interval.point(1), Interval.point(0)
        avail = eq.service_availability(IV, share, c.success)
        if unbounded:
            # the utilization may reach 1: no finite bound (the ranges keep
            # their sound ends; predicates read the names as undefined)
            wait, lat = Interval(_ZERO, INF), Interval(c.call_ms.lo, INF)
            path_lat = lat
        else:
            slots = IV.num(params[p + "replicas"] * params[p + "concurrency"])
            wait = eq.wait_ms(IV, c.call_ms, slots, util)
            lat = eq.latency_ms(IV, c.call_ms, wait)
            sys_wait = eq.wait_ms(IV, c.call_ms, slots, util, st.system_ln)
            path_lat = eq.latency_ms(IV, c.call_ms, sys_wait)
        entries: tuple[tuple[str, Interval], ...] = (
            (p + "arrival_rps", lam),
            (p + "attempt_ms", c.attempt_ms),
            (p + "call_ms", c.call_ms),
            (p + "wait_ms", wait),
            (p + "latency_ms", lat),
            (p + "availability", avail),
            (p + "shed_rps", shed),
            (p + "capacity_rps", cap),
            (p + "utilization", util),
            (p + "throughput_rps", throughput),
        )
        return entries, throughput, path_lat, avail, unbounded
    if ctype == "batcher":
        size, flush = params[p + "batch_size"], params[p + "flush_ms"]
        items = _batch_items(lam, size, flush)
        wait = _batch_wait(lam, size, flush)
        entries = (
            (p + "arrival_rps", lam),
            (p + "batch_items", items),
            (p + "wait_ms", wait),
            (p + "latency_ms", wait),
            (p + "throughput_rps", lam),
        )
        return entries, lam, wait, None, False
    cap_items = params[p + "capacity"]
    drain = extra
    if drain is None or lam.hi <= drain.lo:
        # inflow never exceeds the drain: from empty, the queue stays empty
        zero = Interval.point(0)
        length = dropped = wait = zero
        throughput = lam
        kept = Interval.point(1)
    else:
        length = Interval(_ZERO, cap_items)
        dropped = Interval(_ZERO, lam.hi * step_ms / _K)
        wait = Interval(_ZERO, cap_items * _K / drain.lo if drain.lo > 0 else INF)
        throughput = Interval(
            min(lam.lo, drain.lo), min(drain.hi, lam.hi + cap_items * _K / step_ms)
        )
        # a step drops at most what arrives beyond the drain (the backlog is
        # at most the capacity), so it keeps at least min(1, d / lam)
        kept_lo = _ZERO if lam.hi == INF or drain.lo <= 0 else min(_ONE, drain.lo / lam.hi)
        kept = Interval(kept_lo, _ONE)
    entries = (
        (p + "arrival_rps", lam),
        (p + "length", length),
        (p + "dropped", dropped),
        (p + "wait_ms", wait),
        (p + "throughput_rps", throughput),
    )
    return entries, throughput, wait, kept, False


def _batched_utilization(
    calls: Interval, lam: Interval, params: Mapping[str, Fraction], batcher: str
) -> Interval:
    """Utilization of a service fed by one batcher only, keeping the link
    between its inflow and its batch size that ``lam / (K * batch_items)`` over
    separate ranges loses (docs/model.md, section 12): ``lam / batch_items(lam)``
    is nondecreasing in ``lam`` (``lam`` while batches hold one item,
    ``1000 / flush_ms`` while they fill, ``lam / batch_size`` when full), so the
    ends are at the ends of ``lam`` and of the call rate ``K``."""
    size, flush = params[f"{batcher}.batch_size"], params[f"{batcher}.flush_ms"]

    def per_item(x: Bound) -> Bound:
        if not isinstance(x, Fraction):
            return x
        items = _batch_items(Interval.point(x), size, flush)
        assert items.is_point and isinstance(items.lo, Fraction)
        return x / items.lo

    hi_num, lo_num = per_item(lam.hi), per_item(lam.lo)
    hi = INF if hi_num == INF or calls.lo <= 0 else hi_num / calls.lo
    lo = _ZERO if calls.hi == INF or lo_num == INF else lo_num / calls.hi
    return Interval(lo, hi)


def _intersect(a: Interval, b: Interval) -> Interval:
    return Interval(max(a.lo, b.lo), min(a.hi, b.hi))


def _sum(items: list[Interval]) -> Interval:
    total = items[0]
    for item in items[1:]:
        total = add(total, item)
    return total


def _finite_min(items: list[Interval | None]) -> Interval | None:
    found = [i for i in items if i is not None]
    return minimum(found) if found else None


def proves(prop: TemporalProperty, ranges: Ranges) -> bool:
    """Whether the ranges prove the property (see the module docstring)."""
    lookup = ranges.lookup

    if prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE):
        assert prop.trigger is not None
        # the trigger holds at every step (so at step 0 and at the last step), and
        # the predicate is evaluated at every step too, so it must be defined
        if evaluate_truth(prop.trigger, lookup) is not Truth.TRUE:
            return False
        return evaluate_truth(prop.predicate, lookup) is not Truth.UNDEFINED
    return evaluate_truth(prop.predicate, lookup) is Truth.TRUE


def refutes(prop: TemporalProperty, ranges: Ranges) -> bool:
    """Whether the ranges show the property's target false at *every* reachable
    step (so any allowed environment violates it at once)."""
    lookup = ranges.lookup

    target = (
        prop.trigger
        if prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE)
        else prop.predicate
    )
    assert target is not None
    return evaluate_truth(target, lookup) is Truth.FALSE


def service_env(name: str) -> tuple[str, str]:
    return service_ms_name(name), failure_rate_name(name)
