"""The operator's metrics (issue 23): per-object labels, a verdict state set,
and every series of a deleted object removed."""

from __future__ import annotations

from prometheus_client import generate_latest
from upir_operator.metrics import VERDICTS, OperatorMetrics


def text(m: OperatorMetrics) -> str:
    return generate_latest(m.registry).decode()


def test_verdict_state_set_and_stale_properties() -> None:
    m = OperatorMetrics()
    m.set_verdicts("shop", "api", {"fast": "VIOLATED", "safe": "PROVED"})
    out = text(m)
    for v in VERDICTS:
        want = "1.0" if v == "VIOLATED" else "0.0"
        line = f'upir_property_verdict{{namespace="shop",property="fast",upir="api",verdict="{v}"}} {want}'
        assert line in out, out
    # a property removed from the spec loses its series
    m.set_verdicts("shop", "api", {"safe": "TIMEOUT"})
    out = text(m)
    assert 'property="fast"' not in out
    assert 'property="safe",upir="api",verdict="TIMEOUT"} 1.0' in out


def test_forget_removes_every_series_of_one_object_only() -> None:
    m = OperatorMetrics()
    for name in ("a", "b"):
        m.set_verdicts("ns", name, {"p": "PROVED"})
        m.count(m.reconciles, "ns", name, "applied")
        m.count(m.proposals, "ns", name, "rejected")
        m.count(m.holds, "ns", name, "MetricMissing")
        m.count(m.applied_changes, "ns", name)
        m.set(m.parameters, 3.0, "ns", name, "gateway.retries")
        m.set(m.measured_latency, 12.5, "ns", name)
    m.forget("ns", "a")
    m.forget("ns", "never-seen")
    out = text(m)
    assert 'upir="a"' not in out
    for family in (
        "upir_property_verdict",
        "upir_reconciles_total",
        "upir_tuning_proposals_total",
        "upir_tuning_holds_total",
        "upir_applied_changes_total",
        "upir_parameter_value",
        "upir_measured_latency_ms",
    ):
        assert any(
            line.startswith(family + "{") and 'upir="b"' in line for line in out.splitlines()
        ), family
