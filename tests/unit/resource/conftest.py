"""Shared documents for the upir.resource tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from upir.resource import load_documents

# The resource of DESIGN.md section 2, with real PromQL in place of "...".
DESIGN_EXAMPLE = """\
apiVersion: upir.dev/v1alpha1
kind: UPIR
metadata: {name: checkout}
spec:
  systemType: api
  target:
    deployment: checkout
    configMap: checkout-params
  architecture:
    components:
      - name: gateway
        type: service
        params: {replicas: 3, concurrency: 8, timeout_ms: 300, retries: 2}
      - name: orders
        type: queue
        params: {capacity: 5000}
    connections:
      - {from: gateway, to: orders}
  specification:
    assumptions:
      - "env.arrival_rps <= 800"
      - "5 <= env.gateway_service_ms <= 40"
    invariants:
      - {name: no_loss, operator: ALWAYS, predicate: "orders.dropped == 0"}
    properties:
      - {name: fast, operator: WITHIN, predicate: "gateway.latency_ms <= 250", timeBoundMs: 1000}
      - {name: retry_budget, operator: ALWAYS, predicate: "gateway.timeout_ms * (gateway.retries + 1) <= 2000"}
      - {name: drains, operator: UNTIL, predicate: "orders.length > 0", trigger: "orders.length == 0"}
    constraints:
      latency_ms: {max: 250}
      availability: {min: 0.999}
      cost: {max: 40}
      throughput_rps: {min: 500}
  parameters:
    - {name: gateway.timeout_ms, min: 50, max: 2000, step: 10}
    - {name: gateway.retries, min: 0, max: 5}
    - {name: orders.capacity, min: 100, max: 100000, step: 100}
  tuning:
    mode: Recommend
    intervalSeconds: 60
    maxStepFraction: 0.25
    prometheus:
      url: http://prometheus.monitoring:9090
      queries:
        latency_ms: 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[1m])) by (le)) * 1000'
        throughput_rps: 'sum(rate(http_requests_total[1m]))'
        error_rate: 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
    objective: {latency_ms: 1.0, throughput_rps: 1.0, error_rate: 10.0}
"""

_DESIGN_DOC: dict[str, Any] = load_documents(DESIGN_EXAMPLE, source="DESIGN.md")[0]

STATUS_EXAMPLE: dict[str, Any] = {
    "observedGeneration": 3,
    "verdict": "VIOLATED",
    "measuredLatencyMs": 212.5,
    "specHash": "sha256:" + "ab" * 32,
    "conditions": [
        {
            "type": "Valid",
            "status": "True",
            "reason": "SpecValid",
            "message": "",
            "lastTransitionTime": "2026-11-21T10:30:45Z",
            "observedGeneration": 3,
        },
        {
            "type": "Verified",
            "status": "False",
            "reason": "PropertyViolated",
            "message": "fast: VIOLATED",
            "lastTransitionTime": "2026-11-21T10:30:46.120Z",
            "observedGeneration": 3,
        },
    ],
    "verdicts": [
        {
            "property": "no_loss",
            "kind": "invariant",
            "status": "PROVED",
            "proof": "inductive",
            "timeMs": 45,
            "cached": False,
        },
        {
            "property": "fast",
            "kind": "property",
            "status": "VIOLATED",
            "proof": "bounded:20",
            "counterexample": {
                "env": {"arrival_rps": 800},
                "trace": [{"step": 0, "gateway.latency_ms": 300}],
            },
            "timeMs": 12.5,
            "cached": True,
        },
    ],
    "appliedParameters": {"gateway.timeout_ms": 300, "gateway.retries": 2},
    "certificate": {
        "payload": "{}",
        "signature": "c2ln",
        "keyId": "0123456789abcdef",
        "algorithm": "Ed25519",
        "publicKey": "cHVi",
    },
    "tuning": {"proposals": 10, "accepted": 6, "rejected": 3, "rolledBack": 1, "holds": 2},
    "lastRecommendation": {
        "parameters": {"gateway.timeout_ms": 250},
        "time": "2026-11-21T10:31:00+01:00",
    },
    "kopf": {"progress": {"reconcile": {"retries": 1, "anything": [1, {"x": None}]}}},
}


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh, valid UPIR document (DESIGN.md's example)."""
    return copy.deepcopy(_DESIGN_DOC)


@pytest.fixture
def status_example() -> dict[str, Any]:
    """A valid status as the operator writes it."""
    return copy.deepcopy(STATUS_EXAMPLE)


@pytest.fixture
def make_big_doc() -> Any:
    """Builds a valid document at the schema's size limits (see big_doc)."""
    return big_doc


def big_doc(
    components: int = 256, properties: int = 256, invariants: int = 128, parameters: int = 128
) -> dict[str, Any]:
    """A valid document at the schema's size limits."""
    comps = [
        {
            "name": f"c{i}",
            "type": "service",
            "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 1},
        }
        for i in range(components)
    ]
    conns = [{"from": f"c{i}", "to": f"c{i + 1}"} for i in range(components - 1)]
    invs = [
        {"name": f"i{i}", "operator": "ALWAYS", "predicate": f"c{i % components}.retries <= 3"}
        for i in range(invariants)
    ]
    ops = ["ALWAYS", "EVENTUALLY", "WITHIN", "UNTIL", "SINCE"]
    props = []
    for i in range(properties):
        op = ops[i % len(ops)]
        p: dict[str, Any] = {
            "name": f"p{i}",
            "operator": op,
            "predicate": f"c{i % components}.latency_ms <= 250",
        }
        if op == "WITHIN":
            p["timeBoundMs"] = 1000
        if op in ("UNTIL", "SINCE"):
            p["trigger"] = "c0.utilization < 1"
        props.append(p)
    params = [
        {"name": f"c{i % components}.timeout_ms", "min": 10, "max": 1000, "step": 10}
        for i in range(parameters)
    ]
    params = [dict(p, name=f"c{i}.timeout_ms") for i, p in enumerate(params)]
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "big"},
        "spec": {
            "architecture": {"components": comps, "connections": conns},
            "specification": {
                "invariants": invs,
                "properties": props,
                "assumptions": ["env.arrival_rps <= 800"] * 128,
            },
            "parameters": params,
        },
    }
