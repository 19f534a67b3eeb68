"""What the general simulator runs: a graph of services, queues and batchers.

:class:`Network` is the simulator's own description of a system: nodes with
float parameters (the UPIR's, under the same names), a service-time
distribution and a failure rate per service, and a drain rate for a queue with
no consumer. :func:`network_from_upir` builds one from a UPIR: parameters from
its architecture (catalogue defaults filled), environment from its
assumptions, read as the verifier reads them (``upir.verification.contracts.
env_boxes``), so the simulated environment is one the proofs cover.

Service times (:class:`ServiceTime`, documented in docs/simulator.md):
``exponential`` is ``lo + Exponential(mean - lo)`` capped at ``hi`` (a long
tail inside the assumed range; the default, with ``mean`` the middle of the
range); ``uniform`` is uniform on ``[lo, hi]``; ``constant`` is ``mean``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError

__all__ = [
    "DEFAULT_SERVICE_MS",
    "DISTRIBUTIONS",
    "Network",
    "Node",
    "ServiceTime",
    "assumed_arrival_rps",
    "network_from_upir",
]

DISTRIBUTIONS = ("exponential", "uniform", "constant")
DEFAULT_SERVICE_MS = 10.0
"""Mean service time of a service whose assumptions bound no service time, ms."""

# parameter -> (whole number?, lowest value): the catalogue's physical bounds
_RULES: dict[str, dict[str, tuple[bool, float]]] = {
    "service": {
        "replicas": (True, 1),
        "concurrency": (True, 1),
        "timeout_ms": (False, 1e-9),
        "retries": (True, 0),
        "cost_per_replica": (False, 0),
    },
    "queue": {"capacity": (True, 1)},
    "batcher": {"batch_size": (True, 1), "flush_ms": (False, 0)},
}
_DEFAULTS: dict[str, dict[str, float]] = {
    "service": {
        "replicas": 1,
        "concurrency": 1,
        "timeout_ms": 1000,
        "retries": 0,
        "cost_per_replica": 1,
    },
    "queue": {"capacity": 1000},
    "batcher": {"batch_size": 1, "flush_ms": 0},
}
MAX_SLOTS = 100_000
MAX_RETRIES = 100
MAX_CORES = 10_000
"""The most CPUs per replica a node may have (:attr:`Node.cores`)."""


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """The distribution of one attempt's service time, ms."""

    kind: str = "exponential"
    """``exponential`` (default), ``uniform`` or ``constant``."""
    lo: float = 0.0
    """Smallest value, ms (>= 0)."""
    hi: float = math.inf
    """Largest value, ms (>= lo; infinite: no cap)."""
    mean: float = DEFAULT_SERVICE_MS
    """Mean before the cap at ``hi`` (exponential), or the value (constant), ms."""
    per_item_ms: float = 0.0
    """Added per item of the call's batch, ms (>= 0; 0: a batch costs one draw,
    as in docs/model.md section 6)."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        if self.kind not in DISTRIBUTIONS:
            issues.append(FieldIssue("kind", f"must be one of {', '.join(DISTRIBUTIONS)}"))
        if not (math.isfinite(self.lo) and self.lo >= 0):
            issues.append(FieldIssue("lo", f"must be a finite number >= 0, got {self.lo!r}"))
        elif not self.hi >= self.lo:
            issues.append(FieldIssue("hi", f"must be >= lo, got {self.hi!r}"))
        if not (math.isfinite(self.mean) and self.mean > 0):
            issues.append(FieldIssue("mean", f"must be a finite number > 0, got {self.mean!r}"))
        if not (math.isfinite(self.per_item_ms) and self.per_item_ms >= 0):
            issues.append(FieldIssue("per_item_ms", "must be a finite number >= 0"))
        if self.kind == "uniform" and not math.isfinite(self.hi):
            issues.append(FieldIssue("hi", "a uniform service time needs a finite hi"))
        if issues:
            raise InvalidSpecError(issues)

    def sample(self, u: float) -> float:
        """The service time for a uniform draw ``u`` in [0, 1) (inverse CDF)."""
        if self.kind == "exponential":
            spread = max(self.mean - self.lo, 0.0)
            return min(self.hi, self.lo - spread * math.log1p(-u))
        if self.kind == "uniform":
            return self.lo + u * (self.hi - self.lo)
        return self.mean

    def positive_floor(self) -> float:
        """A service never takes zero time: the engine uses at least this, ms."""
        return 1e-6


@dataclass(frozen=True, slots=True)
class Node:
    """One component: its type, parameters (UPIR names) and environment."""

    name: str
    type: str
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    service_time: ServiceTime = field(default_factory=ServiceTime)
    """Per-attempt service time (services only)."""
    failure_rate: float = 0.0
    """Probability one attempt fails (services only), in [0, 1]."""
    drain_rps: float | None = None
    """Drain rate of a queue with no consumer, items/s (None: drains at once)."""
    calls: bool = False
    """Services only: an attempt calls the downstream path and waits for it (the
    reference workload's gateway): it is answered when every copy it sent has
    left the graph, the timeout cuts the whole call, and the slot is held until
    the answer. Off (docs/model.md): the timeout cuts the service's own work."""
    sheds: bool = True
    """Services only: give up an item that waited in the service's own line
    longer than its caller's budget ``timeout_ms x (retries + 1)`` (default).
    Off: it waits as long as it takes (the reference workload's gateway, whose
    line has no deadline: its clients see the wait as latency)."""
    cores: int | None = None
    """Services only: CPUs per replica (>= 1), or None (default) for no CPU
    contention. With cores set, a call takes the least-loaded replica with a
    free slot, and its attempts are stretched by ``max(1, a / cores)``, ``a``
    the calls running on that replica when it starts (itself included; fixed
    for the call): concurrency beyond the cores adds latency, not throughput."""

    def value(self, param: str) -> float:
        """The parameter, else the catalogue default."""
        return float(self.params.get(param, _DEFAULTS[self.type][param]))


@dataclass(frozen=True, slots=True)
class Network:
    """A directed acyclic graph of nodes; validated on construction."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        names = [n.name for n in self.nodes]
        if not names:
            issues.append(FieldIssue("nodes", "needs at least one component"))
        if len(set(names)) != len(names):
            issues.append(FieldIssue("nodes", "component names must be unique"))
        for n in self.nodes:
            issues += _node_issues(n)
        known = set(names)
        for a, b in self.edges:
            if a not in known or b not in known:
                issues.append(FieldIssue("edges", f"{a} -> {b} names an unknown component"))
        if not issues and self.order() is None:
            issues.append(FieldIssue("edges", "the connections form a cycle"))
        if issues:
            raise InvalidSpecError(issues)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def successors(self, name: str) -> tuple[str, ...]:
        return tuple(b for a, b in self.edges if a == name)

    def predecessors(self, name: str) -> tuple[str, ...]:
        return tuple(a for a, b in self.edges if b == name)

    def order(self) -> tuple[str, ...] | None:
        """Names in topological order, or None when there is a cycle."""
        indeg = {n.name: 0 for n in self.nodes}
        for _, b in self.edges:
            indeg[b] += 1
        ready = [n.name for n in self.nodes if indeg[n.name] == 0]
        out: list[str] = []
        while ready:
            cur = ready.pop(0)
            out.append(cur)
            for b in self.successors(cur):
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
        return tuple(out) if len(out) == len(self.nodes) else None

    def with_params(self, values: Mapping[str, float]) -> Network:
        """A copy with ``<component>.<param>`` values replaced."""
        by_node: dict[str, dict[str, float]] = {}
        for key, v in values.items():
            comp, _, param = key.partition(".")
            by_node.setdefault(comp, {})[param] = float(v)
        nodes = tuple(
            Node(
                n.name,
                n.type,
                {**n.params, **by_node[n.name]},
                n.service_time,
                n.failure_rate,
                n.drain_rps,
                n.calls,
                n.sheds,
                n.cores,
            )
            if n.name in by_node
            else n
            for n in self.nodes
        )
        return Network(nodes, self.edges)


def _node_issues(n: Node) -> list[FieldIssue]:
    rules = _RULES.get(n.type)
    if rules is None:
        return [FieldIssue(n.name, f"unknown component type {n.type!r}")]
    issues: list[FieldIssue] = []
    for param, value in n.params.items():
        rule = rules.get(param)
        where = f"{n.name}.{param}"
        if rule is None:
            continue  # extra parameters are the user's own; the simulator ignores them
        whole, lo = rule
        ok = isinstance(value, int | float) and math.isfinite(value) and value >= lo
        if ok and whole and not float(value).is_integer():
            ok = False
        if not ok:
            kind = "a whole number" if whole else "a number"
            issues.append(FieldIssue(where, f"must be {kind} >= {lo:g}, got {value!r}"))
    if issues:
        return issues
    if n.type == "service":
        if n.value("replicas") * n.value("concurrency") > MAX_SLOTS:
            issues.append(
                FieldIssue(
                    f"{n.name}.concurrency", f"replicas x concurrency must be <= {MAX_SLOTS}"
                )
            )
        if n.value("retries") > MAX_RETRIES:
            issues.append(FieldIssue(f"{n.name}.retries", f"must be <= {MAX_RETRIES}"))
        if not 0 <= n.failure_rate <= 1:
            issues.append(FieldIssue(f"{n.name}.failure_rate", "must be in [0, 1]"))
    if n.calls and n.type != "service":
        issues.append(FieldIssue(f"{n.name}.calls", "only a service calls downstream"))
    if n.cores is not None:
        if n.type != "service":
            issues.append(FieldIssue(f"{n.name}.cores", "only a service has CPU cores"))
        elif n.calls:
            issues.append(
                FieldIssue(f"{n.name}.cores", "a calling service (calls) cannot have cores")
            )
        elif not (
            isinstance(n.cores, int) and not isinstance(n.cores, bool) and 1 <= n.cores <= MAX_CORES
        ):
            issues.append(
                FieldIssue(
                    f"{n.name}.cores",
                    f"must be a whole number in [1, {MAX_CORES}], got {n.cores!r}",
                )
            )
    if n.drain_rps is not None and not (math.isfinite(n.drain_rps) and n.drain_rps > 0):
        issues.append(FieldIssue(f"{n.name}.drain_rps", "must be a finite number > 0"))
    return issues


def _f(x: Fraction | float) -> float:
    return float(x)


def network_from_upir(
    upir: UPIR,
    values: Mapping[str, Fraction] | None = None,
    *,
    distribution: str = "exponential",
    calls: tuple[str, ...] = (),
    cores: Mapping[str, int] | None = None,
) -> Network:
    """The UPIR's architecture with ``values`` applied, in the environment its
    assumptions allow: each service's time drawn from ``distribution`` inside
    the assumed range of ``env.<service>_service_ms`` (mean: the middle of the
    range; :data:`DEFAULT_SERVICE_MS` when no upper bound is assumed), its
    failure rate the assumed upper bound of ``env.<service>_failure_rate`` (0
    when no assumption names it), and a consumer-less queue's drain the assumed
    lower bound of ``env.<queue>_drain_rps`` (instant when none). ``calls``:
    services whose attempts cover their downstream path (:attr:`Node.calls`;
    a UPIR cannot say so itself). ``cores``: CPUs per replica of the services
    named (:attr:`Node.cores`; none by default: no CPU contention)."""
    from upir.expr.ast import names
    from upir.settings import SolverSettings
    from upir.verification import contracts
    from upir.verification.structure import (
        Structure,
        drain_rps_name,
        failure_rate_name,
        service_ms_name,
    )

    if distribution not in DISTRIBUTIONS:
        raise InvalidSpecError(
            [FieldIssue("distribution", f"must be one of {', '.join(DISTRIBUTIONS)}")]
        )
    u = upir.with_params(values) if values else upir
    arch = u.architecture
    unknown = [
        c for c in calls if not (arch.has_component(c) and arch.component(c).type == "service")
    ]
    if unknown:
        raise InvalidSpecError(
            [FieldIssue("--calls", f"not a service of this UPIR: {', '.join(unknown)}")]
        )
    cores = dict(cores or {})
    not_services = [
        c for c in cores if not (arch.has_component(c) and arch.component(c).type == "service")
    ]
    if not_services:
        raise InvalidSpecError(
            [FieldIssue("--cores", f"not a service of this UPIR: {', '.join(not_services)}")]
        )
    st = Structure(arch)
    assumptions = u.specification.assumptions
    mentioned: set[str] = set()
    for a in assumptions:
        mentioned |= names(a.expr)
    wanted = set(st.env_domains) | {n for n in mentioned if n.startswith("env.")}
    boxes = contracts.env_boxes(st, assumptions, wanted, SolverSettings())
    if boxes is None:
        raise InvalidSpecError(
            [FieldIssue("spec.specification.assumptions", "allow no environment to simulate")]
        )
    nodes: list[Node] = []
    for comp in arch.components:
        params = {k: _f(v) for k, v in comp.effective_params().items()}
        if comp.type == "service":
            box = boxes.get(service_ms_name(comp.name))
            lo = _f(box.lo) if box is not None and box.lo != -math.inf else 0.0
            hi = _f(box.hi) if box is not None and box.hi != math.inf else math.inf
            lo = max(lo, 0.0)
            if service_ms_name(comp.name) not in mentioned or not math.isfinite(hi):
                mean = max(DEFAULT_SERVICE_MS, lo)
                hi = math.inf if distribution != "uniform" else max(2 * mean - lo, lo)
            else:
                mean = (lo + hi) / 2 if hi > lo else max(hi, 1e-6)
            if mean <= 0:
                mean = 1e-3
            kind = distribution if hi > lo else "constant"
            f_name = failure_rate_name(comp.name)
            fbox = boxes.get(f_name)
            fail = _f(fbox.hi) if f_name in mentioned and fbox is not None else 0.0
            nodes.append(
                Node(
                    comp.name,
                    comp.type,
                    params,
                    ServiceTime(kind, lo, hi, mean),
                    min(max(fail, 0.0), 1.0),
                    calls=comp.name in calls,
                    cores=cores.get(comp.name),
                )
            )
        elif comp.type == "queue" and not arch.successors(comp.name):
            d_name = drain_rps_name(comp.name)
            dbox = boxes.get(d_name)
            drain = _f(dbox.lo) if d_name in mentioned and dbox is not None else None
            nodes.append(Node(comp.name, comp.type, params, drain_rps=drain or None))
        else:
            nodes.append(Node(comp.name, comp.type, params))
    edges = tuple((c.source, c.target) for c in arch.connections)
    return Network(tuple(nodes), edges)


def assumed_arrival_rps(upir: UPIR) -> float | None:
    """The upper bound the assumptions put on ``env.arrival_rps`` (None if none),
    as the verifier reads it."""
    from upir.expr.ast import names
    from upir.settings import SolverSettings
    from upir.verification import contracts
    from upir.verification.structure import Structure

    assumptions = upir.specification.assumptions
    if not any("env.arrival_rps" in names(a.expr) for a in assumptions):
        return None
    st = Structure(upir.architecture)
    boxes = contracts.env_boxes(st, assumptions, {"env.arrival_rps"}, SolverSettings())
    if not boxes or "env.arrival_rps" not in boxes:
        return None
    hi = boxes["env.arrival_rps"].hi
    return float(hi) if math.isfinite(float(hi)) else None


def entry_points(net: Network) -> Sequence[str]:
    """Nodes no connection points to (each takes ``env.arrival_rps``)."""
    targets = {b for _, b in net.edges}
    return [n.name for n in net.nodes if n.name not in targets]
