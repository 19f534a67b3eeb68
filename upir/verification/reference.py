"""Pure-Python reference evaluation of the model equations, with exact rationals.

This module never touches Z3. It computes every quantity of every component at
every step from the parameters and an environment trace, evaluates predicates with
:func:`upir.expr.evaluate`, and gives the temporal operators their bounded-LTL
meaning. The verifier uses it to build counterexample traces and, through
:func:`replay`, to re-check every counterexample independently of the solver.
The equations are the ones in ``docs/model.md``; :mod:`upir.verification.encoder`
states the same equations for Z3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.expr import EvaluationError, evaluate
from upir.expr.ast import BinOp, Expr, Name, names
from upir.verification import equations as eq
from upir.verification.equations import EXACT as X
from upir.verification.structure import (
    ARRIVAL,
    DRAIN_DOMAIN,
    PROBABILITY_DOMAIN,
    RATE_DOMAIN,
    Structure,
    drain_rps_name,
    failure_rate_name,
    service_ms_name,
)

_ONE = Fraction(1)
_ZERO = Fraction(0)
_K = Fraction(1000)

UNBOUNDED = "@unbounded"
"""Suffix of the marker of a quantity with no finite bound at this step (the
latency and wait of a saturated service, and then the system latency): the
quantity keeps a value for sums, but a predicate that reads it is undefined,
like a division by zero (docs/model.md section 3.1)."""
SATURATED = "@saturated"
"""Number of saturated services at this step (absent when none)."""


class StepResult:
    """All values at one step (``values``: name -> exact value, for predicates)
    and the queue lengths at the next step."""

    def __init__(self, values: dict[str, Fraction], next_lengths: dict[str, Fraction]) -> None:
        self.values = values
        self.next_lengths = next_lengths


def _finite_min(items: Sequence[Fraction | None]) -> Fraction | None:
    """min over the finite items; None (unbounded) when there are none."""
    finite = [x for x in items if x is not None]
    return min(finite) if finite else None


def step(
    st: Structure,
    params: Mapping[str, Fraction],
    env: Mapping[str, Fraction],
    lengths: Mapping[str, Fraction],
    step_ms: Fraction,
) -> StepResult:
    """Evaluate the model at one step.

    Args:
        st: the architecture's structure.
        params: every ``<component>.<param>`` (defaults filled).
        env: every environment name the model uses (``st.env_domains``) and any
            other ``env.*`` name the predicates mention.
        lengths: each queue's length at this step, items.
        step_ms: the step length, ms.
    """
    v: dict[str, Fraction] = dict(params)
    v.update(env)
    out: dict[str, Fraction] = {}
    path_lat: dict[str, Fraction] = {}
    own_avs: dict[str, Fraction] = {}
    next_lengths: dict[str, Fraction] = {}
    saturated: list[str] = []

    def calls_capacity(name: str) -> Fraction:
        """Calls per second the pool completes: 1000*R*C / (attempt_ms * E)."""
        p = f"{name}."
        return eq.calls_capacity(
            X,
            params[p + "replicas"],
            params[p + "concurrency"],
            v[p + "attempt_ms"],
            v[p + "@expected_attempts"],
        )

    def accept_of(name: str) -> Fraction | None:
        """Largest rate ``name`` can take in steadily (None: unbounded)."""
        ctype = st.types[name]
        if ctype == "queue":
            return None
        if ctype == "batcher":
            return _finite_min([accept_of(s) for s in st.succs[name]])
        k = calls_capacity(name)
        feeders = st.batch_feeders(name)
        if not feeders:
            return k
        return min(
            eq.sustained(X, k, params[f"{f}.batch_size"], params[f"{f}.flush_ms"]) for f in feeders
        )

    def in_rps(name: str) -> Fraction:
        preds = st.preds[name]
        return env[ARRIVAL] if not preds else sum((out[x] for x in preds), _ZERO)

    def batch_items(name: str) -> Fraction:
        p = f"{name}."
        return eq.batch_items(X, in_rps(name), params[p + "batch_size"], params[p + "flush_ms"])

    def capacity(name: str) -> Fraction:
        feeders = st.batch_feeders(name)
        b = min(batch_items(f) for f in feeders) if feeders else _ONE
        return calls_capacity(name) * b

    # Own quantities of services need nothing from the graph.
    for name in st.of_type("service"):
        p = f"{name}."
        s, f = env[service_ms_name(name)], env[failure_rate_name(name)]
        timeout, retries = params[p + "timeout_ms"], int(params[p + "retries"])
        a = eq.attempt_ms(X, s, timeout)
        prob = eq.failure_prob(X, s, timeout, f)
        v[p + "attempt_ms"] = a
        v[p + "@failure_prob"] = prob
        v[p + "@expected_attempts"] = eq.expected_attempts(X, prob, retries)
        v[p + "@success"] = eq.availability(X, prob, retries)
        v[p + "call_ms"] = eq.call_ms(X, a, prob, Fraction(retries + 1))

    for name in st.order:
        ctype = st.types[name]
        p = f"{name}."
        lam = in_rps(name)
        v[p + "arrival_rps"] = lam
        own_av: Fraction | None = None
        if ctype == "service":
            cap = capacity(name)
            util = lam / cap  # = eq.utilization (the encoder's form), exactly
            v[p + "capacity_rps"] = cap
            v[p + "utilization"] = util
            v[p + "shed_rps"] = eq.shed_rps(X, lam, cap)
            share = eq.served_share(X, lam, cap)
            v[p + "availability"] = eq.service_availability(X, share, v[p + "@success"])
            out[name] = eq.served(X, lam, cap)
            call = v[p + "call_ms"]
            if eq.saturated(X, lam, cap):
                # no finite bound: the names stay bound (to the longest call,
                # for sums along paths) but a predicate that reads them fails
                saturated.append(name)
                v[p + "wait_ms"] = _ZERO
                v[p + "latency_ms"] = call
                v[p + "wait_ms" + UNBOUNDED] = v[p + "latency_ms" + UNBOUNDED] = _ONE
                own_lat = call
            else:
                slots = params[p + "replicas"] * params[p + "concurrency"]
                wait = eq.wait_ms(X, call, slots, util)
                v[p + "wait_ms"] = wait
                v[p + "latency_ms"] = eq.latency_ms(X, call, wait)
                # inside the end-to-end sum, each service at its share of the 1%
                wait = eq.wait_ms(X, call, slots, util, st.system_ln)
                own_lat = eq.latency_ms(X, call, wait)
            own_av = v[p + "availability"]
        elif ctype == "batcher":
            v[p + "batch_items"] = batch_items(name)
            wait = eq.batch_wait(X, lam, params[p + "batch_size"], params[p + "flush_ms"])
            v[p + "wait_ms"] = wait
            v[p + "latency_ms"] = wait
            out[name] = lam
            own_lat = wait
        else:
            cap_items = params[p + "capacity"]
            length = lengths[name]
            in_items = lam * step_ms / _K
            if st.env_drained(name):
                drain: Fraction | None = env[drain_rps_name(name)]
            else:
                drain = _finite_min([accept_of(s) for s in st.succs[name]])
            gone = eq.drained(X, length, in_items, None if drain is None else drain * step_ms / _K)
            wait = eq.queue_wait(X, length, drain)
            v[p + "length"] = length
            lost = eq.dropped(X, length, in_items, gone, cap_items)
            v[p + "dropped"] = lost
            own_av = eq.queue_pass(X, in_items, lost)
            v[p + "wait_ms"] = wait
            next_lengths[name] = eq.next_length(X, length, in_items, gone, cap_items)
            out[name] = gone * _K / step_ms
            own_lat = wait
        v[p + "throughput_rps"] = out[name]
        preds = st.preds[name]
        path_lat[name] = eq.path_latency(X, own_lat, [path_lat[x] for x in preds])
        own_avs[name] = _ONE if own_av is None else own_av

    v["system.latency_ms"] = max(path_lat[s] for s in st.sinks)
    if saturated:
        # every component lies on a path to a sink
        v["system.latency_ms" + UNBOUNDED] = _ONE
        v[SATURATED] = Fraction(len(saturated))
    v["system.availability"] = min(
        eq.request_availability(X, [(own_avs[n], k) for n, k in copies])
        for copies in st.copies.values()
    )
    v["system.loss"] = eq.loss(X, v["system.availability"])
    v["system.cost"] = sum(
        (params[f"{n}.replicas"] * params[f"{n}.cost_per_replica"] for n in st.of_type("service")),
        _ZERO,
    )
    v["system.throughput_rps"] = min(out[s] for s in st.sinks)
    return StepResult(v, next_lengths)


def simulate(
    st: Structure,
    params: Mapping[str, Fraction],
    env_trace: Sequence[Mapping[str, Fraction]],
    step_ms: Fraction,
    initial: Mapping[str, Fraction] | None = None,
) -> list[dict[str, Fraction]]:
    """Values at every step of ``env_trace``, starting from empty queues (or
    ``initial`` lengths)."""
    lengths = {q: _ZERO for q in st.of_type("queue")}
    if initial:
        lengths.update(initial)
    trace: list[dict[str, Fraction]] = []
    for env in env_trace:
        result = step(st, params, env, lengths, step_ms)
        trace.append(result.values)
        lengths = result.next_lengths
    return trace


def first_failing_step(
    st: Structure,
    params: Mapping[str, Fraction],
    env: Mapping[str, Fraction],
    predicate: Expr,
    step_ms: Fraction,
    max_steps: int,
) -> int | None:
    """Under ``env`` held constant from empty queues: the first step (at most
    ``max_steps``) where ``predicate`` is false or divides by zero."""
    lengths = {q: _ZERO for q in st.of_type("queue")}
    for t in range(max_steps + 1):
        result = step(st, params, env, lengths, step_ms)
        if truth(predicate, result.values) is not True:
            return t
        if result.next_lengths == lengths:
            return None  # a fixed point: every later step is the same
        lengths = result.next_lengths
    return None


def constant_fill(
    st: Structure,
    params: Mapping[str, Fraction],
    env: Mapping[str, Fraction],
    step_ms: Fraction,
) -> dict[str, Fraction]:
    """Items per step by which each queue fills under ``env`` held constant
    from empty queues (0 for a queue that stays empty).

    Why this is a closed form: under a constant environment every flow is
    constant from step 0. A service passes ``min(arrival, capacity)``, a batcher
    its arrival, and a queue drains ``min(length + in, d * step)``, which is
    ``in`` at every step when ``in <= d * step`` (it never holds an item) and
    ``d * step`` at every step otherwise (from step 0 on, ``length + in >= in >
    d * step``). So each queue's inflow and outflow are constants, and its
    length at step ``t`` is ``min(capacity, t * fill)``."""
    empty = {q: _ZERO for q in st.of_type("queue")}
    first = step(st, params, env, empty, step_ms)
    return {q: first.next_lengths[q] for q in st.of_type("queue")}


def constant_lengths(
    st: Structure,
    params: Mapping[str, Fraction],
    fill: Mapping[str, Fraction],
    t: int,
) -> dict[str, Fraction]:
    """Each queue's length at step ``t`` under a constant environment whose
    :func:`constant_fill` is ``fill``: ``min(capacity, t * fill)``."""
    return {q: min(params[f"{q}.capacity"], t * fill[q]) for q in st.of_type("queue")}


def saturation_step(params: Mapping[str, Fraction], fill: Mapping[str, Fraction]) -> int:
    """The first step from which every filling queue is full (so every later
    step looks the same): ``max ceil(capacity / fill)``, 0 when none fills."""
    steps = [-(-params[f"{q}.capacity"] // f) for q, f in fill.items() if f > 0]
    return int(max(steps, default=0))


def constant_values(
    st: Structure,
    params: Mapping[str, Fraction],
    env: Mapping[str, Fraction],
    step_ms: Fraction,
    t: int,
) -> dict[str, Fraction]:
    """Every value at step ``t`` under ``env`` held constant from empty queues,
    in closed form (:func:`constant_fill`): one step's work whatever ``t`` is."""
    lengths = constant_lengths(st, params, constant_fill(st, params, env, step_ms), t)
    return step(st, params, env, lengths, step_ms).values


