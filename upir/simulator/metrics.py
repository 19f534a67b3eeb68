"""What one simulated window reports: the figures Prometheus would show."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Totals", "WindowMetrics"]


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """Metrics of one decision window (the quantities the PromQL queries give).

    Rates are per second of simulated time. Latency percentiles cover requests
    that *succeeded* during the window (arrival to successful answer, retries
    included) and are NaN when none did, as ``histogram_quantile`` gives NaN on
    an empty histogram. ``error_rate`` and ``drop_rate`` are shares of the
    requests that got an answer during the window (0 when none did).
    """

    start_s: float
    """Simulated time the window began, s."""
    duration_s: float
    """Window length, s."""
    offered_rps: float
    """New requests per second that arrived."""
    throughput_rps: float
    """Requests per second answered successfully."""
    p50_ms: float
    """Median latency of successful requests, ms (NaN if none)."""
    p99_ms: float
    """99th percentile latency of successful requests, ms (NaN if none)."""
    mean_ms: float
    """Mean latency of successful requests, ms (NaN if none)."""
    error_rate: float
    """Share of answered requests that failed (timeouts/failures after all retries)."""
    drop_rate: float
    """Share of answered requests rejected by a full queue."""
    utilization: float
    """Time-averaged share of worker slots (concurrency x replicas) busy, in [0, 1]."""
    mean_queue_length: float
    """Time-averaged number of attempts waiting in the queue."""
    queue_length: int
    """Attempts waiting at the end of the window."""
    in_flight: int
    """Requests not yet answered at the end of the window."""
    cost: float
    """replicas x cost_per_replica at the end of the window (cost units)."""
    arrivals: int
    """Requests that arrived."""
    completed: int
    """Requests answered successfully."""
    errors: int
    """Requests that failed after their last attempt."""
    dropped: int
    """Requests rejected because the queue was full."""
    retries: int
    """Retry attempts sent (attempts beyond each request's first)."""
    timeouts: int
    """Attempts the gateway abandoned at its timeout."""
    failures: int
    """Attempts that completed with an error."""
    wasted: int
    """Attempts a worker processed after the caller had already given up."""
    batches: int
    """Batches started."""
    mean_batch_size: float
    """Attempts per started batch (0 if none)."""

    @property
    def availability(self) -> float:
        """Share of answered requests that succeeded (1 when none were answered)."""
        answered = self.completed + self.errors + self.dropped
        return self.completed / answered if answered else 1.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["availability"] = self.availability
        return out


@dataclass(frozen=True, slots=True)
class Totals:
    """Cumulative request counts since the simulator started.

    Conservation: ``arrivals == completed + errors + dropped + in_flight``.
    """

    arrivals: int
    completed: int
    errors: int
    dropped: int
    in_flight: int
    """Requests still waiting for an answer, counted by walking the queue, the
    running batches and the pending timeouts (not derived from the others)."""
