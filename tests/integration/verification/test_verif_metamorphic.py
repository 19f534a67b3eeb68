"""Metamorphic properties of verdicts (DESIGN.md section 4): narrowing
assumptions, enlarging a queue (for its own drops) or loosening a bound never
turns PROVED into VIOLATED; reordering components or properties never changes a
verdict. Random cases through hypothesis, both with and without composition."""

from __future__ import annotations

import copy
import random
from fractions import Fraction as F
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import Verdict, Verifier, replay

pytestmark = pytest.mark.integration

SETTINGS = SolverSettings(timeout_ms=20_000)


def _doc(
    components: list[dict[str, Any]],
    links: list[tuple[str, str]],
    assumptions: list[str],
    props: list[dict[str, Any]],
    constraints: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "architecture": {
            "components": components,
            "connections": [{"from": a, "to": b} for a, b in links],
        },
        "specification": {"assumptions": assumptions, "properties": props},
    }
    if constraints:
        spec["specification"]["constraints"] = constraints
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "m"},
        "spec": spec,
    }


def _verdicts(doc: dict[str, Any], compositional: bool = True) -> dict[str, Verdict]:
    upir = UPIR.from_resource(doc)
    report = Verifier(SETTINGS, compositional=compositional).verify(upir)
    for r in report.results:
        if r.status is Verdict.VIOLATED:
            assert r.counterexample is not None and replay(upir, r.property, r.counterexample)
    return {r.property.name: r.status for r in report.results}


def _never_worse(before: dict[str, Verdict], after: dict[str, Verdict]) -> None:
    for name, verdict in before.items():
        if verdict is Verdict.PROVED:
            assert after[name] is not Verdict.VIOLATED, name


def _dec(x: F) -> str:
    return f"{float(x):.6f}"


SERVICE_PROPS = [
    {"name": "lat", "operator": "ALWAYS", "predicate": "s.latency_ms <= 120"},
    {"name": "avail", "operator": "EVENTUALLY", "predicate": "s.availability >= 0.999"},
    {"name": "util", "operator": "ALWAYS", "predicate": "s.utilization <= 0.8"},
    {"name": "cap", "operator": "WITHIN", "predicate": "s.capacity_rps >= 100", "timeBoundMs": 300},
]


@st.composite
def service_case(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[F, F]]]:
    params = {
        "replicas": draw(st.integers(1, 4)),
        "concurrency": draw(st.integers(1, 8)),
        "timeout_ms": draw(st.integers(10, 200)),
        "retries": draw(st.integers(0, 3)),
    }
    ranges = []
    for hi in (F(300), F(1, 10), F(500)):  # service_ms, failure_rate, arrival
        a = draw(st.fractions(0, hi, max_denominator=100))
        b = draw(st.fractions(0, hi, max_denominator=100))
        ranges.append((min(a, b), max(a, b)))
    return {"name": "s", "type": "service", "params": params}, ranges


def _service_assumptions(ranges: list[tuple[F, F]]) -> list[str]:
    (s0, s1), (f0, f1), (a0, a1) = ranges
    return [
        f"{_dec(max(s0, F(1, 100)))} <= env.s_service_ms <= {_dec(max(s1, F(1, 100)))}",
        f"{_dec(f0)} <= env.s_failure_rate <= {_dec(f1)}",
        f"{_dec(a0)} <= env.arrival_rps <= {_dec(a1)}",
    ]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service_case(), st.randoms(use_true_random=False))