def public_values(values: Mapping[str, Fraction]) -> dict[str, Fraction]:
    """Values without the internal ``@`` helpers, and without the quantities
    that have no finite bound at this step (see :func:`unbounded_names`)."""
    return {k: x for k, x in values.items() if "@" not in k and k + UNBOUNDED not in values}


def unbounded_names(values: Mapping[str, Fraction]) -> list[str]:
    """The quantities with no finite bound at this step (a saturated service's
    latency and wait, and the system latency), sorted."""
    n = len(UNBOUNDED)
    return sorted(k[:-n] for k in values if k.endswith(UNBOUNDED))


# -- temporal semantics ---------------------------------------------------------


def _divides_by_zero(err: EvaluationError) -> bool:
    return isinstance(err.expr, BinOp) and err.expr.op in ("/", "%")


def truth(expr: Expr, values: Mapping[str, Fraction]) -> bool | None:
    """The predicate's value, or None when it divides by zero or reads a
    quantity with no finite bound (:data:`UNBOUNDED`); both are reached in
    evaluation order, so a guarded ``x.utilization >= 1 or x.latency_ms < 5``
    is defined."""
    hidden: frozenset[str] = frozenset()
    view = values
    if SATURATED in values:
        hidden = frozenset(n for n in names(expr) if n + UNBOUNDED in values)
        if hidden:
            view = {k: x for k, x in values.items() if k not in hidden}
    try:
        result = evaluate(expr, view)
    except EvaluationError as err:
        if _divides_by_zero(err):
            return None
        if isinstance(err.expr, Name) and err.expr.name in hidden:
            return None
        raise
    return bool(result)


