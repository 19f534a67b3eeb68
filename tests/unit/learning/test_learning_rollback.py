"""The simulated tuning loop's rollback (the operator's rule): back to the best
configuration measured when the score regresses for ``windows`` windows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import yaml

from upir.core import UPIR
from upir.learning.learner import ArchitectureLearner
from upir.learning.simenv import REPORTED_METRICS, Rollback, _Best, metrics_of, tune
from upir.simulator.metrics import WindowMetrics

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
    records = tune(learner, wl, 7, guardrail=None, rollback=Rollback(threshold=0.2, windows=2))
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
    records = tune(ArchitectureLearner(upir, seed=0), wl, 7, guardrail=None)
    assert "rolled back" not in [r.outcome for r in records]


def test_an_interrupted_regression_does_not_roll_back() -> None:
    best = _Best(Rollback(threshold=0.2, windows=2))
    a, b, c = {"x": Fraction(1)}, {"x": Fraction(2)}, {"x": Fraction(3)}
    assert best.observe(a, 1.0) is False
    assert best.observe(b, 0.5) is False  # regressed once
    assert best.observe(c, 0.9) is False  # within 20%: the count restarts
    assert best.observe(b, 0.5) is False  # regressed once again
    assert best.observe(b, 0.5) is True  # twice in a row


def test_best_is_re_measured_while_it_runs() -> None:
    # after a load shift the best configuration scores lower: its record follows,
    # so a best from the old load does not trigger rollback after rollback
    best = _Best(Rollback(threshold=0.2, windows=1))
    a, b = {"x": Fraction(1)}, {"x": Fraction(2)}
    assert best.observe(a, 1.0) is False
    assert best.observe(b, 0.5) is True  # regressed: back to a
    assert best.observe(a, 0.4) is False  # a re-measured under the new load
    assert best.score == 0.4 and best.params == a
    assert best.observe(b, 0.38) is False  # within 20% of a's new score


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": -1.0}, {"windows": 0}])
def test_rollback_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Rollback(**kwargs)  # type: ignore[arg-type]


def test_reported_metrics_are_what_metrics_of_reports() -> None:
    window = WindowMetrics(**{f.name: 1 for f in fields(WindowMetrics)})
    assert tuple(metrics_of(window)) == REPORTED_METRICS
