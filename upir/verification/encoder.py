"""The model equations and predicates as Z3 terms (the same equations as
:mod:`upir.verification.reference`, see ``docs/model.md``).

An :class:`Unrolling` is one unrolled trace: environment variables per step (free
but for their physical domains and the assumptions), queue-length state variables
per step, and terms for every quantity, built lazily so a property only pays for
its cone of influence. Parameters are exact values, or Z3 terms when a caller (the
synthesizer) leaves them symbolic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import TypeAlias

from upir.core.specification import Assumption
from upir.errors import SolverError
from upir.expr.ast import names
from upir.verification import equations as eq
from upir.verification import z3util as z
from upir.verification.equations import Z3 as Z
from upir.verification.exprs import Lookup, defined, encode_bool, encode_num, has_division
from upir.verification.structure import (
    ARRIVAL,
    EnvDomain,
    Structure,
    drain_rps_name,
    failure_rate_name,
    service_ms_name,
)
from upir.verification.z3util import Formula, Term

__all__ = [
    "Lookup",
    "ParamValue",
    "Unrolling",
    "as_term",
    "assumption_group",
    "defined",
    "domain_constraint",
    "encode_bool",
    "encode_num",
    "has_division",
]

ParamValue: TypeAlias = Fraction | Term

_K = Fraction(1000)


def as_term(x: ParamValue) -> Term:
    return z.num(x) if isinstance(x, Fraction) else x


def domain_constraint(var: Term, dom: EnvDomain) -> list[Formula]:
    out: list[Formula] = []
    if dom.lower is not None:
        lo = z.num(dom.lower)
        out.append(var > lo if dom.lower_strict else var >= lo)
    if dom.upper is not None:
        out.append(var <= z.num(dom.upper))
    return out


# -- the model ------------------------------------------------------------------


class Unrolling:
    """An unrolled trace of the model for one check.

    Args:
        st: the architecture's structure.
        params: every ``<component>.<param>``, exact or symbolic.
        step_ms: step length, ms.
        assumptions: the specification's assumptions; the ones sharing names
            with the variables used are asserted at every step (see
            :meth:`constraints`).
        choices: for symbolic integer parameters that appear as exponents
            (``retries``), the finite set of values they range over.
        tag: a prefix making variable names unique per unrolling.
    """

    def __init__(
        self,
        st: Structure,
        params: Mapping[str, ParamValue],
        step_ms: int,
        assumptions: Sequence[Assumption] = (),
        choices: Mapping[str, Sequence[int]] | None = None,
        tag: str = "",
    ) -> None:
        self.st = st
        self.params = params
        self.step_ms = Fraction(step_ms)
        self.assumptions = tuple(assumptions)
        self.choices = dict(choices or {})
        self.tag = tag
        self._env: dict[tuple[str, int], Term] = {}
        self._len: dict[tuple[str, int], Term] = {}
        self._memo: dict[tuple[str, str, int], Term | None] = {}
        self._outside = 0
        self.initial_free = False
        self.empty: frozenset[str] = frozenset()
        """Queues proved empty in every reachable state (an inductive invariant):
        their length is the constant 0 and they pass their inflow straight on
        (inflow never exceeds their drain, or they would fill)."""

    # -- variables ---------------------------------------------------------
    def env(self, name: str, t: int) -> Term:
        key = (name, t)
        var = self._env.get(key)
        if var is None:
            var = z.real(f"{self.tag}{name}@{t}")
            self._env[key] = var
        return var

    def length(self, queue: str, t: int) -> Term:
        if queue in self.empty:
            return z.num(0)
        key = (queue, t)
        var = self._len.get(key)
        if var is None:
            var = z.real(f"{self.tag}{queue}.length@{t}")
            self._len[key] = var
        return var

    def env_vars(self) -> dict[tuple[str, int], Term]:
        return dict(self._env)

    def length_vars(self) -> dict[tuple[str, int], Term]:
        return dict(self._len)

    def param(self, key: str) -> ParamValue:
        return self.params[key]

    # -- memo ----------------------------------------------------------------
    def _get(self, kind: str, name: str, t: int, build: Callable[[], Term | None]) -> Term | None:
        key = (kind, name, t)
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def _term(self, kind: str, name: str, t: int, build: Callable[[], Term]) -> Term:
        result = self._get(kind, name, t, build)
        assert result is not None
        return result

    # -- services ------------------------------------------------------------
    def attempt(self, c: str, t: int) -> Term:
        def build() -> Term:
            s = self.env(service_ms_name(c), t)
            return eq.attempt_ms(Z, s, as_term(self.param(f"{c}.timeout_ms")))

        return self._term("attempt", c, t, build)

    def failure_prob(self, c: str, t: int) -> Term:
        def build() -> Term:
            s = self.env(service_ms_name(c), t)
            f = self.env(failure_rate_name(c), t)
            return eq.failure_prob(Z, s, as_term(self.param(f"{c}.timeout_ms")), f)

        return self._term("p", c, t, build)

    def _by_retries(self, c: str, build: Callable[[int], Term]) -> Term:
        retries = self.param(f"{c}.retries")
        if isinstance(retries, Fraction):
            return build(int(retries))
        values = self.choices.get(f"{c}.retries")
        if not values:
            raise SolverError(f"symbolic {c}.retries needs a finite set of values")
        # Outside the listed values the quantity is a fresh free term, so the
        # chain itself rules no value out: the parameter's domain constraint
        # (asserted and labelled on its own) does, and so appears in an unsat
        # core when a wider domain would have helped.
        self._outside += 1
        result: Term = z.real(f"{self.tag}{c}.retries!outside#{self._outside}")
        for r in reversed(values):
            result = z.ite(retries == z.num(r), build(r), result)
        return result

    def expected_attempts(self, c: str, t: int) -> Term:
        def build() -> Term:
            p = self.failure_prob(c, t)
            return self._by_retries(c, lambda r: eq.expected_attempts(Z, p, r))

        return self._term("E", c, t, build)

    def success(self, c: str, t: int) -> Term:
        """The share of served requests whose attempts do not all fail."""

        def build() -> Term:
            p = self.failure_prob(c, t)
            return self._by_retries(c, lambda r: eq.availability(Z, p, r))

        return self._term("success", c, t, build)

    def availability(self, c: str, t: int) -> Term:
        def build() -> Term:
            share = eq.served_share(Z, self.in_rps(c, t), self.capacity(c, t))
            return eq.service_availability(Z, share, self.success(c, t))

        return self._term("avail", c, t, build)

    def shed(self, c: str, t: int) -> Term:
        return self._term(
            "shed", c, t, lambda: eq.shed_rps(Z, self.in_rps(c, t), self.capacity(c, t))
        )

    def call(self, c: str, t: int) -> Term:
        def build() -> Term:
            a, p = self.attempt(c, t), self.failure_prob(c, t)
            attempts = as_term(self.param(f"{c}.retries")) + 1
            return eq.call_ms(Z, a, p, attempts)

        return self._term("call", c, t, build)

    def work(self, c: str, t: int) -> Term:
        return self._term(
            "work",
            c,
            t,
            lambda: eq.work_ms(
                Z, self.in_rps(c, t), self.attempt(c, t), self.expected_attempts(c, t)
            ),
        )

    def budget(self, c: str, t: int) -> Term:
        def build() -> Term:
            feeders = self.st.batch_feeders(c)
            items = z.min_([self.batch_items(f, t) for f in feeders]) if feeders else z.num(1)
            return eq.slot_budget(Z, self.slots(c), items)

        return self._term("budget", c, t, build)

    def utilization(self, c: str, t: int) -> Term:
        return self._term("util", c, t, lambda: self.work(c, t) / self.budget(c, t))

    def slots(self, c: str) -> Term:
        return as_term(self.param(f"{c}.replicas")) * as_term(self.param(f"{c}.concurrency"))

    def saturated(self, c: str, t: int) -> Formula:
        # utilization >= 1, i.e. arrival >= capacity (eq.saturated), stated
        # without divisions
        return self.work(c, t) >= self.budget(c, t)

    def wait(self, c: str, t: int, system: bool = False) -> Term:
        """The p99 wait for a slot (``system``: at the service's share of the
        end-to-end 1%); its value at saturation (0) is never read by a
        defined predicate (:meth:`finite`)."""

        def build() -> Term:
            ln_q = self.st.system_ln if system else eq.LN100
            wait = eq.wait_ms_of_load(
                Z, self.call(c, t), self.slots(c), self.work(c, t), self.budget(c, t), ln_q
            )
            return z.ite(self.saturated(c, t), z.num(0), wait)

        return self._term("syswait" if system else "wait", c, t, build)

    def latency(self, c: str, t: int, system: bool = False) -> Term:
        def build() -> Term:
            call = self.call(c, t)
            wait = self.wait(c, t, system)
            return z.ite(self.saturated(c, t), call, eq.latency_ms(Z, call, wait))

        return self._term("syslat" if system else "lat", c, t, build)

    def finite(self, t: int) -> Callable[[str], Formula | None]:
        """Where a name has a finite value at step ``t`` (None: everywhere):
        a service's latency and wait below saturation, the system latency when
        no service is saturated (docs/model.md section 3.1)."""

        def at(name: str) -> Formula | None:
            scope, _, attr = name.partition(".")
            if scope == "system":
                if attr != "latency_ms":
                    return None
                services = self.st.of_type("service")
                return z.and_([z.not_(self.saturated(c, t)) for c in services])
            if self.st.types.get(scope) == "service" and attr in ("latency_ms", "wait_ms"):
                return z.not_(self.saturated(c=scope, t=t))
            return None

        return at

    def calls_capacity(self, c: str, t: int) -> Term:
        def build() -> Term:
            return eq.calls_capacity(
                Z,
                as_term(self.param(f"{c}.replicas")),
                as_term(self.param(f"{c}.concurrency")),
                self.attempt(c, t),
                self.expected_attempts(c, t),
            )

        return self._term("calls", c, t, build)

    def capacity(self, c: str, t: int) -> Term:
        def build() -> Term:
            feeders = self.st.batch_feeders(c)
            k = self.calls_capacity(c, t)
            if not feeders:
                return k
            return k * z.min_([self.batch_items(f, t) for f in feeders])

        return self._term("cap", c, t, build)

    def accept(self, c: str, t: int) -> Term | None:
        """Largest rate ``c`` takes in steadily; None when unbounded."""

        def build() -> Term | None:
            ctype = self.st.types[c]
            if ctype == "queue":
                return None
            if ctype == "batcher":
                found = [a for a in (self.accept(s, t) for s in self.st.succs[c]) if a is not None]
                return z.min_(found) if found else None
            k = self.calls_capacity(c, t)
            feeders = self.st.batch_feeders(c)
            if not feeders:
                return k
            return z.min_(
                [
                    eq.sustained(
                        Z,
                        k,
                        as_term(self.param(f"{f}.batch_size")),
                        as_term(self.param(f"{f}.flush_ms")),
                    )
                    for f in feeders
                ]
            )

        return self._get("accept", c, t, build)

    # -- flows ---------------------------------------------------------------
    def in_rps(self, c: str, t: int) -> Term:
        def build() -> Term:
            preds = self.st.preds[c]
            if not preds:
                return self.env(ARRIVAL, t)
            total = self.out_rps(preds[0], t)
            for p in preds[1:]:
                total = total + self.out_rps(p, t)
            return total

        return self._term("in", c, t, build)

    def out_rps(self, c: str, t: int) -> Term:
        def build() -> Term:
            ctype = self.st.types[c]
            if ctype == "service":
                return eq.served_unless(
                    Z, self.in_rps(c, t), self.capacity(c, t), self.saturated(c, t)
                )
            if ctype == "batcher":
                return self.in_rps(c, t)
            return self.drained(c, t) * z.num(_K / self.step_ms)

        return self._term("out", c, t, build)

    def batch_items(self, c: str, t: int) -> Term:
        def build() -> Term:
            return eq.batch_items(
                Z,
                self.in_rps(c, t),
                as_term(self.param(f"{c}.batch_size")),
                as_term(self.param(f"{c}.flush_ms")),
            )

        return self._term("batch", c, t, build)

    def batch_wait(self, c: str, t: int) -> Term:
        def build() -> Term:
            return eq.batch_wait(
                Z,
                self.in_rps(c, t),
                as_term(self.param(f"{c}.batch_size")),
                as_term(self.param(f"{c}.flush_ms")),
            )

        return self._term("bwait", c, t, build)

    # -- queues --------------------------------------------------------------
    def drain(self, q: str, t: int) -> Term | None:
        def build() -> Term | None:
            if self.st.env_drained(q):
                return self.env(drain_rps_name(q), t)
            found = [a for a in (self.accept(s, t) for s in self.st.succs[q]) if a is not None]
            return z.min_(found) if found else None

        return self._get("drain", q, t, build)

    def drained(self, q: str, t: int) -> Term:
        def build() -> Term:
            if q in self.empty:
                return self.in_items(q, t)
            d = self.drain(q, t)
            limit = None if d is None else d * z.num(self.step_ms / _K)
            return eq.drained(Z, self.length(q, t), self.in_items(q, t), limit)

        return self._term("drained", q, t, build)

    def in_items(self, q: str, t: int) -> Term:
        return self._term("in_items", q, t, lambda: self.in_rps(q, t) * z.num(self.step_ms / _K))

    def dropped(self, q: str, t: int) -> Term:
        def build() -> Term:
            if q in self.empty:
                return z.num(0)
            return eq.dropped(
                Z,
                self.length(q, t),
                self.in_items(q, t),
                self.drained(q, t),
                as_term(self.param(f"{q}.capacity")),
            )

        return self._term("dropped", q, t, build)

    def next_length(self, q: str, t: int) -> Term:
        def build() -> Term:
            if q in self.empty:
                return z.num(0)
            return eq.next_length(
                Z,
                self.length(q, t),
                self.in_items(q, t),
                self.drained(q, t),
                as_term(self.param(f"{q}.capacity")),
            )

        return self._term("next", q, t, build)

    def queue_wait(self, q: str, t: int) -> Term:
        def build() -> Term:
            if q in self.empty:
                return z.num(0)
            return eq.queue_wait(Z, self.length(q, t), self.drain(q, t))

        return self._term("qwait", q, t, build)

    # -- system ----------------------------------------------------------------
    def own_latency(self, c: str, t: int) -> Term:
        ctype = self.st.types[c]
        if ctype == "service":
            return self.latency(c, t, system=True)
        if ctype == "queue":
            return self.queue_wait(c, t)
        return self.batch_wait(c, t)

    def path_latency(self, c: str, t: int) -> Term:
        def build() -> Term:
            upstream = [self.path_latency(p, t) for p in self.st.preds[c]]
            return eq.path_latency(Z, self.own_latency(c, t), upstream)

        return self._term("plat", c, t, build)

    def queue_pass(self, q: str, t: int) -> Term:
        def build() -> Term:
            if q in self.empty:
                return z.num(1)
            return eq.queue_pass(Z, self.in_items(q, t), self.dropped(q, t))

        return self._term("qpass", q, t, build)

    def own_availability(self, c: str, t: int) -> Term:
        ctype = self.st.types[c]
        if ctype == "service":
            return self.availability(c, t)
        if ctype == "queue":
            return self.queue_pass(c, t)
        return z.num(1)

    def request_availability(self, entry: str, t: int) -> Term:
        def build() -> Term:
            copies = [(self.own_availability(n, t), k) for n, k in self.st.copies[entry]]
            return eq.request_availability(Z, copies)

        return self._term("ravail", entry, t, build)

    def system(self, attr: str, t: int) -> Term:
        sinks = self.st.sinks
        if attr == "latency_ms":
            return z.max_([self.path_latency(s, t) for s in sinks])
        if attr == "availability":
            return z.min_([self.request_availability(e, t) for e in self.st.entries])
        if attr == "loss":
            return eq.loss(Z, self.system("availability", t))
        if attr == "throughput_rps":
            return z.min_([self.out_rps(s, t) for s in sinks])
        if attr == "cost":
            total: Term = z.num(0)
            for c in self.st.of_type("service"):
                total = total + as_term(self.param(f"{c}.replicas")) * as_term(
                    self.param(f"{c}.cost_per_replica")
                )
            return total
        raise SolverError(f"unknown system quantity system.{attr}")

    # -- names ---------------------------------------------------------------
    def value(self, name: str, t: int) -> Term:
        """The term for a dotted name at step ``t``."""
        scope, _, attr = name.partition(".")
        if scope == "env":
            return self.env(name, t)
        if scope == "system":
            return self.system(attr, t)
        ctype = self.st.types[scope]
        derived: dict[str, Callable[[str, int], Term]]
        if ctype == "service":
            derived = {
                "latency_ms": self.latency,
                "wait_ms": self.wait,
                "call_ms": self.call,
                "shed_rps": self.shed,
                "availability": self.availability,
                "attempt_ms": self.attempt,
                "capacity_rps": self.capacity,
                "arrival_rps": self.in_rps,
                "throughput_rps": self.out_rps,
            }
            if attr == "utilization":
                return self.utilization(scope, t)
        elif ctype == "queue":
            derived = {
                "length": lambda c, t: self.length(c, t),
                "dropped": self.dropped,
                "wait_ms": self.queue_wait,
                "arrival_rps": self.in_rps,
                "throughput_rps": self.out_rps,
            }
        else:
            derived = {
                "wait_ms": self.batch_wait,
                "latency_ms": self.batch_wait,
                "batch_items": self.batch_items,
                "arrival_rps": self.in_rps,
                "throughput_rps": self.out_rps,
            }
        fn = derived.get(attr)
        if fn is not None:
            return fn(scope, t)
        return as_term(self.param(name))

    def lookup(self, t: int) -> Lookup:
        return lambda name: self.value(name, t)

    # -- constraints -----------------------------------------------------------
    def transition(self, t: int) -> list[Formula]:
        """length[t+1] as a function of step t, for every queue whose length at
        t+1 has a variable."""
        out: list[Formula] = []
        for (q, u), var in list(self._len.items()):
            if u == t + 1:
                out.append(var == self.next_length(q, t))
        return out

    def state_bounds(self, t: int) -> list[Formula]:
        """0 <= length <= capacity: holds in every reachable state."""
        out: list[Formula] = []
        for (q, u), var in list(self._len.items()):
            if u == t:
                out.append(var >= 0)
                out.append(var <= as_term(self.param(f"{q}.capacity")))
        return out

    def initial(self) -> list[Formula]:
        """Queues start empty."""
        return [var == 0 for (q, u), var in self._len.items() if u == 0]

    def environment(self, steps: Iterable[int]) -> list[Formula]:
        """Physical domains of every environment variable created so far, and
        every assumption that shares a name with them (closed under sharing), at
        each of ``steps``. May create more variables (of the assumptions)."""
        step_list = list(steps)
        used = {name for (name, _) in self._env}
        group = assumption_group(self.assumptions, used)
        out: list[Formula] = []
        for t in step_list:
            lookup = self.lookup(t)
            for a in group:
                out.append(encode_bool(a.expr, lookup))
                if has_division(a.expr):
                    out.append(defined(a.expr, lookup))
        for (name, t), var in list(self._env.items()):
            if t in step_list:
                out.extend(domain_constraint(var, self.st.domain(name)))
        return out


def assumption_group(assumptions: Sequence[Assumption], used: Iterable[str]) -> list[Assumption]:
    """The assumptions that constrain ``used`` names: those sharing a name with
    them, closed under sharing names with each other, and every assumption that
    names no variable (``false``, ``1 > 2``: a constant that holds or rules out
    every environment at once). The rest constrain independent variables and
    cannot change a verdict (when satisfiable)."""
    names_of = [names(a.expr) for a in assumptions]
    reach = set(used)
    picked = [not ns for ns in names_of]
    changed = True
    while changed:
        changed = False
        for i, ns in enumerate(names_of):
            if not picked[i] and ns & reach:
                picked[i] = True
                reach |= ns
                changed = True
    return [a for a, keep in zip(assumptions, picked, strict=True) if keep]
