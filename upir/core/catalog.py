"""The catalogue of component types and the names expressions may use.

This is the vocabulary shared by validation (which names exist), the verifier
(which quantities each component model derives) and the synthesizer (parameter
defaults). The equations themselves live in ``upir.verification`` and are
documented in ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter a component type understands.

    ``default`` applies when the resource leaves the parameter out; ``lower`` is the
    physical lower bound (inclusive) every value must respect; ``integer`` says the
    parameter only takes whole values.
    """

    name: str
    default: Fraction
    lower: Fraction
    integer: bool
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class DerivedSpec:
    """A quantity the component's model derives (read-only in expressions)."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class ComponentType:
    name: str
    params: Mapping[str, ParamSpec]
    derived: Mapping[str, DerivedSpec]
    env: Mapping[str, str]
    description: str


def _params(*specs: ParamSpec) -> Mapping[str, ParamSpec]:
    return MappingProxyType({s.name: s for s in specs})


def _derived(*specs: DerivedSpec) -> Mapping[str, DerivedSpec]:
    return MappingProxyType({s.name: s for s in specs})


_F = Fraction

SERVICE = ComponentType(
    name="service",
    description="A pool of replicas x concurrency workers called with a per-attempt timeout and retries.",
    params=_params(
        ParamSpec("replicas", _F(1), _F(1), True, "count", "instances of the service"),
        ParamSpec(
            "concurrency", _F(1), _F(1), True, "count", "requests one replica serves at once"
        ),
        ParamSpec("timeout_ms", _F(1000), _F(1), False, "ms", "per-attempt timeout of callers"),
        ParamSpec("retries", _F(0), _F(0), True, "count", "retries after a failed attempt"),
        ParamSpec("cost_per_replica", _F(1), _F(0), False, "cost units", "cost of one replica"),
    ),
    derived=_derived(
        DerivedSpec(
            "latency_ms",
            "ms",
            "p99 bound: wait for a slot plus the longest call; no finite bound at utilization >= 1",
        ),
        DerivedSpec("wait_ms", "ms", "p99 bound of the wait for a slot (below utilization 1)"),
        DerivedSpec("call_ms", "ms", "worst case: how long one call holds its slot, every attempt"),
        DerivedSpec("availability", "ratio", "mean: share of offered requests served successfully"),
        DerivedSpec("shed_rps", "req/s", "mean: offered requests per second beyond capacity"),
        DerivedSpec("capacity_rps", "req/s", "requests per second the pool can complete"),
        DerivedSpec("utilization", "ratio", "offered attempts / capacity"),
        DerivedSpec("attempt_ms", "ms", "worst case: one attempt (service time cut at timeout)"),
        DerivedSpec("arrival_rps", "req/s", "requests per second offered to the service"),
        DerivedSpec(
            "throughput_rps", "req/s", "requests per second it completes: min(offered, capacity)"
        ),
    ),
    env=MappingProxyType(
        {
            "service_ms": "per-attempt service time, ms (env.<component>_service_ms)",
            "failure_rate": "per-attempt failure probability (env.<component>_failure_rate)",
        }
    ),
)

QUEUE = ComponentType(
    name="queue",
    description="A bounded FIFO buffer between a producer and the consumers after it.",
    params=_params(
        ParamSpec("capacity", _F(1000), _F(1), True, "items", "largest number of waiting items"),
    ),
    derived=_derived(
        DerivedSpec("length", "items", "items waiting at the current step"),
        DerivedSpec("dropped", "items", "items rejected at the current step because it was full"),
        DerivedSpec("wait_ms", "ms", "time a new item waits for the backlog ahead of it to drain"),
        DerivedSpec("arrival_rps", "items/s", "items per second arriving from upstream"),
        DerivedSpec("throughput_rps", "items/s", "items per second drained to the consumers"),
    ),
    env=MappingProxyType(
        {
            "drain_rps": "drain rate when nothing in the model consumes it (env.<component>_drain_rps)"
        }
    ),
)

BATCHER = ComponentType(
    name="batcher",
    description="Groups items into batches of batch_size, flushing a partial batch after flush_ms.",
    params=_params(
        ParamSpec("batch_size", _F(1), _F(1), True, "items", "items per batch"),
        ParamSpec("flush_ms", _F(0), _F(0), False, "ms", "longest wait of a partial batch"),
    ),
    derived=_derived(
        DerivedSpec("wait_ms", "ms", "longest time an item waits for its batch to leave"),
        DerivedSpec("latency_ms", "ms", "same as wait_ms (the batcher adds no service time)"),
        DerivedSpec("throughput_rps", "items/s", "items per second leaving in batches"),
        DerivedSpec("arrival_rps", "items/s", "items per second arriving from upstream"),
        DerivedSpec(
            "batch_items", "items", "items in one batch: max(1, min(batch_size, rate x flush_ms))"
        ),
    ),
    env=MappingProxyType({}),
)

COMPONENT_TYPES: Mapping[str, ComponentType] = MappingProxyType(
    {t.name: t for t in (SERVICE, QUEUE, BATCHER)}
)

SYSTEM_QUANTITIES: Mapping[str, DerivedSpec] = _derived(
    DerivedSpec(
        "latency_ms", "ms", "p99 bound end to end: the longest path, each service at its share"
    ),
    DerivedSpec(
        "availability", "ratio", "mean: served successfully / offered (failed, shed, dropped)"
    ),
    DerivedSpec("loss", "ratio", "mean: share of offered requests lost, 1 - availability"),
    DerivedSpec("cost", "cost units", "sum of replicas x cost_per_replica over services"),
    DerivedSpec("throughput_rps", "req/s", "requests per second the system completes"),
)

# constraints keys (DESIGN.md section 2) and the system quantity each bounds.
CONSTRAINT_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "latency_ms": "system.latency_ms",
        "availability": "system.availability",
        "cost": "system.cost",
        "throughput_rps": "system.throughput_rps",
    }
)

RESERVED_SCOPES = frozenset({"env", "system"})


def known_attributes(component_type: str) -> frozenset[str]:
    """Parameter and derived names a component of this type exposes."""
    ctype = COMPONENT_TYPES[component_type]
    return frozenset(ctype.params) | frozenset(ctype.derived)
