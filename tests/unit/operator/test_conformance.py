"""The operator's live conformance step (``conformance.check_once``) with the
real engine (Z3) and a scripted Prometheus: the Conformant condition, its
events on each change, the gauges, the hysteresis, and the tuning hold."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest
from upir_operator import conformance
from upir_operator.decisions import Sample
from upir_operator.engine import Engine
from upir_operator.handlers import Runtime
from upir_operator.prometheus import PrometheusUnavailable
from upir_operator.settings import OperatorSettings

from upir.conformance.live import ConformanceState, Reason
from upir.settings import ConformanceSettings, Settings

ROOT = Path(__file__).resolve().parents[3]


class _Kube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, ns: str, name: str, status: Mapping[str, Any]) -> None:
        self.patches.append(dict(status))


class _Prometheus:
    """Answers each PromQL text with ``values[text]`` (None: no sample)."""

    def __init__(self) -> None:
        self.values: dict[str, float | None] = {}
        self.down = False
        self.asked: list[str] = []

    async def query_all(
        self, url: str, queries: Mapping[str, str], *, timeout_s: float
    ) -> dict[str, Sample]:
        if self.down:
            raise PrometheusUnavailable(f"{url}: connection refused")
        self.asked += list(queries)
        return {k: Sample(self.values.get(q), 1.0) for k, q in queries.items()}

    async def close(self) -> None:
        pass


def _body(prometheus: bool = True, mode: str = "Off") -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 4})
    doc["spec"]["tuning"]["mode"] = mode
    prom = doc["spec"]["tuning"]["prometheus"]
    prom["queries"] = {"latency_ms": "p99", "error_rate": "errors"}
    prom["environment"] = {"arrival_rps": "arrivals"}
    if not prometheus:
        del doc["spec"]["tuning"]["prometheus"]
    doc["status"] = {}
    return doc


class _Loop:
    """Runs windows the way the tuning daemon does, keeping the state and
    folding each written status into the body (as the watch would)."""

    def __init__(self, engine: Engine, windows: int = 2) -> None:
        settings = OperatorSettings(library=Settings(conformance=ConformanceSettings(windows)))
        self.kube = _Kube()
        self.prom = _Prometheus()
        self.runtime = Runtime(settings, engine, self.kube, prometheus=self.prom)  # type: ignore[arg-type]
        self.state = ConformanceState()
        self.body = _body()

    def window(self, **values: float | None) -> dict[str, Any]:
        self.prom.values.update(values)
        self.state, written = asyncio.run(
            conformance.check_once(self.runtime, self.body, self.state)
        )
        self.body["status"].update(written)
        return written

    def cond(self) -> dict[str, Any]:
        return next(c for c in self.body["status"]["conditions"] if c["type"] == "Conformant")

    def metrics(self) -> str:
        return generate_latest(self.runtime.metrics.registry).decode()


def test_a_load_beyond_the_assumption_flips_after_n_windows_and_back(
    engine: Engine, posted: list[Any]
) -> None:
    loop = _Loop(engine, windows=2)
    loop.window(arrivals=500.0, p99=120.0)
    cond = loop.cond()
    assert (cond["status"], cond["reason"], cond["observedGeneration"]) == (
        "True",
        "Conformant",
        4,
    )
    assert posted == [("Normal", "Conformant", cond["message"])]
    assert conformance.hold_reason(loop.state) is None
    text = loop.metrics()
    assert 'upir_conformant{namespace="shop",upir="checkout"} 1.0' in text
    assert (
        'upir_conformance_observed{name="env.arrival_rps",namespace="shop",upir="checkout"} 500.0'
        in text
    )
    assert (
        'upir_conformance_bound{name="latency_ms",namespace="shop",side="max",upir="checkout"} 500.0'
        in text
    )
    # only the metric with a proved bound is read (error_rate measures no model quantity)
    assert "errors" not in loop.prom.asked
    # one window above env.arrival_rps <= 800: still Conformant, the change is pending
    loop.window(arrivals=950.0)
    assert loop.cond()["status"] == "True"
    assert "gave AssumptionViolated" in loop.cond()["message"]
    assert len(posted) == 1
    loop.window(arrivals=951.5)
    cond = loop.cond()
    assert (cond["status"], cond["reason"]) == ("False", "AssumptionViolated")
    assert cond["message"] == (
        "assumption 'env.arrival_rps <= 800' does not hold: observed env.arrival_rps=951.5"
    )
    assert posted[-1] == ("Warning", "AssumptionViolated", cond["message"])
    held = conformance.hold_reason(loop.state)
    assert held is not None and held.startswith("NotConformant: AssumptionViolated: ")
    assert 'upir_conformant{namespace="shop",upir="checkout"} 0.0' in loop.metrics()
    # the same window again: nothing to write, no event
    assert loop.window() == {} and len(posted) == 2
    # a bound exceeded while the assumption is broken: the assumption is named first
    loop.window(p99=700.0)
    assert loop.cond()["reason"] == "AssumptionViolated"
    assert "proved bound 'system.latency_ms <= 500'" in loop.cond()["message"]
    # the load falls back, the latency not: BoundExceeded at once (same status)
    loop.window(arrivals=500.0)
    cond = loop.cond()
    assert (cond["status"], cond["reason"]) == ("False", "BoundExceeded")
    assert cond["message"] == (
        "proved bound 'system.latency_ms <= 500' (constraint.latency_ms) exceeded: "
        "observed latency_ms=700"
    )
    assert posted[-1] == ("Warning", "BoundExceeded", cond["message"])
    # back to conformant after two windows
    loop.window(p99=100.0)
    assert loop.cond()["reason"] == "BoundExceeded"
    loop.window()
    assert loop.cond()["status"] == "True" and posted[-1][:2] == ("Normal", "Conformant")
    assert conformance.hold_reason(loop.state) is None


def test_no_data_is_unknown_and_does_not_hold(engine: Engine, posted: list[Any]) -> None:
    loop = _Loop(engine, windows=1)
    loop.window()
    cond = loop.cond()
    assert (cond["status"], cond["reason"]) == ("Unknown", "NoData")
    assert cond["message"] == (
        "the queries returned nothing (env.arrival_rps: no sample; latency_ms: no sample)"
    )
    assert posted == [("Warning", "NoData", cond["message"])]
    assert conformance.hold_reason(loop.state) is None
    assert "upir_conformant{" not in loop.metrics()
    assert 'upir_conformance_reason{namespace="shop",reason="NoData",upir="checkout"} 1.0' in (
        loop.metrics()
    )
    loop.prom.down = True
    loop.window()
    assert loop.cond()["message"].startswith("Prometheus cannot be read: ")


def test_the_running_parameters_decide_the_proved_bounds(engine: Engine, posted: Any) -> None:
    loop = _Loop(engine, windows=1)
    loop.body["spec"]["tuning"]["prometheus"]["queries"] = {"availability": "avail"}
    # applied parameters for which availability >= 0.999 is not proved: no bound on it
    loop.body["status"]["appliedParameters"] = {"gateway.timeout_ms": 2000, "gateway.retries": 0}
    loop.window(arrivals=100.0, avail=0.9)
    assert loop.cond()["reason"] == "Conformant"
    assert "avail" not in loop.prom.asked
    # the spec's own values (nothing applied) prove it
    del loop.body["status"]["appliedParameters"]
    loop.window()
    assert loop.cond()["reason"] == "BoundExceeded"
    assert "'0.999 <= system.availability'" in loop.cond()["message"]


def test_running_parameters_the_spec_no_longer_knows_prove_nothing(
    engine: Engine, posted: Any
) -> None:
    loop = _Loop(engine, windows=1)
    loop.body["status"]["appliedParameters"] = {"cache.size_mb": 64}
    loop.window(arrivals=100.0, p99=10_000.0)
    assert loop.cond()["reason"] == "Conformant"
    assert "p99" not in loop.prom.asked
    # outside a narrowed domain, still what runs: verified as they are
    loop.body["status"]["appliedParameters"] = {"gateway.timeout_ms": 5000, "gateway.retries": 0}
    loop.window()
    assert loop.cond()["reason"] == "BoundExceeded"


def test_a_restarted_operator_resumes_the_reported_state() -> None:
    status = {
        "conditions": [
            {"type": "Conformant", "status": "False", "reason": "BoundExceeded", "message": "m"}
        ]
    }
    assert conformance.resumed(status) == ConformanceState(Reason.BOUND_EXCEEDED, "m")
    assert conformance.resumed({}) == ConformanceState()


def test_without_prometheus_the_condition_and_gauges_go(engine: Engine, posted: Any) -> None:
    loop = _Loop(engine, windows=1)
    loop.window(arrivals=100.0, p99=10.0)
    assert "upir_conformant{" in loop.metrics()
    loop.body = {**_body(prometheus=False), "status": loop.body["status"]}
    written = loop.window()
    assert [c["type"] for c in written["conditions"]] == []
    assert "upir_conformant{" not in loop.metrics()
    assert "upir_conformance_observed{" not in loop.metrics()
    assert loop.window() == {}
