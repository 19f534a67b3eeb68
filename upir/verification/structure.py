"""The architecture as the models see it: graph roles, environment names, and the
dependency analysis (cone of influence, statefulness) of every quantity.

Conventions (documented in ``docs/model.md``):

* ``env.arrival_rps``: requests per second entering *each* entry point (a
  component nothing connects to);
* ``env.<service>_service_ms``: one attempt's service time of a service, ms, > 0;
* ``env.<service>_failure_rate``: probability that one attempt fails, in [0, 1];
* ``env.<queue>_drain_rps``: rate at which a queue with no modelled consumer (no
  outgoing connection) is drained by something outside the model, > 0.

Every environment name is free at every step except for its physical domain and
the assumptions; a name no assumption mentions is unbounded within its domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from upir.core.architecture import Architecture
from upir.expr.ast import Expr, names
from upir.verification.equations import ln_upper
from upir.verification.memo import IdentityMemo

MODEL_VERSION = "upir-model-2"
"""Version of the model equations and encoder; part of every proof-cache key
and named by every certificate. Bump it whenever an equation or the encoding
changes a verdict. Model 2 (docs/model.md): a service's latency includes the
wait for a slot and has no finite bound at utilization >= 1, shedding counts
against availability, queue drops too, and ``system.loss`` is new."""

ARRIVAL = "env.arrival_rps"


def service_ms_name(component: str) -> str:
    return f"env.{component}_service_ms"


def failure_rate_name(component: str) -> str:
    return f"env.{component}_failure_rate"


def drain_rps_name(component: str) -> str:
    return f"env.{component}_drain_rps"


@dataclass(frozen=True, slots=True)
class EnvDomain:
    """Physical domain of an environment name: ``lower`` (inclusive unless
    ``lower_strict``) and optional ``upper`` (inclusive)."""

    lower: Fraction | None
    lower_strict: bool = False
    upper: Fraction | None = None

    def contains(self, value: Fraction) -> bool:
        if self.lower is not None:
            if value < self.lower or (self.lower_strict and value == self.lower):
                return False
        return not (self.upper is not None and value > self.upper)


RATE_DOMAIN = EnvDomain(Fraction(0))
TIME_DOMAIN = EnvDomain(Fraction(0), lower_strict=True)
PROBABILITY_DOMAIN = EnvDomain(Fraction(0), upper=Fraction(1))
DRAIN_DOMAIN = EnvDomain(Fraction(0), lower_strict=True)
FREE_DOMAIN = EnvDomain(None)


@dataclass(frozen=True, slots=True)
class Support:
    """What a quantity depends on: components (their parameters and place in the
    graph), environment names, and whether it depends on state (queue contents)."""

    components: frozenset[str] = frozenset()
    env: frozenset[str] = frozenset()
    stateful: bool = False

    def __or__(self, other: Support) -> Support:
        return Support(
            self.components | other.components,
            self.env | other.env,
            self.stateful or other.stateful,
        )


def union(items: Iterable[Support]) -> Support:
    out = Support()
    for item in items:
        out = out | item
    return out


class Structure:
    """Graph roles of every component, derived once per architecture shape.

    It depends only on the shape (:func:`shape_key`), so a caller may reuse one
    across parameter changes. Not thread-safe to *build*; read-only use from many
    threads is safe (the support memo only ever gains equal entries)."""

    def __init__(self, arch: Architecture) -> None:
        self.types: dict[str, str] = {c.name: c.type for c in arch.components}
        self.order: tuple[str, ...] = arch.topological_order()
        self.preds: dict[str, tuple[str, ...]] = {n: () for n in self.order}
        self.succs: dict[str, tuple[str, ...]] = {n: () for n in self.order}
        for conn in arch.connections:
            self.succs[conn.source] += (conn.target,)
            self.preds[conn.target] += (conn.source,)
        self.entries = tuple(n for n in self.order if not self.preds[n])
        self.sinks = tuple(n for n in self.order if not self.succs[n])
        self._support: dict[tuple[str, str], Support] = {}
        self._domain_texts: dict[str, str] = {}
        # per-property facts memoized by callers (the verifier's cones)
        self.memo: IdentityMemo[object, tuple[Support, list[object]]] = IdentityMemo(65536)

    # -- roles -------------------------------------------------------------
    def of_type(self, ctype: str) -> tuple[str, ...]:
        return tuple(n for n in self.order if self.types[n] == ctype)

    def batch_feeders(self, name: str) -> tuple[str, ...]:
        """The batchers feeding a service when *all* its inputs are batchers
        (it then serves one batch per call); empty otherwise."""
        preds = self.preds[name]
        if preds and all(self.types[p] == "batcher" for p in preds):
            return preds
        return ()

    def accept_finite(self, name: str) -> bool:
        """Whether the rate ``name`` can accept is bounded: a service accepts up
        to its capacity, a queue accepts everything (it buffers or drops), a
        batcher passes on what its consumers accept."""
        ctype = self.types[name]
        if ctype == "service":
            return True
        if ctype == "queue":
            return False
        return any(self.accept_finite(s) for s in self.succs[name])

    def env_drained(self, queue: str) -> bool:
        """A queue with no outgoing connection is drained by the environment."""
        return not self.succs[queue]

    def drain_finite(self, queue: str) -> bool:
        return self.env_drained(queue) or any(self.accept_finite(s) for s in self.succs[queue])

    def model_env(self) -> dict[str, EnvDomain]:
        """Every environment name the model equations use, with its domain."""
        out: dict[str, EnvDomain] = {}
        if self.order:
            out[ARRIVAL] = RATE_DOMAIN
        for name in self.order:
            if self.types[name] == "service":
                out[service_ms_name(name)] = TIME_DOMAIN
                out[failure_rate_name(name)] = PROBABILITY_DOMAIN
            elif self.types[name] == "queue" and self.env_drained(name):
                out[drain_rps_name(name)] = DRAIN_DOMAIN
        return out

    @cached_property
    def copies(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """Per entry point, each component a request entering there reaches,
        with the number of paths to it (the copies of the request it sees),
        in topological order."""
        out: dict[str, tuple[tuple[str, int], ...]] = {}
        for entry in self.entries:
            paths = {n: 0 for n in self.order}
            paths[entry] = 1
            for n in self.order:
                for s in self.succs[n]:
                    paths[s] += paths[n]
            out[entry] = tuple((n, k) for n, k in paths.items() if k > 0)
        return out

    @cached_property
    def system_ln(self) -> Fraction:
        """``ln_q`` of the services' waits inside ``system.latency_ms``: the
        quantile ``1 / (100 n)`` for ``n`` services, so that the sum along
        any path is exceeded by at most 1% of requests (union bound,
        docs/model.md section 8)."""
        return ln_upper(len(self.of_type("service")))

    @cached_property
    def env_domains(self) -> Mapping[str, EnvDomain]:
        return self.model_env()

    def domain(self, env_name: str) -> EnvDomain:
        return self.env_domains.get(env_name, FREE_DOMAIN)

    def domain_text(self, env_name: str) -> str:
        """The domain as text (part of proof-cache keys), memoized."""
        found = self._domain_texts.get(env_name)
        if found is None:
            found = repr(self.domain(env_name))
            self._domain_texts[env_name] = found
        return found

    # -- dependency analysis -----------------------------------------------
    def support(self, kind: str, name: str) -> Support:
        """Support of one internal quantity ``kind`` of component ``name``
        (kinds: own, b, cap, util, in, out, accept, queue, batch, piece)."""
        key = (kind, name)
        found = self._support.get(key)
        if found is None:
            found = self._compute(kind, name)
            self._support[key] = found
        return found

    def _compute(self, kind: str, name: str) -> Support:
        ctype = self.types[name]
        me = Support(frozenset({name}))
        if kind == "own":
            if ctype != "service":
                return me
            return Support(
                frozenset({name}), frozenset({service_ms_name(name), failure_rate_name(name)})
            )
        if kind == "in":
            if not self.preds[name]:
                return Support(frozenset({name}), frozenset({ARRIVAL}))
            return me | union(self.support("out", p) for p in self.preds[name])
        if kind == "b":
            return me | union(
                Support(frozenset(self.preds[name]))
                if not self.batch_feeders(name)
                else self.support("batch", p)
                for p in self.preds[name]
            )
        if kind == "cap":
            return self.support("own", name) | self.support("b", name)
        if kind == "batch":
            return me | self.support("in", name)
        if kind == "queue":
            if self.env_drained(name):
                drain = Support(env=frozenset({drain_rps_name(name)}))
            else:
                drain = union(
                    self.support("accept", s) | Support(frozenset({s})) for s in self.succs[name]
                )
            s = me | self.support("in", name) | drain
            return Support(s.components, s.env, True)
        if kind == "accept":
            if ctype == "service":
                # calls capacity and the feeding batchers' parameters, no flows
                return self.support("own", name) | Support(frozenset(self.preds[name]))
            if ctype == "queue":
                return me
            return me | union(
                self.support("accept", s) | Support(frozenset({s})) for s in self.succs[name]
            )
        if kind == "util":
            return self.support("in", name) | self.support("cap", name)
        if kind == "piece":
            # what the composition's piece of ``name`` reads (its inflow; a
            # service's capacity, utilization and own quantities; a queue's
            # drain; a batcher's batches)
            if ctype == "service":
                return self.support("util", name) | self.support("out", name)
            if ctype == "queue":
                return self.support("queue", name)
            return self.support("batch", name) | self.support("out", name)
        if kind == "out":
            if ctype == "service":
                return self.support("in", name) | self.support("cap", name)
            if ctype == "queue":
                return self.support("queue", name)
            return self.support("in", name)
        raise ValueError(f"unknown quantity kind {kind!r}")

    def name_support(self, dotted: str) -> Support:
        """Support of a name an expression may use."""
        scope, _, attr = dotted.partition(".")
        if scope == "env":
            return Support(env=frozenset({dotted}))
        if scope == "system":
            return self._system_support(attr)
        if scope not in self.types:
            raise KeyError(dotted)
        ctype = self.types[scope]
        kind = _DERIVED_KIND.get((ctype, attr))
        if kind is None:  # a parameter
            return Support(frozenset({scope}))
        return self.support(kind, scope)

    def _system_support(self, attr: str) -> Support:
        if attr == "latency_ms":
            return union(self._latency_support(n) for n in self.order)
        if attr in ("availability", "loss"):
            # every service's served share, every queue's drops
            return union(
                self.support("util", n)
                if self.types[n] == "service"
                else self.support("queue", n)
                if self.types[n] == "queue"
                else Support(frozenset({n}))
                for n in self.order
            )
        if attr == "cost":
            return Support(frozenset(self.of_type("service")))
        if attr == "throughput_rps":
            return union(self.support("out", n) for n in self.sinks) | Support(
                frozenset(self.sinks)
            )
        raise KeyError(f"system.{attr}")

    def _latency_support(self, name: str) -> Support:
        ctype = self.types[name]
        if ctype == "service":
            # the wait for a slot reads the utilization
            return self.support("util", name)
        return self.support("queue" if ctype == "queue" else "batch", name)

    def expr_support(self, exprs: Iterable[Expr | None]) -> Support:
        found: set[str] = set()
        for e in exprs:
            if e is not None:
                found |= names(e)
        return union(self.name_support(n) for n in sorted(found))


# (component type, derived name) -> internal quantity kind
_DERIVED_KIND: dict[tuple[str, str], str] = {
    ("service", "latency_ms"): "util",
    ("service", "wait_ms"): "util",
    ("service", "call_ms"): "own",
    ("service", "shed_rps"): "util",
    ("service", "availability"): "util",
    ("service", "attempt_ms"): "own",
    ("service", "capacity_rps"): "cap",
    ("service", "utilization"): "util",
    ("service", "throughput_rps"): "out",
    ("service", "arrival_rps"): "in",
    ("queue", "length"): "queue",
    ("queue", "dropped"): "queue",
    ("queue", "wait_ms"): "queue",
    ("queue", "arrival_rps"): "in",
    ("queue", "throughput_rps"): "queue",
    ("batcher", "wait_ms"): "batch",
    ("batcher", "latency_ms"): "batch",
    ("batcher", "batch_items"): "batch",
    ("batcher", "throughput_rps"): "out",
    ("batcher", "arrival_rps"): "in",
}


def shape_key(arch: Architecture) -> tuple[object, ...]:
    """What a :class:`Structure` depends on: names, types and connections (not
    parameter values), so callers can memoize structures across parameter changes."""
    return (
        tuple((c.name, c.type) for c in arch.components),
        tuple((c.source, c.target) for c in arch.connections),
    )
