"""The CEGIS constraints: properties with *symbolic* holes under *fixed*
environments, and the optimization objectives.

A counterexample from the verifier is a concrete run: the environment at every
step (queues start empty). For hole values ``h`` to be acceptable, every
property must hold on that run with parameters ``h``; the run is allowed by the
assumptions whatever ``h`` is, so this is a *necessary* condition for a proof
(the package docstring argues each case). The encoding reuses the verifier's
model equations (:class:`upir.verification.encoder.Unrolling`) with the
parameters left symbolic and the environment replaced by constants, so the two
can never disagree about the model.

Names a counterexample does not bind lie outside the property's cone of
influence; they get the same filler values the verifier's replay uses
(:func:`upir.verification.reference.filler_env`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.expr.ast import names
from upir.settings import SolverSettings
from upir.synthesis.sketch import Hole, Sketch
from upir.verification import Counterexample, Structure, reference
from upir.verification import z3util as z
from upir.verification.encoder import ParamValue, Unrolling
from upir.verification.engine import horizon_for
from upir.verification.exprs import defined, encode_bool, needs_guard
from upir.verification.structure import Support
from upir.verification.z3util import Formula, Term

MAX_ENCODED_STEPS = 256
"""Longest run a counterexample constraint unrolls (steps); longer runs (rare
steady-state violations) only exclude the candidate that produced them."""

Env = Mapping[str, Fraction]


class UnboundName(Exception):
    """A counterexample does not bind a name the encoding needs."""


class FixedEnvUnrolling(Unrolling):
    """An unrolling whose environment is a given constant at every step.

    When the environment is the same at every step, a queue with no queue
    upstream of it has a constant inflow ``I`` and a constant drain ``D`` (items
    per step), and its length has a closed form: from empty,
    ``length(t) = min(capacity, t * max(0, I - D))`` (by induction on the
    transition ``length' = min(capacity, max(0, length + I - D))``). Using it
    instead of one state variable per step spares the solver the case split of
    every step's ``min`` (a several-fold speed-up on stateful runs)."""

    def __init__(
        self,
        st: Structure,
        params: Mapping[str, ParamValue],
        step_ms: int,
        envs: Sequence[Env],
        choices: Mapping[str, Sequence[int]],
        tag: str,
        closed_form: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(st, params, step_ms, (), choices, tag)
        self._fixed = tuple(envs)
        constant = all(e == self._fixed[0] for e in self._fixed[1:])
        self._closed = closed_form if constant else frozenset()
        self._closed_memo: dict[tuple[str, int], Term] = {}

    def env(self, name: str, t: int) -> Term:
        value = self._fixed[t].get(name)
        if value is None:
            raise UnboundName(name)
        return z.num(value)

    def length(self, queue: str, t: int) -> Term:
        if queue not in self._closed:
            return super().length(queue, t)
        key = (queue, t)
        found = self._closed_memo.get(key)
        if found is None:
            drain = self.drain(queue, 0)
            if drain is None or t == 0:
                found = z.num(0)
            else:
                growth = self.in_items(queue, 0) - drain * z.num(self.step_ms / 1000)
                per_step = z.max_([z.num(0), growth])
                found = z.min_([_as_term(self.param(f"{queue}.capacity")), per_step * z.num(t)])
            self._closed_memo[key] = found
        return found


@dataclass(frozen=True, slots=True)
class Instance:
    """One property required on one run: what the solver gets, and what an
    explanation says about it."""

    prop: TemporalProperty
    formula: Formula
    env: tuple[Env, ...]
    steps: int
    kind: str = "run"
    """``step`` (each environment on its own), ``run`` (from empty queues over
    ``steps`` steps) or ``steady`` (the environment held until queues settle)."""


def env_names(prop: TemporalProperty) -> set[str]:
    found: set[str] = set()
    for e in (prop.predicate, prop.trigger):
        if e is not None:
            found |= {n for n in names(e) if n.startswith("env.")}
    return found


def semantics(op: TemporalOperator, ps: Sequence[Formula], qs: Sequence[Formula]) -> Formula:
    """Bounded-LTL truth at step 0 over the given steps (SINCE: at the last one),
    as ``docs/model.md`` section 10 defines it."""
    if op is TemporalOperator.ALWAYS:
        return z.and_(ps)
    if op in (TemporalOperator.EVENTUALLY, TemporalOperator.WITHIN):
        return z.or_(ps)
    if op is TemporalOperator.UNTIL:
        return z.or_(z.and_([qs[j], *ps[:j]]) for j in range(len(ps)))
    return z.or_(z.and_([qs[j], *ps[j + 1 :]]) for j in range(len(ps)))


class Encoder:
    """Builds hole terms, counterexample constraints and objectives for one sketch
    (in the calling thread's Z3 context)."""

    def __init__(self, sketch: Sketch, settings: SolverSettings) -> None:
        self.sketch = sketch
        self.upir: UPIR = sketch.upir
        self.settings = settings
        self.st = Structure(self.upir.architecture)
        self.terms: dict[str, Term] = {h.name: hole_term(h) for h in sketch.holes}
        self.params: dict[str, ParamValue] = {**sketch.fixed, **self.terms}
        self.choices: dict[str, list[int]] = {
            h.name: [int(v) for v in h.values()] for h in sketch.holes if h.param == "retries"
        }
        self._supports: dict[str, Support] = {}
        self._count = 0
        # queues with no queue upstream: constant inflow under a constant run
        self.closed_form = frozenset(
            q for q in self.st.of_type("queue") if not _queue_upstream(self.st, q)
        )

    # -- holes ---------------------------------------------------------------
    def domain(self, hole: Hole) -> Formula:
        """``min <= value <= top``; the grid and integrality are in the term."""
        t = self.terms[hole.name]
        return z.and_([t >= z.num(hole.min), t <= z.num(hole.top)])

    def equals(self, values: Mapping[str, Fraction]) -> Formula:
        """The holes take exactly ``values``."""
        return z.and_([self.terms[k] == z.num(v) for k, v in values.items()])

    # -- counterexamples -----------------------------------------------------
    def support(self, prop: TemporalProperty) -> Support:
        found = self._supports.get(prop.name)
        if found is None:
            found = self.st.expr_support([prop.predicate, prop.trigger])
            self._supports[prop.name] = found
        return found

    def usable(self, cex: Counterexample) -> bool:
        """Whether every step of the run is an environment the assumptions allow
        (checked exactly, without the solver) and it uses the model's step."""
        if cex.step_ms != self.settings.step_ms:
            return False
        return all(reference.env_allowed(self.st, self.upir, e) for e in cex.env)

    def covers(self, prop: TemporalProperty, cex: Counterexample) -> bool:
        """Whether ``cex`` binds every environment name in ``prop``'s cone, so
        that it can constrain ``prop`` too (not only the property it refutes)."""
        bound = set(cex.env[0]) if cex.env else set()
        for e in cex.env[1:]:
            bound &= set(e)
        return self.support(prop).env <= bound

    def instances(self, prop: TemporalProperty, cex: Counterexample, own: bool) -> list[Instance]:
        """``prop`` required on the run of ``cex`` (``own``: ``cex`` refutes
        ``prop`` itself), strongest first. Empty when the run cannot be encoded
        (too long, or it leaves a needed name unbound).

        For a stateful ALWAYS property on a constant run, the first instance is
        the *steady state* of that environment held on (:meth:`_steady`): one
        step, and it refutes every value whose queues fill and then violate,
        not only the values that violate within the run's length."""
        support = self.support(prop)
        extra = env_names(prop)
        out: list[Instance] = []
        self._count += 1
        tag = f"x{self._count}!"
        steps = [cex.env[0]] * (cex.horizon + 1) if cex.constant else list(cex.env)
        constant = bool(steps) and all(e == steps[0] for e in steps[1:])
        try:
            if support.stateful and prop.operator is TemporalOperator.ALWAYS and constant:
                steady = self._steady(prop, support, steps[0], extra, f"{tag}s!")
                if steady is not None:
                    out.append(Instance(prop, steady, (steps[0],), 0, "steady"))
            runs = self._runs(prop, cex, own, support.stateful)
            if runs is None:
                return out
            if not support.stateful:
                parts = [self._stateless(prop, e, extra, f"{tag}{i}!") for i, e in enumerate(runs)]
                out.append(Instance(prop, z.and_(parts), tuple(runs), 1, "step"))
            else:
                formula = self._stateful(prop, runs, extra, tag)
                out.append(Instance(prop, formula, tuple(runs), len(runs), "run"))
        except UnboundName:
            pass
        return out

    def _runs(
        self, prop: TemporalProperty, cex: Counterexample, own: bool, stateful: bool
    ) -> list[Env] | None:
        steps = [cex.env[0]] * (cex.horizon + 1) if cex.constant else list(cex.env)
        if not steps:
            return None
        if not stateful:
            # Every step is an independent environment: one step each, deduplicated.
            seen: dict[tuple[tuple[str, Fraction], ...], Env] = {}
            for e in steps:
                seen.setdefault(tuple(sorted(e.items())), e)
            return list(seen.values())
        if prop.operator is TemporalOperator.ALWAYS:
            # any prefix of an allowed run is one; keep the part that shows the violation
            if own and cex.violated_at is not None:
                steps = steps[: cex.violated_at + 1]
        else:
            # the bounded semantics looks at exactly horizon+1 steps: truncate, or
            # extend by repeating the last environment (itself an allowed step)
            horizon, _ = horizon_for(prop, self.settings)
            steps = (steps + [steps[-1]] * (horizon + 1))[: horizon + 1]
        if len(steps) > MAX_ENCODED_STEPS:
            return None
        return steps

    def _steady(
        self, prop: TemporalProperty, support: Support, env: Env, extra: set[str], tag: str
    ) -> Formula | None:
        """``prop`` in the steady state of ``env`` held on forever: each queue of
        the cone with a positive excess (inflow minus drain per step) ends full,
        the others stay empty, the state the verifier's steady-state search
        examines (``upir.verification.engine``). Holding an allowed environment
        on is an allowed run, and every queue that fills gets full, so ALWAYS
        must hold there. The verifier only looks for that state within
        ``MAX_STEADY_STEPS`` steps; this constraint does not bound the time, so
        a buffer so large that it only overflows later does not pass for a fix
        (see the package docstring). None when the cone's queues cannot all be
        given their steady length."""
        u = FixedEnvUnrolling(
            self.st,
            self.params,
            self.settings.step_ms,
            [self._complete(env, extra)],
            self.choices,
            tag,
        )
        queues = [q for q in self.st.of_type("queue") if q in support.components]
        step = z.num(Fraction(self.settings.step_ms, 1000))
        state: list[Formula] = []
        for q in queues:
            length = u.length(q, 0)
            drain = u.drain(q, 0)
            if drain is None:
                state.append(length == z.num(0))
                continue
            excess = u.in_items(q, 0) - drain * step
            cap = _as_term(self.params[f"{q}.capacity"])
            state.append(length == z.ite(excess > z.num(0), cap, z.num(0)))
        holds = [encode_bool(prop.predicate, u.lookup(0)), *_definedness(prop, u, 0)]
        if {q for (q, _) in u.length_vars()} - set(queues):
            return None
        return z.and_([*state, *holds])

    def _complete(self, env: Env, extra: set[str]) -> dict[str, Fraction]:
        return reference.filler_env(self.st, env, extra)

    def _stateless(self, prop: TemporalProperty, env: Env, extra: set[str], tag: str) -> Formula:
        u = FixedEnvUnrolling(
            self.st,
            self.params,
            self.settings.step_ms,
            [self._complete(env, extra)],
            self.choices,
            tag,
        )
        lookup = u.lookup(0)
        use_trigger = prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE)
        target = prop.trigger if use_trigger and prop.trigger is not None else prop.predicate
        parts = [encode_bool(target, lookup)]
        parts.extend(_definedness(prop, u, 0))
        return z.and_(parts)

    def _stateful(
        self, prop: TemporalProperty, runs: Sequence[Env], extra: set[str], tag: str
    ) -> Formula:
        n = len(runs) - 1
        envs = [self._complete(e, extra) for e in runs]
        u = FixedEnvUnrolling(
            self.st, self.params, self.settings.step_ms, envs, self.choices, tag, self.closed_form
        )
        for q in self.st.of_type("queue"):
            if q in self.support(prop).components:
                for t in range(n + 1):
                    u.length(q, t)
        ps = [encode_bool(prop.predicate, u.lookup(t)) for t in range(n + 1)]
        qs = (
            [encode_bool(prop.trigger, u.lookup(t)) for t in range(n + 1)]
            if prop.trigger is not None
            else []
        )
        defs = [d for t in range(n + 1) for d in _definedness(prop, u, t)]
        frame = _frame(u, n)
        return z.and_([*frame, *defs, semantics(prop.operator, ps, qs)])

    # -- objectives ----------------------------------------------------------
    # The objectives are stated in epigraph form: an auxiliary variable bounded
    # below by every piece of a max or an absolute value, then minimized. The
    # minimum is the exact value, and the optimizer sees only linear
    # inequalities (an if-then-else objective made Z3's optimizer seconds slow).

    def objectives(self) -> tuple[list[Formula], list[tuple[str, Term]]]:
        """Definitions of the auxiliary variables, and the objectives in
        priority order: ``cost``, ``latency_bound_ms``, ``change``."""
        defs: list[Formula] = []
        latency = self._latency_bound(defs)
        change = self._change(defs)
        return defs, [("cost", self.cost()), ("latency_bound_ms", latency), ("change", change)]

    def cost(self) -> Term:
        """``system.cost``: sum over services of replicas x cost_per_replica."""
        u = Unrolling(self.st, self.params, self.settings.step_ms)
        return u.system("cost", 0)

    def _latency_bound(self, defs: list[Formula]) -> Term:
        """The worst-case end-to-end latency the parameters allow, ms: the longest
        path of per-component bounds, a service's ``(retries + 1) * timeout_ms``
        (every attempt runs to its timeout), a batcher's ``flush_ms``, a queue 0
        (its wait depends on the load, not on a bound the parameters set)."""
        path: dict[str, Term] = {}
        for c in self.st.order:
            ctype = self.st.types[c]
            if ctype == "service":
                own = self._attempts_times_timeout(c, defs)
            elif ctype == "batcher":
                own = _as_term(self.params[f"{c}.flush_ms"])
            else:
                own = z.num(0)
            preds = self.st.preds[c]
            if len(preds) <= 1:
                # a chain stays a plain linear term: the optimizer then bounds it
                # directly instead of improving an auxiliary variable step by step
                path[c] = own if not preds else own + path[preds[0]]
                continue
            here = z.real(f"obj!path!{c}")
            defs.extend(here >= own + path[p] for p in preds)
            path[c] = here
        if len(self.st.sinks) == 1:
            return path[self.st.sinks[0]]
        worst = z.real("obj!latency")
        defs.extend(worst >= path[s] for s in self.st.sinks)
        return worst

    def _attempts_times_timeout(self, c: str, defs: list[Formula]) -> Term:
        retries = self.params[f"{c}.retries"]
        timeout = self.params[f"{c}.timeout_ms"]
        if isinstance(retries, Fraction) or isinstance(timeout, Fraction):
            return (_as_term(retries) + z.num(1)) * _as_term(timeout)
        # (r + 1) * T with both symbolic is nonlinear; per value of r (a small
        # finite set) it is linear in T
        bound = z.real(f"obj!attempts!{c}")
        for r in self.choices[f"{c}.retries"]:
            defs.append(z.implies(retries == z.num(r), bound >= z.num(r + 1) * timeout))
        return bound

    def _change(self, defs: list[Formula]) -> Term:
        """Distance from the current values: sum over holes of
        ``|value - current| / (top - min)`` (each hole's domain counts as 1)."""
        total: Term = z.num(0)
        for h in self.sketch.holes:
            t = self.terms[h.name]
            scaled = (t - z.num(h.current)) * z.num(1 / h.span)
            d = z.real(f"obj!change!{h.name}")
            defs.extend([d >= scaled, d >= -scaled])
            total = total + d
        return total


def objective_values(
    sketch: Sketch, st: Structure, values: Mapping[str, Fraction]
) -> dict[str, Fraction]:
    """The objectives of :meth:`Encoder.objectives` at ``values``, computed
    exactly (without the solver, whose auxiliary variables are only tight at an
    optimum)."""
    params = {**sketch.fixed, **values}
    cost = sum(
        (params[f"{c}.replicas"] * params[f"{c}.cost_per_replica"] for c in st.of_type("service")),
        Fraction(0),
    )
    path: dict[str, Fraction] = {}
    for c in st.order:
        ctype = st.types[c]
        if ctype == "service":
            own = (params[f"{c}.retries"] + 1) * params[f"{c}.timeout_ms"]
        elif ctype == "batcher":
            own = params[f"{c}.flush_ms"]
        else:
            own = Fraction(0)
        preds = st.preds[c]
        path[c] = own + (max(path[p] for p in preds) if preds else Fraction(0))
    latency = max(path[s] for s in st.sinks)
    change = sum((abs(values[h.name] - h.current) / h.span for h in sketch.holes), Fraction(0))
    return {"cost": cost, "latency_bound_ms": latency, "change": change}


def hole_term(h: Hole) -> Term:
    """The hole's value as a real term: ``min + step * k`` with an integer ``k``
    for grids (so every model value lies on the grid), a real variable otherwise."""
    if h.step is None:
        return z.real(f"hole!{h.name}")
    return z.num(h.min) + z.num(h.step) * z.integer(f"hole!{h.name}")


def _queue_upstream(st: Structure, node: str) -> bool:
    """Whether some queue feeds ``node``, directly or through other components."""
    stack = list(st.preds[node])
    seen: set[str] = set()
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if st.types[c] == "queue":
            return True
        stack.extend(st.preds[c])
    return False


def _as_term(value: ParamValue) -> Term:
    return z.num(value) if isinstance(value, Fraction) else value


def _definedness(prop: TemporalProperty, u: Unrolling, t: int) -> list[Formula]:
    """Division by zero reached in a predicate is a violation (``docs/model.md``
    section 9), and so is reading a saturated service's latency (section 3.1);
    only predicates that divide or read a latency need the guard."""
    out: list[Formula] = []
    for e in (prop.predicate, prop.trigger):
        if e is not None and needs_guard(e):
            out.append(defined(e, u.lookup(t), u.finite(t)))
    return out


def _frame(u: Unrolling, n: int) -> list[Formula]:
    """Queues start empty and follow the transition function for ``n`` steps.
    Building a transition may reach a queue not created yet (an upstream queue's
    drained items feed this one), so create lengths until nothing new appears."""
    while True:
        for q in {q for (q, _) in u.length_vars()}:
            for t in range(n + 1):
                u.length(q, t)
        before = set(u.length_vars())
        out: list[Formula] = []
        for t in range(n):
            out.extend(u.transition(t))
        if set(u.length_vars()) == before:
            break
    out.extend(u.initial())
    return out
