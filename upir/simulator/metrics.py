"""What one simulated window reports: the figures Prometheus would show."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Totals", "WindowMetrics"]


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """Metrics of one decision window: what the reference workload's PromQL gives.

    Rates are per second of simulated time. Latencies cover every request
    answered during the window, whatever its outcome (arrival to answer, the
    wait for a gateway slot and all retries included), like the workload's
    ``refworkload_request_duration_seconds`` histogram; they are NaN when no
    request was answered, as ``histogram_quantile`` is on an empty histogram.
    ``error_rate`` counts every answer that was not a success (timeouts,
    failures and drops, as ``refworkload_errors_total`` does) over the answers
    of the window; it is 0 when there were none.
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
    """Median latency of the answered requests, ms (NaN if none)."""
    p99_ms: float
    """99th percentile latency of the answered requests, ms (NaN if none)."""
    mean_ms: float
    """Mean latency of the answered requests, ms (NaN if none)."""
    error_rate: float
    """Share of answered requests that did not succeed (errors + drops)."""
    drop_rate: float
    """Share of answered requests rejected by a full queue (part of error_rate)."""
    utilization: float
    """Time-averaged share of worker slots (concurrency x replicas) busy, in [0, 1]."""
    mean_queue_length: float
    """Time-averaged number of attempts waiting in the queue."""
    queue_length: int
    """Items in the orders queue at the end of the window."""
    gateway_waiting: int
    """Requests waiting for a gateway slot at the end of the window."""
    in_flight: int
    """Requests sent and not yet answered at the end of the window."""
    cost: float
    """Sum of replicas x cost_per_replica of gateway and workers (cost units)."""
    arrivals: int
    """Requests that arrived."""
    completed: int
    """Requests answered successfully."""
    errors: int
    """Requests whose last attempt timed out (504) or failed (502)."""
    dropped: int
    """Requests rejected because the queue was full (503)."""
    skipped: int
    """Arrivals the clients did not send, having ``max_inflight`` requests open."""
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
