"""Validation of the simulator's inputs, and the load profile's rate function."""

from __future__ import annotations

from typing import Any

import pytest

from upir.errors import InvalidSpecError
from upir.simulator import LoadProfile, ServiceModel, Simulator, WorkloadParams


def _fields(exc: pytest.ExceptionInfo[InvalidSpecError]) -> set[str]:
    return {issue.field for issue in exc.value.issues}


def test_params_accept_json_numbers_and_normalise_types() -> None:
    raw: dict[str, Any] = {
        "timeout_ms": 300, "retries": 2.0, "queue_capacity": 100.0, "batch_size": 4,
        "flush_ms": 5, "concurrency": 8, "replicas": 3,
    }  # fmt: skip
    p = WorkloadParams(**raw)
    assert isinstance(p.retries, int) and p.retries == 2
    assert isinstance(p.queue_capacity, int)
    assert isinstance(p.timeout_ms, float) and p.timeout_ms == 300.0
    assert p.workers == 24
    assert WorkloadParams.from_mapping(p.as_dict()) == p


def test_params_report_every_bad_field() -> None:
    with pytest.raises(InvalidSpecError) as exc:
        bad: dict[str, Any] = {
            "timeout_ms": 0, "retries": -1, "queue_capacity": 2.5, "batch_size": 0,
            "flush_ms": -1, "concurrency": True, "replicas": float("nan"),
        }  # fmt: skip
        WorkloadParams(**bad)
    assert _fields(exc) == {
        "timeout_ms", "retries", "queue_capacity", "batch_size", "flush_ms", "concurrency",
        "replicas",
    }  # fmt: skip
    with pytest.raises(InvalidSpecError) as exc:
        WorkloadParams.from_mapping({"timeout_ms": 10, "bogus": 1})
    assert _fields(exc) == {"bogus"}
    with pytest.raises(InvalidSpecError, match="concurrency x replicas"):
        WorkloadParams(concurrency=1000, replicas=1000)
    with pytest.raises(InvalidSpecError) as exc:
        WorkloadParams.from_mapping({"timeout_ms": "300"})
    assert _fields(exc) == {"timeout_ms"}


def test_service_model_validation() -> None:
    with pytest.raises(InvalidSpecError) as exc:
        ServiceModel(base_ms=0, sigma=-1, per_item_ms=-1, failure_prob=1.0, cores=0,
                     cost_per_replica=-2)  # fmt: skip
    assert _fields(exc) == {
        "base_ms", "sigma", "per_item_ms", "failure_prob", "cores", "cost_per_replica",
    }  # fmt: skip
    assert ServiceModel(**{"cores": 2.0}).cores == 2


def test_profile_rates() -> None:
    step = LoadProfile.step(100, 400, at_s=20)
    assert step.rate([0, 19.999, 20, 30]).tolist() == [100, 100, 400, 400]
    assert step.max_rate(0, 19) == 100 and step.max_rate(0, 20) == 400
    assert step.mean_rate(10, 30) == pytest.approx(250, rel=0.01)
    ramp = LoadProfile.ramp(100, 500, start_s=10, end_s=50)
    assert ramp.rate([0, 10, 30, 50, 99]).tolist() == [100, 100, 300, 500, 500]
    assert ramp.max_rate(0, 30) == pytest.approx(300)
    steady = LoadProfile.steady(250)
    assert steady.rate(1e6) == 250 and steady.name == "steady"
    # a down step: the max over an interval that contains it is the earlier level
    down = LoadProfile.step(400, 100, at_s=5)
    assert down.max_rate(0, 10) == 400


def test_profile_validation() -> None:
    with pytest.raises(InvalidSpecError, match="non-decreasing"):
        LoadProfile(((10.0, 1.0), (5.0, 1.0)))
    with pytest.raises(InvalidSpecError):
        LoadProfile(())
    with pytest.raises(InvalidSpecError):
        LoadProfile.steady(-5)
    with pytest.raises(InvalidSpecError) as exc:
        LoadProfile.steady(10, burst_mean=0.5)
    assert _fields(exc) == {"burst_mean"}


def test_bursty_arrivals_keep_the_mean_rate() -> None:
    sim = Simulator(WorkloadParams(concurrency=8, replicas=4), LoadProfile.steady(200, 5), seed=1)
    offered = [sim.run_window(10.0).offered_rps for _ in range(5)]
    assert sum(offered) / 5 == pytest.approx(200, rel=0.1)


def test_bad_simulator_arguments() -> None:
    p, prof = WorkloadParams(), LoadProfile.steady(10)
    with pytest.raises(InvalidSpecError):
        Simulator(p, prof, seed=-1)
    with pytest.raises(InvalidSpecError):
        Simulator(p, prof, seed=True)
    sim = Simulator(p, prof)
    for bad in (0, -1, float("inf"), 1e9):
        with pytest.raises(InvalidSpecError, match="window_s"):
            sim.run_window(bad)


def test_fork_is_independent_and_identical() -> None:
    sim = Simulator(WorkloadParams(concurrency=4), LoadProfile.steady(300), seed=5)
    sim.run_window(3.0)
    twin = sim.fork()
    a, b = sim.run_window(3.0), twin.run_window(3.0)
    assert a == b  # same state, same RNG streams (no NaN here: requests completed)
    assert a.completed > 0
