"""Prometheus metrics of the reference workload (prometheus-client).

Every ``Workload`` owns its own ``CollectorRegistry`` so several can live in one
process (tests); ``/metrics`` renders that registry. Names (all prefixed
``refworkload_``) are part of the workload's contract with the PromQL queries in
``k8s/upir.yaml``; see the README for the list.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from refworkload.params import RULES

NAMESPACE = "refworkload"


def latency_buckets() -> tuple[float, ...]:
    """Bucket upper bounds in seconds: 1 ms to 10 s, 10 per decade (ratio ~1.26).

    Ten buckets per decade keep ``histogram_quantile`` interpolation error small
    enough to tell a p99 of 120 ms from one of 150 ms anywhere in the range.
    """
    return tuple(round(0.001 * 10 ** (i / 10), 6) for i in range(41))


BATCH_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

ERROR_REASONS: tuple[str, ...] = ("timeout", "failure", "dropped")


class Metrics:
    """The workload's metric families, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        ns = NAMESPACE
        self.requests = Counter(
            "requests", "Requests received by the gateway.", namespace=ns, registry=reg
        )
        self.successes = Counter(
            "successes", "Requests answered 200 by the gateway.", namespace=ns, registry=reg
        )
        self.errors = Counter(
            "errors",
            "Requests that ended without success, by reason: timeout (504, last attempt "
            "timed out), failure (502, last attempt failed downstream), dropped (503, the "
            "orders queue was full).",
            ["reason"],
            namespace=ns,
            registry=reg,
        )
        self.drops = Counter(
            "drops", "Items refused by the full orders queue.", namespace=ns, registry=reg
        )
        self.retries = Counter(
            "retries", "Retry attempts made by the gateway.", namespace=ns, registry=reg
        )
        self.timeouts = Counter(
            "timeouts",
            "Gateway attempts abandoned after gateway.timeout_ms.",
            namespace=ns,
            registry=reg,
        )
        self.failures = Counter(
            "failures", "Items the worker failed (downstream errors).", namespace=ns, registry=reg
        )
        self.abandoned = Counter(
            "abandoned",
            "Items the worker processed after their caller had given up (wasted work).",
            namespace=ns,
            registry=reg,
        )
        self.latency = Histogram(
            "request_duration_seconds",
            "Gateway request latency, from arrival to answer, all outcomes.",
            namespace=ns,
            registry=reg,
            buckets=latency_buckets(),
        )
        self.batch_size = Histogram(
            "batch_size",
            "Items per batch handed to a worker.",
            namespace=ns,
            registry=reg,
            buckets=BATCH_BUCKETS,
        )
        self.reloads = Counter(
            "config_reloads",
            "Parameter source changes seen, by result: applied, unchanged, error.",
            ["result"],
            namespace=ns,
            registry=reg,
        )
        self.param = Gauge(
            "param",
            "Current value of each parameter, by UPIR name.",
            ["name"],
            namespace=ns,
            registry=reg,
        )
        self.queue_length = Gauge(
            "queue_length", "Items waiting in the orders queue.", namespace=ns, registry=reg
        )
        self.inflight = Gauge(
            "gateway_inflight",
            "Requests holding a gateway slot.",
            namespace=ns,
            registry=reg,
        )
        self.waiting = Gauge(
            "gateway_waiting",
            "Requests waiting for a gateway slot.",
            namespace=ns,
            registry=reg,
        )
        self.workers = Gauge(
            "workers", "Worker tasks running (busy or idle).", namespace=ns, registry=reg
        )
        # Make every labelled series exist from the start so rate() sees a zero first.
        for reason in ERROR_REASONS:
            self.errors.labels(reason=reason)
        for result in ("applied", "unchanged", "error"):
            self.reloads.labels(result=result)
        for rule in RULES:
            self.param.labels(name=rule.key)