def within_steps(bound_ms: Fraction, step_ms: Fraction) -> int:
    """Steps a WITHIN bound allows: p must hold at some step t with t*step_ms <= bound."""
    return int(bound_ms // step_ms)


def property_holds(
    prop: TemporalProperty, trace: Sequence[Mapping[str, Fraction]], step_ms: Fraction
) -> bool:
    """Bounded-LTL truth of ``prop`` on a finite trace (steps 0..len-1).

    A predicate that divides by zero at any step of the trace makes the property
    fail (division by zero is a proof obligation)."""
    horizon = len(trace) - 1
    if prop.operator is TemporalOperator.WITHIN:
        assert prop.time_bound_ms is not None
        horizon = min(horizon, within_steps(prop.time_bound_ms, step_ms))
    ps: list[bool] = []
    qs: list[bool] = []
    for values in trace[: horizon + 1]:
        p = truth(prop.predicate, values)
        q = truth(prop.trigger, values) if prop.trigger is not None else False
        if p is None or q is None:
            return False
        ps.append(p)
        qs.append(q)
    op = prop.operator
    if op is TemporalOperator.ALWAYS:
        return all(ps)
    if op in (TemporalOperator.EVENTUALLY, TemporalOperator.WITHIN):
        return any(ps)
    if op is TemporalOperator.UNTIL:
        return any(qs[j] and all(ps[:j]) for j in range(len(ps)))
    # SINCE, evaluated at the last step
    return any(qs[j] and all(ps[j + 1 :]) for j in range(len(ps)))


def first_violation(prop: TemporalProperty, trace: Sequence[Mapping[str, Fraction]]) -> int | None:
    """For ALWAYS: the first step where the predicate fails (or divides by zero)."""
    if prop.operator is not TemporalOperator.ALWAYS:
        return None
    for t, values in enumerate(trace):
        if truth(prop.predicate, values) is not True:
            return t
    return None


# -- replay ------------------------------------------------------------------------

_FILLER = {
    "arrival": Fraction(0),
    "service_ms": Fraction(1),
    "failure_rate": Fraction(0),
    "drain_rps": Fraction(1),
}


def filler_env(
    st: Structure, known: Mapping[str, Fraction], extra: set[str]
) -> dict[str, Fraction]:
    """``known`` completed with a value in its physical domain for every other
    name the model uses and 0 for free names in ``extra``.

    For the synthesizer's and the audit's internal runs only, where the filled
    names lie outside what is being checked. Never for a counterexample: a
    filled value need not satisfy the assumptions, and a queue the verifier
    proved empty may fill under it (use :func:`complete_env`)."""
    env = dict(known)
    for name, dom in st.env_domains.items():
        if name in env:
            continue
        if dom is RATE_DOMAIN:
            env[name] = _FILLER["arrival"]
        elif dom is PROBABILITY_DOMAIN:
            env[name] = _FILLER["failure_rate"]
        elif dom is DRAIN_DOMAIN:
            env[name] = _FILLER["drain_rps"]
        else:
            env[name] = _FILLER["service_ms"]
    for name in extra:
        env.setdefault(name, _ZERO)
    return env


def complete_env(
    known: Mapping[str, Fraction], witness: Mapping[str, Fraction]
) -> dict[str, Fraction]:
    """``known`` completed from ``witness``, an environment the assumptions
    allow (every name of the model, the assumptions and the properties).

    Sound when ``known`` is closed under the assumptions (every assumption that
    names one of its names names only its names, as the solver's environment
    constraints are): the two parts then satisfy disjoint sets of assumptions,
    so the union satisfies them all."""
    return {**witness, **known}


def required_env(st: Structure, upir: UPIR, prop: TemporalProperty) -> frozenset[str]:
    """Every environment name a replay of ``prop`` needs a value for: the
    model's, the assumptions' and the property's own."""
    out = set(st.env_domains)
    for a in upir.specification.assumptions:
        out |= names(a.expr)
    for e in (prop.predicate, prop.trigger):
        if e is not None:
            out |= {n for n in names(e) if n.startswith("env.")}
    return frozenset(out)


def env_allowed(st: Structure, upir: UPIR, env: Mapping[str, Fraction]) -> bool:
    """Whether one step's environment lies in the physical domains and satisfies
    every assumption whose names it binds (assumptions over other names are
    independent of it). An assumption it binds only partly makes it invalid."""
    for name, value in env.items():
        if not st.domain(name).contains(value):
            return False
    for assumption in upir.specification.assumptions:
        used = names(assumption.expr)
        bound = used & env.keys()
        if used and not bound:
            continue
        if bound != used:
            return False
        if truth(assumption.expr, env) is not True:
            return False
    return True


def replay(upir: UPIR, prop: TemporalProperty, cex: object, st: Structure | None = None) -> bool:
    """True when ``cex`` (a :class:`~upir.verification.results.Counterexample`)
    really violates ``prop`` for ``upir``: its parameters are ``upir``'s, every
    step's environment binds every name the model, the assumptions and the
    property use (nothing is filled in), lies in the physical domains and
    satisfies every assumption, and the recomputed run violates the property.

    A constant counterexample of an ALWAYS property is checked at its
    ``violated_at`` step in closed form (:func:`constant_values`), so a queue
    that overflows after a million steps replays in one step's work; any other
    is simulated step by step. Uses only exact Python arithmetic (no solver)."""
    from upir.verification.results import Counterexample

    if not isinstance(cex, Counterexample):
        raise TypeError("replay needs a Counterexample")
    st = st if st is not None else Structure(upir.architecture)
    params = upir.param_values()
    for key, value in cex.params.items():
        if params.get(key) != value:
            return False
    needed = required_env(st, upir, prop)
    step_ms = Fraction(cex.step_ms)
    if not cex.env or any(not needed <= e.keys() for e in cex.env):
        return False
    if not all(env_allowed(st, upir, e) for e in cex.env):
        return False
    if cex.constant:
        if len(cex.env) != 1:
            return False
        if prop.operator is TemporalOperator.ALWAYS and cex.violated_at is not None:
            at = cex.violated_at
            if not 0 <= at <= cex.horizon:
                return False
            values = constant_values(st, params, cex.env[0], step_ms, at)
            return truth(prop.predicate, values) is not True
        steps = [cex.env[0]] * (cex.horizon + 1)
    else:
        steps = list(cex.env)
        if len(steps) != cex.horizon + 1:
            return False
    trace = simulate(st, params, steps, step_ms)
    return not property_holds(prop, trace, step_ms)