def test_narrowing_assumptions_never_breaks_a_proof(
    case: tuple[dict[str, Any], list[tuple[F, F]]], rnd: random.Random
) -> None:
    comp, ranges = case
    narrowed = []
    for lo, hi in ranges:
        a, b = sorted(
            [lo + (hi - lo) * F(rnd.randint(0, 4), 4), lo + (hi - lo) * F(rnd.randint(0, 4), 4)]
        )
        narrowed.append((a, b))
    wide = _verdicts(_doc([comp], [], _service_assumptions(ranges), SERVICE_PROPS))
    for compositional in (True, False):
        narrow = _verdicts(
            _doc([comp], [], _service_assumptions(narrowed), SERVICE_PROPS), compositional
        )
        _never_worse(wide, narrow)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 400),
    st.integers(2, 4),
    st.fractions(0, 400, max_denominator=10),
    st.fractions(1, 400, max_denominator=10),
)
def test_enlarging_a_queue_never_adds_drops(
    capacity: int, factor: int, arrival: F, drain: F
) -> None:
    props = [{"name": "no_drops", "operator": "ALWAYS", "predicate": "q.dropped == 0"}]
    assumptions = [f"env.arrival_rps <= {_dec(arrival)}", f"env.q_drain_rps >= {_dec(drain)}"]
    small = _verdicts(
        _doc(
            [{"name": "q", "type": "queue", "params": {"capacity": capacity}}],
            [],
            assumptions,
            props,
        )
    )
    large = _verdicts(
        _doc(
            [{"name": "q", "type": "queue", "params": {"capacity": capacity * factor}}],
            [],
            assumptions,
            props,
        ),
        compositional=False,
    )
    _never_worse(small, large)


API = [
    {
        "name": "gateway",
        "type": "service",
        "params": {"replicas": 3, "concurrency": 8, "timeout_ms": 300, "retries": 2},
    },
    {"name": "orders", "type": "queue", "params": {"capacity": 5000}},
    {
        "name": "fulfil",
        "type": "service",
        "params": {"replicas": 4, "concurrency": 16, "timeout_ms": 200, "retries": 1},
    },
]
API_LINKS = [("gateway", "orders"), ("orders", "fulfil")]
API_ENV = [
    "env.arrival_rps <= 800",
    "5 <= env.gateway_service_ms <= 40",
    "2 <= env.fulfil_service_ms <= 20",
    "env.gateway_failure_rate <= 0.01",
    "env.fulfil_failure_rate <= 0.01",
]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(50, 400), st.integers(1, 200), st.fractions(F(99, 100), 1, max_denominator=100000)
)
def test_loosening_a_bound_never_breaks_a_proof(latency: int, extra: int, availability: F) -> None:
    tight = _doc(
        API,
        API_LINKS,
        API_ENV,
        [],
        {"latency_ms": {"max": latency}, "availability": {"min": float(availability)}},
    )
    loose = _doc(
        API,
        API_LINKS,
        API_ENV,
        [],
        {
            "latency_ms": {"max": latency + extra},
            "availability": {"min": float(availability) - 0.001},
        },
    )
    _never_worse(_verdicts(tight), _verdicts(loose, compositional=False))


def test_order_of_components_and_properties_does_not_matter() -> None:
    props = [
        {"name": "no_loss", "operator": "ALWAYS", "predicate": "orders.dropped == 0"},
        {
            "name": "fast",
            "operator": "WITHIN",
            "predicate": "gateway.latency_ms <= 100",
            "timeBoundMs": 1000,
        },
        {"name": "busy", "operator": "EVENTUALLY", "predicate": "fulfil.utilization >= 0.5"},
        {"name": "slow_ok", "operator": "ALWAYS", "predicate": "system.latency_ms <= 500"},
    ]
    base_doc = _doc(API, API_LINKS, API_ENV, props, {"cost": {"max": 6}})
    base = _verdicts(base_doc)
    assert base["fast"] is Verdict.VIOLATED and base["no_loss"] is Verdict.PROVED
    rnd = random.Random(7)
    for _ in range(3):
        doc = copy.deepcopy(base_doc)
        rnd.shuffle(doc["spec"]["architecture"]["components"])
        rnd.shuffle(doc["spec"]["architecture"]["connections"])
        rnd.shuffle(doc["spec"]["specification"]["properties"])
        rnd.shuffle(doc["spec"]["specification"]["assumptions"])
        assert _verdicts(doc) == base
        assert _verdicts(doc, compositional=False) == base
