"""The tuning step holds while the running system is not conformant (issue
21): ``tune_once(..., hold=...)`` reads no metric, proposes nothing, says why in
the Tuning condition, and keeps the condition the conformance step just wrote
(``written``), which the object's body does not show yet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import kopf
import pytest
import torch
import yaml
from upir_operator import events
from upir_operator.decisions import Action, Sample
from upir_operator.metrics import OperatorMetrics
from upir_operator.prometheus import WindowReader
from upir_operator.settings import OperatorSettings
from upir_operator.tuning import LoopMemory, tune_once

from upir.settings import SolverSettings
from upir.verification import ProofCache, Verifier

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


class _Kube:
    def __init__(self) -> None:
        self.status_patches: list[dict[str, Any]] = []

    async def get(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        return None

    async def apply(self, manifest: Mapping[str, Any], *, force: bool = False) -> dict[str, Any]:
        return dict(manifest)

    async def patch_status(self, ns: str, name: str, status: Mapping[str, Any]) -> None:
        self.status_patches.append(dict(status))


class _Prometheus:
    def __init__(self) -> None:
        self.queried = 0

    async def query_all(
        self, url: str, queries: Mapping[str, str], *, timeout_s: float
    ) -> dict[str, Sample]:
        self.queried += 1
        return {k: Sample(None) for k in queries}


class _Runtime:
    def __init__(self) -> None:
        self.kube = _Kube()
        self.prometheus = _Prometheus()
        self.settings = OperatorSettings()
        self.metrics = OperatorMetrics()
        self.engine = SimpleNamespace(verifier=Verifier(SolverSettings(), ProofCache(256)))

    def window_reader(self) -> WindowReader:
        return WindowReader(self.prometheus, timeout_s=1.0)  # type: ignore[arg-type]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)


CONFORMANT_FALSE = {
    "type": "Conformant",
    "status": "False",
    "reason": "AssumptionViolated",
    "message": "assumption 'env.arrival_rps <= 800' does not hold: observed env.arrival_rps=950",
    "observedGeneration": 1,
    "lastTransitionTime": "2026-12-06T06:00:00Z",
}


def _body() -> kopf.Body:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 1})
    doc["spec"]["tuning"]["mode"] = "Auto"
    doc["status"] = {
        "observedGeneration": 1,
        "appliedParameters": {"gateway.timeout_ms": 300, "gateway.retries": 2},
    }
    return kopf.Body(doc)


async def _no_apply(*args: Any) -> tuple[str | None, dict[str, Any]]:
    raise AssertionError("a hold applies nothing")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr(events, "normal", lambda *a: None)
    monkeypatch.setattr(events, "warning", lambda *a: None)


async def test_a_hold_reads_nothing_and_says_why() -> None:
    runtime = _Runtime()
    why = f"NotConformant: AssumptionViolated: {CONFORMANT_FALSE['message']}"
    dec = await tune_once(
        runtime,
        _body(),
        LoopMemory(),
        _no_apply,
        written={"conditions": [CONFORMANT_FALSE]},
        hold=why,
    )
    assert dec is not None and dec.action is Action.HOLD and dec.reason == why
    assert runtime.prometheus.queried == 0
    (patch,) = runtime.kube.status_patches
    by_type = {c["type"]: c for c in patch["conditions"]}
    assert by_type["Tuning"]["reason"] == "Hold" and by_type["Tuning"]["message"] == why
    # the condition the conformance step wrote this interval is kept, not clobbered
    assert by_type["Conformant"] == CONFORMANT_FALSE
    assert patch["tuning"]["holds"] == 1


async def test_without_a_hold_the_metrics_are_read() -> None:
    runtime = _Runtime()
    dec = await tune_once(runtime, _body(), LoopMemory(), _no_apply)
    assert runtime.prometheus.queried == 1
    assert dec is not None and dec.reason.startswith("MetricMissing")
