"""One Prometheus reading per interval: the conformance check and the tuning
step of one interval share a :class:`WindowReader`, so every PromQL query is
sent at most once and both steps judge the same samples; an outage met by the
first step is the second step's outage too (no second try within the interval)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
import pytest
import torch
import yaml
from upir_operator import conformance
from upir_operator.decisions import Action, Sample
from upir_operator.engine import Engine, as_number
from upir_operator.handlers import Runtime
from upir_operator.prometheus import PrometheusUnavailable, WindowReader
from upir_operator.settings import OperatorSettings
from upir_operator.tuning import LoopMemory, tune_once

from upir.conformance.live import ConformanceState
from upir.core import UPIR

ROOT = Path(__file__).resolve().parents[3]
VALUES = {"p99": 120.0, "ok": 400.0, "errors": 0.0, "arrivals": 420.0}


class _Kube:
    async def get(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        return None

    async def apply(self, manifest: Mapping[str, Any], *, force: bool = False) -> dict[str, Any]:
        return dict(manifest)

    async def patch_status(self, ns: str, name: str, status: Mapping[str, Any]) -> None:
        pass


class _Prometheus:
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.down = False

    async def query_all(
        self, url: str, queries: Mapping[str, str], *, timeout_s: float
    ) -> dict[str, Sample]:
        if self.down:
            raise PrometheusUnavailable(f"{url}: connection refused")
        self.sent.update(queries.values())
        return {k: Sample(VALUES.get(q), time.time()) for k, q in queries.items()}

    async def close(self) -> None:
        pass


def _body() -> kopf.Body:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 1})
    doc["spec"]["tuning"]["mode"] = "Recommend"
    prom = doc["spec"]["tuning"]["prometheus"]
    prom["queries"] = {"latency_ms": "p99", "throughput_rps": "ok", "error_rate": "errors"}
    prom["environment"] = {"arrival_rps": "arrivals"}
    running = UPIR.from_resource(doc).tunable_values()
    doc["status"] = {
        "observedGeneration": 1,
        "appliedParameters": {k: as_number(v) for k, v in running.items()},
    }
    return kopf.Body(doc)


async def _no_apply(*args: Any) -> tuple[str | None, dict[str, Any]]:
    raise AssertionError("Recommend applies nothing")


def _interval(engine: Engine, prom: _Prometheus) -> tuple[Any, WindowReader]:
    runtime = Runtime(OperatorSettings(), engine, _Kube(), prometheus=prom)  # type: ignore[arg-type]
    body = _body()

    async def run() -> Any:
        reader = WindowReader(prom, timeout_s=1.0)  # type: ignore[arg-type]
        _, written = await conformance.check_once(runtime, body, ConformanceState(), reader)
        dec = await tune_once(
            runtime, body, LoopMemory(), _no_apply, written=written, reader=reader
        )
        return dec, reader

    result: tuple[Any, WindowReader] = asyncio.run(run())
    return result


@pytest.fixture(autouse=True)
def _one_thread(posted: list[Any]) -> None:
    torch.set_num_threads(1)


def test_each_query_is_sent_once_per_interval(engine: Engine) -> None:
    prom = _Prometheus()
    dec, reader = _interval(engine, prom)
    # conformance asked for the bounded latency and the environment; tuning for
    # the rest: every query once, none twice
    assert prom.sent == Counter({"p99": 1, "ok": 1, "errors": 1, "arrivals": 1})
    assert reader.queries_sent == 4
    assert dec is not None and dec.action is not Action.HOLD, dec.reason


def test_an_outage_is_read_once_and_holds_both_steps(engine: Engine) -> None:
    prom = _Prometheus()
    prom.down = True
    dec, reader = _interval(engine, prom)
    assert dec is not None and dec.action is Action.HOLD
    assert "PrometheusUnavailable" in dec.reason and "connection refused" in dec.reason
    assert reader.queries_sent == 1  # the conformance step's try; tuning did not retry
