"""The operator's tuning loop and the simulator's make the same decisions.

The simulator's loop (``upir.tuning.simulated.tune``, what ``upir tune
--simulate`` and ``benchmarks/tuning.py`` run) tunes the benchmark's UPIR for a
few windows; the operator's loop (``upir_operator.tuning.tune_once`` with the
real engine, verifier and reconcile) is then fed the same windows as Prometheus
samples, with the offered load as its observed environment, and must hold,
apply, reject and roll back exactly as the simulator's did, to the same
parameters. Both run the benchmark's winner (model + exploring imagination +
restart), the default where a load is observed. Stand-ins (our own layers):
the Kubernetes client, the Prometheus client and event posting.

The checkpoint ConfigMap the operator writes is measured at the end: it must
stay far below the 1 MiB object limit.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import kopf
import pytest
import torch
import yaml
from upir_operator import events
from upir_operator.decisions import Action, Sample
from upir_operator.engine import Engine
from upir_operator.handlers import Runtime, apply_parameters, reconcile
from upir_operator.settings import OperatorSettings
from upir_operator.tuning import LoopMemory, tune_once

from upir.certificates import generate_signing_key
from upir.core import UPIR
from upir.settings import Settings, SolverSettings
from upir.tuning.settings import TuningSettings
from upir.tuning.simulated import (
    LOAD_METRIC,
    REPORTED_METRICS,
    SimulatedWorkload,
    make_profile,
    tune,
)
from upir.tuning.step import new_learner
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

ROOT = Path(__file__).resolve().parents[3]
WINDOWS = 14
OUTCOME = {
    "accepted": Action.APPLY,
    "rejected": Action.REJECT,
    "rolled back": Action.ROLLBACK,
    "unchanged": Action.KEEP,
}


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "benchmarks" / "tuning_upir.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 1})
    doc["spec"].pop("target", None)
    doc["spec"]["tuning"]["prometheus"] = {
        "url": "http://prometheus.test:9090",
        "queries": {name: f"upir_sim_{name}" for name in REPORTED_METRICS},
        "environment": {"arrival_rps": "upir_sim_offered_rps"},
    }
    return doc


class Kube:
    """The Kubernetes client (our own layer): remembers what was written."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.status: dict[str, Any] = {}

    async def get(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.objects.get((manifest["kind"], manifest["metadata"]["name"]))

    async def apply(self, manifest: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        self.objects[(manifest["kind"], manifest["metadata"]["name"])] = copy.deepcopy(manifest)
        return dict(manifest)

    async def patch_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self.status.update(copy.deepcopy(dict(patch)))


class Prometheus:
    """The Prometheus client (our own layer): answers with the current window."""

    def __init__(self) -> None:
        self.window: Mapping[str, float] = {}

    async def query_all(
        self, url: str, queries: Mapping[str, str], *, timeout_s: float
    ) -> dict[str, Sample]:
        now = time.time()
        by_query = {f"upir_sim_{k}": v for k, v in self.window.items()}
        return {name: Sample(by_query[q], now) for name, q in queries.items()}

    async def close(self) -> None:
        return None


@pytest.fixture(autouse=True)
def _quiet_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "normal", lambda *a: None)
    monkeypatch.setattr(events, "warning", lambda *a: None)
    torch.set_num_threads(1)


def _simulated(upir: UPIR) -> tuple[list[Any], list[dict[str, float]]]:
    settings = TuningSettings()
    guard = Guardrail(Verifier(SolverSettings(), ProofCache(1024)), upir)
    learner = new_learner(upir, settings, load=(LOAD_METRIC,), guardrail=guard)
    assert learner.settings.model.enabled and learner.settings.restart.metric == LOAD_METRIC
    profile = make_profile("steady", 210.0, 210.0, WINDOWS * 10.0)
    wl = SimulatedWorkload(upir, profile, seed=3, window_s=10.0)
    records = tune(learner, wl, WINDOWS, guardrail=guard, settings=settings)
    return records, [r.metrics for r in records]


async def _operated(doc: dict[str, Any], windows: list[dict[str, float]]) -> tuple[list, Kube]:
    kube, prom = Kube(), Prometheus()
    runtime = Runtime(
        OperatorSettings(),
        Engine(Settings(), generate_signing_key()),
        kube,  # type: ignore[arg-type]
        prometheus=prom,  # type: ignore[arg-type]
    )
    # the operator's first reconcile proves and applies the spec's parameters
    changes = (await reconcile(runtime, doc))[2]
    kube.status.update(changes)
    mem = LoopMemory()
    decisions = []
    for metrics in windows:
        prom.window = metrics
        body = kopf.Body({**doc, "status": copy.deepcopy(kube.status)})
        dec = await tune_once(runtime, body, mem, apply_parameters)
        assert dec is not None
        decisions.append(dec)
    assert mem.learner is not None and mem.learner.settings.model.enabled
    assert mem.learner.settings.model.context == ("env.arrival_rps",)
    return decisions, kube


def test_the_operator_decides_as_the_simulator() -> None:
    doc = _doc()
    upir = UPIR.from_resource(doc)
    records, windows = _simulated(upir)
    decisions, kube = asyncio.run(_operated(doc, windows))
    sim = [(OUTCOME[r.outcome], r.proposal if r.outcome != "unchanged" else None) for r in records]
    live = [
        (d.action, dict(d.params) if d.params is not None and d.action is not Action.KEEP else None)
        for d in decisions
    ]
    assert live == sim
    # the loop did something worth comparing: proposals applied on both sides
    assert sum(1 for a, _ in live if a is Action.APPLY) >= 2
    assert kube.status["appliedParameters"] == {
        k: (int(v) if v.denominator == 1 else float(v)) for k, v in _after(records).items()
    }
    # the checkpoint the operator keeps (learner with its score model, and state)
    cm = kube.objects[("ConfigMap", "refworkload-tuning-learner")]
    size = len(json.dumps(cm).encode())
    print(f"checkpoint ConfigMap after {WINDOWS} windows: {size} bytes")
    assert size < 256 * 1024


def _after(records: list[Any]) -> dict[str, Fraction]:
    from upir.tuning.simulated import params_after

    return params_after(records[-1])


def test_spec_tuning_learner_model_overrides_the_operator_setting() -> None:
    from types import SimpleNamespace

    from upir_operator.tuning import load_names, settings_for

    doc = _doc()
    runtime = SimpleNamespace(settings=OperatorSettings())
    upir = UPIR.from_resource(doc)
    assert load_names(upir) == ("env.arrival_rps",)
    # auto: the winner, since the environment query observes the load
    assert settings_for(runtime, upir).learner_for(load_names(upir)).model.enabled
    doc["spec"]["tuning"]["learner"] = {"model": False}
    off = UPIR.from_resource(doc)
    assert off.tuning.learner_model is False
    assert not settings_for(runtime, off).learner_for(load_names(off)).model.enabled
    del doc["spec"]["tuning"]["prometheus"]["environment"]
    doc["spec"]["tuning"]["learner"] = {"model": True}
    forced = UPIR.from_resource(doc)
    assert load_names(forced) == ()
    assert settings_for(runtime, forced).learner_for(()).model.enabled
    del doc["spec"]["tuning"]["learner"]
    plain = UPIR.from_resource(doc)
    assert not settings_for(runtime, plain).learner_for(()).model.enabled
