"""The simulated tuning loop's rollback (the step's one rule, the operator's):
back to the best configuration measured when the score regresses for
``windows`` windows. The rule itself: tests/unit/tuning/test_tuning_step.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import yaml

from upir.core import UPIR
from upir.tuning.learner import ArchitectureLearner
from upir.tuning.settings import RollbackSettings, TuningSettings
from upir.tuning.simulated import REPORTED_METRICS, metrics_of, tune

SPEC = Path(__file__).resolve().parents[3] / "benchmarks" / "tuning_upir.yaml"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


class Scripted:
    """A workload (our own layer, scripted): window i has p99 ``latencies[i]``."""

    def __init__(self, latencies: list[float]) -> None:
        self.latencies = latencies
        self.seen: list[dict[str, Fraction]] = []

    def run(self, values: Mapping[str, Fraction]) -> dict[str, float]:
        i = len(self.seen)
        self.seen.append(dict(values))
        return {"latency_ms": self.latencies[i], "throughput_rps": 200.0, "error_rate": 0.0}


def test_rolls_back_to_the_best_window_after_two_regressed_windows() -> None:
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    learner = ArchitectureLearner(upir, seed=0)
    # window 2 is the best (50 ms); windows 3 and 4 are far worse (regressed)
    wl = Scripted([100.0, 100.0, 50.0, 400.0, 400.0, 100.0, 100.0])
    rule = RollbackSettings(threshold=0.2, windows=2)
    records = tune(learner, wl, 7, guardrail=None, settings=TuningSettings(rollback=rule))
    outcomes = [r.outcome for r in records]
    assert outcomes[4] == "rolled back"
    assert outcomes.count("rolled back") == 1
    assert records[4].proposal == records[2].params
    assert wl.seen[5] == records[2].params  # the best configuration ran next
    # the proposal made in the rolled-back window was not applied: the learner drops it
    assert learner.counters["dropped"] >= 1


def test_no_rollback_without_the_switch() -> None:
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    wl = Scripted([100.0, 100.0, 50.0, 400.0, 400.0, 100.0, 100.0])
    off = TuningSettings(rollback=RollbackSettings(enabled=False))
    records = tune(ArchitectureLearner(upir, seed=0), wl, 7, guardrail=None, settings=off)
    assert "rolled back" not in [r.outcome for r in records]


def test_reported_metrics_are_what_metrics_of_reports() -> None:
    from upir.simulator import SystemWindow

    system = SystemWindow(**{f.name: 1 for f in fields(SystemWindow)})
    assert tuple(metrics_of(system)) == REPORTED_METRICS
