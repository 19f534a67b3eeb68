"""Small UPIR specs for the synthesis integration tests, and a brute-force
oracle: every point of a small domain verified with a real verifier."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import pytest

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.synthesis import Sketch
from upir.verification import Verifier

SETTINGS = SolverSettings(timeout_ms=10_000)


def doc(
    components: Iterable[dict[str, Any]],
    connections: Iterable[tuple[str, str]] = (),
    *,
    assumptions: Iterable[str] = (),
    invariants: Iterable[dict[str, Any]] = (),
    properties: Iterable[dict[str, Any]] = (),
    constraints: dict[str, Any] | None = None,
    parameters: Iterable[dict[str, Any]] = (),
    name: str = "s",
    system_type: str = "api",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "systemType": system_type,
        "architecture": {
            "components": list(components),
            "connections": [{"from": a, "to": b} for a, b in connections],
        },
        "specification": {
            "assumptions": list(assumptions),
            "invariants": list(invariants),
            "properties": list(properties),
        },
        "parameters": list(parameters),
    }
    if constraints:
        spec["specification"]["constraints"] = constraints
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": spec,
    }


def api_small(*, latency_max: int = 700, availability_min: float = 0.999) -> UPIR:
    """One service: 4 timeouts x 4 retry counts (16 points)."""
    return UPIR.from_resource(
        api_small_doc(latency_max=latency_max, availability_min=availability_min)
    )


def api_small_doc(*, latency_max: int = 700, availability_min: float = 0.999) -> dict[str, Any]:
    """Model 2's p99 latency of the 8 slots at 50 req/s and s <= 60 ms: about
    509 ms at 2 retries, 678 at 3 (docs/model.md 3.1), so 700 keeps both."""
    return doc(
        [
            {
                "name": "gw",
                "type": "service",
                "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 200, "retries": 3},
            }
        ],
        assumptions=[
            "env.arrival_rps <= 50",
            "10 <= env.gw_service_ms <= 60",
            "env.gw_failure_rate <= 0.05",
        ],
        constraints={
            "latency_ms": {"max": latency_max},
            "availability": {"min": availability_min},
        },
        parameters=[
            {"name": "gw.timeout_ms", "min": 50, "max": 200, "step": 50},
            {"name": "gw.retries", "min": 0, "max": 3},
        ],
    )


def queue_small(*, capacity_max: int = 1000, arrival_max: int = 800) -> UPIR:
    """gw -> q -> worker: queue capacity (10 values) x worker replicas (4): 40 points,
    a stateful no-loss invariant and a cost bound."""
    return UPIR.from_resource(
        doc(
            [
                {
                    "name": "gw",
                    "type": "service",
                    "params": {"replicas": 4, "concurrency": 8, "timeout_ms": 100, "retries": 0},
                },
                {"name": "q", "type": "queue", "params": {"capacity": 500}},
                {
                    "name": "worker",
                    "type": "service",
                    "params": {"replicas": 2, "concurrency": 2, "timeout_ms": 100, "retries": 0},
                },
            ],
            [("gw", "q"), ("q", "worker")],
            assumptions=[
                f"env.arrival_rps <= {arrival_max}",
                "env.gw_service_ms == 5",
                "env.worker_service_ms == 10",
                "env.gw_failure_rate == 0",
                "env.worker_failure_rate == 0",
            ],
            invariants=[{"name": "no_loss", "operator": "ALWAYS", "predicate": "q.dropped == 0"}],
            constraints={"cost": {"max": 10}},
            parameters=[
                {"name": "q.capacity", "min": 100, "max": capacity_max, "step": 100},
                {"name": "worker.replicas", "min": 1, "max": 4},
            ],
            system_type="streaming",
        )
    )


def batch_small(*, wait_max: int = 100) -> UPIR:
    """extract -> chunker -> load: batch size (5) x flush (4) x load replicas (3)."""
    return UPIR.from_resource(
        doc(
            [
                {
                    "name": "extract",
                    "type": "service",
                    "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 500, "retries": 1},
                },
                {
                    "name": "chunker",
                    "type": "batcher",
                    "params": {"batch_size": 10, "flush_ms": 100},
                },
                {
                    "name": "load",
                    "type": "service",
                    "params": {"replicas": 1, "concurrency": 4, "timeout_ms": 1000, "retries": 1},
                },
            ],
            [("extract", "chunker"), ("chunker", "load")],
            assumptions=[
                "50 <= env.arrival_rps <= 200",
                "10 <= env.extract_service_ms <= 100",
                "100 <= env.load_service_ms <= 400",
                "env.extract_failure_rate <= 0.01",
                "env.load_failure_rate <= 0.01",
            ],
            properties=[
                {
                    "name": "wait_bounded",
                    "operator": "ALWAYS",
                    "predicate": f"chunker.wait_ms <= {wait_max}",
                }
            ],
            constraints={"throughput_rps": {"min": 50}, "cost": {"max": 8}},
            parameters=[
                {"name": "chunker.batch_size", "min": 1, "max": 41, "step": 10},
                {"name": "chunker.flush_ms", "min": 0, "max": 150, "step": 50},
                {"name": "load.replicas", "min": 1, "max": 3},
            ],
            system_type="batch",
        )
    )


def grid(upir: UPIR) -> list[dict[str, Fraction]]:
    sketch = Sketch.from_upir(upir)
    names = sketch.names
    return [
        dict(zip(names, point, strict=True))
        for point in itertools.product(*(list(h.values()) for h in sketch.holes))
    ]


def proved_points(upir: UPIR) -> list[dict[str, Fraction]]:
    """Every point of the (small) domain that a fresh verifier proves."""
    verifier = Verifier(SETTINGS)
    return [p for p in grid(upir) if verifier.check_params(upir, p).passed]


class Kit:
    """What the tests use (pytest imports test modules in importlib mode, so
    helpers travel as a fixture rather than an import)."""

    settings = SETTINGS
    doc = staticmethod(doc)
    api_small = staticmethod(api_small)
    api_small_doc = staticmethod(api_small_doc)
    queue_small = staticmethod(queue_small)
    batch_small = staticmethod(batch_small)
    grid = staticmethod(grid)
    proved_points = staticmethod(proved_points)


@pytest.fixture
def kit() -> Kit:
    return Kit()
