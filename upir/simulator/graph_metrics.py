"""What one window of the general simulator reports, per component and system."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from upir.simulator.graph_state import Comp

__all__ = [
    "ComponentWindow",
    "GraphWindow",
    "SystemWindow",
    "component_window",
    "percentiles",
]


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    """(p50, p95, p99, mean) of ``values``, ms; NaN when there are none."""
    if not values:
        return (math.nan, math.nan, math.nan, math.nan)
    a = np.asarray(values)
    p50, p95, p99 = (float(x) for x in np.percentile(a, [50.0, 95.0, 99.0]))
    return (p50, p95, p99, float(a.mean()))


@dataclass(frozen=True, slots=True)
class ComponentWindow:
    """One component over one window. Latency is from an item entering the
    component (waiting for a slot, in the queue or for its batch included) to
    leaving it, over the items that left it during the window."""

    name: str
    type: str
    arrivals: int
    """Items that entered (a batch counts its items)."""
    throughput_rps: float
    """Items per second that left successfully."""
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    errors: int
    """Items whose call failed after all retries (services)."""
    dropped: int
    """Items refused because the queue was full (queues)."""
    shed: int
    """Items that waited for a slot longer than the service's timeout budget
    ``timeout_ms x (retries + 1)`` and were given up (services)."""
    error_rate: float
    """(errors + dropped + shed) over every item that left or was given up."""
    mean_length: float
    """Time-averaged items waiting (queue lanes, a service's line, a batcher's buffer)."""
    max_length: int
    """Most items waiting at once."""
    length: int
    """Items waiting at the end of the window."""
    utilization: float
    """Time-averaged share of slots busy (services; 0 otherwise)."""
    retries: int
    """Attempts beyond each call's first (services)."""
    timeouts: int
    """Attempts cut by the timeout (services)."""
    failures: int
    """Attempts that failed at the failure rate (services)."""
    batches: int
    """Batches that left (batchers)."""
    mean_batch_size: float
    """Items per batch (batchers; 0 if none)."""
    cost: float
    """replicas x cost_per_replica (services; 0 otherwise)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SystemWindow:
    """The whole system over one window: a request is answered when every copy
    of it (one per path, connections carry the full output) has left the graph
    or been given up; it succeeds when none failed, was dropped or shed."""

    start_s: float
    duration_s: float
    offered_rps: float
    """Requests per second that entered."""
    throughput_rps: float
    """Requests per second answered successfully."""
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    """Latency of the requests answered in the window (every outcome), ms."""
    error_rate: float
    """Share of answered requests that did not succeed."""
    drop_rate: float
    """Share of answered requests dropped by a full queue or shed."""
    arrivals: int
    completed: int
    errors: int
    """Requests with a failed call (after retries)."""
    dropped: int
    shed: int
    skipped: int
    """Arrivals not sent because ``max_in_flight`` requests were open."""
    in_flight: int
    """Requests open at the end of the window."""
    utilization: float
    """Highest service utilization."""
    cost: float
    events: int
    """Events the engine processed in the window (arrivals included)."""

    @property
    def availability(self) -> float:
        answered = self.completed + self.errors + self.dropped + self.shed
        return self.completed / answered if answered else 1.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["availability"] = self.availability
        return out


@dataclass(frozen=True, slots=True)
class GraphWindow:
    """One window: the system and each component (in the graph's order)."""

    system: SystemWindow
    components: dict[str, ComponentWindow] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system.as_dict(),
            "components": {k: v.as_dict() for k, v in self.components.items()},
        }


def component_window(c: Comp, t1: float) -> ComponentWindow:
    """Close ``c``'s window counters at ``t1`` (ms) and report them."""
    s = c.stats
    span_ms = t1 - s.t0
    span_s = span_ms / 1000.0
    s.move(t1, c.waiting(), c.busy)
    p50, p95, p99, mean = percentiles(s.lat)
    gone = s.ok + s.errors + s.dropped + s.shed
    util = s.busy_integral / (c.slots * span_ms) if c.slots else 0.0
    return ComponentWindow(
        name=c.name,
        type=c.type,
        arrivals=s.arrivals,
        throughput_rps=s.ok / span_s,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        mean_ms=mean,
        errors=s.errors,
        dropped=s.dropped,
        shed=s.shed,
        error_rate=(s.errors + s.dropped + s.shed) / gone if gone else 0.0,
        mean_length=s.integral / span_ms,
        max_length=s.max_level,
        length=c.waiting(),
        utilization=min(util, 1.0),
        retries=s.retries,
        timeouts=s.timeouts,
        failures=s.failures,
        batches=s.batches,
        mean_batch_size=s.batch_items / s.batches if s.batches else 0.0,
        cost=c.cost,
    )
