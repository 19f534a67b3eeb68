"""The tuning objective: directions, scales, penalties and bad input."""

from __future__ import annotations

import math
from fractions import Fraction as F
from typing import Any

import pytest

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.tuning.objective import TuningObjective, is_benefit, is_ratio


def _upir(
    objective: dict[str, float] | None = None, constraints: dict[str, Any] | None = None
) -> UPIR:
    spec: dict[str, Any] = {
        "architecture": {
            "components": [
                {"name": "gateway", "type": "service", "params": {"replicas": 2}},
                {
                    "name": "worker",
                    "type": "service",
                    "params": {"replicas": 3, "cost_per_replica": 2},
                },
            ],
            "connections": [{"from": "gateway", "to": "worker"}],
        },
        "specification": {"assumptions": ["env.arrival_rps <= 10"]},
        "parameters": [{"name": "worker.replicas", "min": 1, "max": 8}],
    }
    if constraints:
        spec["specification"]["constraints"] = constraints
    if objective is not None:
        spec["tuning"] = {"objective": objective}
    return UPIR.from_resource(
        {"apiVersion": "upir.dev/v1alpha1", "kind": "UPIR", "metadata": {"name": "t"}, "spec": spec}
    )


BASE = {"latency_ms": 99.0, "throughput_rps": 99.0, "error_rate": 0.01}


def test_directions_and_kinds() -> None:
    assert is_benefit("throughput_rps") and is_benefit("availability")
    assert not is_benefit("latency_ms") and not is_benefit("error_rate") and not is_benefit("cost")
    assert is_ratio("error_rate") and is_ratio("drop_rate") and is_ratio("availability")
    assert not is_ratio("latency_ms") and not is_ratio("cost")


def test_zero_at_the_baseline_and_log_ratio_terms() -> None:
    obj = TuningObjective(_upir())  # default weights: latency 1, throughput 1, errors 10
    assert obj.score(BASE) == 0.0  # fixes the baseline
    # halving (latency + 1) is worth ln 2; doubling (throughput + 1) too
    assert obj.score({**BASE, "latency_ms": 49.0}) == pytest.approx(math.log(2))
    assert obj.score({**BASE, "throughput_rps": 199.0}) == pytest.approx(math.log(2))
    # error rate is linear with weight 10: 1 point more costs 0.1
    assert obj.score({**BASE, "error_rate": 0.02}) == pytest.approx(-0.1)
    assert obj.metric_names() == ("latency_ms", "throughput_rps", "error_rate")


def test_spec_weights_and_cost_from_the_parameters() -> None:
    u = _upir({"latency_ms": 2.0, "cost": 0.5, "error_rate": 1.0, "throughput_rps": 0.0})
    obj = TuningObjective(u)
    assert obj.metric_names() == ("latency_ms", "throughput_rps", "error_rate", "cost")
    # cost = 2 x 1 + 3 x 2 = 8 when not measured
    assert obj.complete(BASE, u.tunable_values())["cost"] == 8.0
    obj.score(BASE, u.tunable_values())
    # one worker replica fewer: cost 6, a cost term of -0.5 * ln(7/9)
    got = obj.score(BASE, {"worker.replicas": F(2)})
    assert got == pytest.approx(-0.5 * math.log(7 / 9))
    assert obj.score({**BASE, "latency_ms": 49.0}, u.tunable_values()) == pytest.approx(
        2 * math.log(2)
    )


def test_constraint_violations_are_penalised() -> None:
    u = _upir(constraints={"latency_ms": {"max": 100}, "availability": {"min": 0.99}})
    obj = TuningObjective(u)
    obj.set_baseline(BASE)
    inside = obj.breakdown({**BASE, "latency_ms": 100.0})
    assert not any(k.startswith("penalty") for k in inside)
    over = obj.breakdown({**BASE, "latency_ms": 150.0})
    assert over["penalty.constraint.latency_ms"] == pytest.approx(-2.0 * 0.5)
    # availability read as 1 - error_rate: 0.98 against 0.99 is one allowed share over
    low = obj.breakdown({**BASE, "error_rate": 0.02})
    assert low["penalty.constraint.availability"] == pytest.approx(-2.0 * 1.0)
    huge = obj.breakdown({**BASE, "latency_ms": 1e9})
    assert huge["penalty.constraint.latency_ms"] == pytest.approx(-2.0 * 5.0)  # capped


def test_drops_and_unweighted_errors_are_penalised() -> None:
    obj = TuningObjective(_upir({"latency_ms": 1.0}))
    obj.set_baseline(BASE)
    parts = obj.breakdown({**BASE, "error_rate": 0.1, "drop_rate": 0.05})
    assert parts["penalty.errors"] == pytest.approx(-10.0 * 0.1)
    assert parts["penalty.drops"] == pytest.approx(-5.0 * 0.05)


@pytest.mark.parametrize(
    "metrics",
    [
        {"throughput_rps": 1.0, "error_rate": 0.0},
        {**BASE, "latency_ms": float("nan")},
        {**BASE, "throughput_rps": float("inf")},
        {**BASE, "error_rate": "0.1"},
        {**BASE, "latency_ms": True},
    ],
)
def test_bad_metrics_raise_the_projects_error(metrics: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpecError):
        TuningObjective(_upir()).score(metrics)


def test_baseline_round_trip() -> None:
    obj = TuningObjective(_upir())
    obj.score(BASE)
    other = TuningObjective(_upir())
    other.load_state(obj.state())
    assert other.score({**BASE, "latency_ms": 10.0}) == obj.score({**BASE, "latency_ms": 10.0})
    with pytest.raises(ValueError):
        other.load_state({"baseline": 3})
