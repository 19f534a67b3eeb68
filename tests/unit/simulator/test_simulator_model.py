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
        "gateway.timeout_ms": 300, "gateway.retries": 2.0, "orders.capacity": 100.0,
        "batcher.batch_size": 4, "batcher.flush_ms": 5, "worker.concurrency": 8,
        "worker.replicas": 3,
    }  # fmt: skip
    p = WorkloadParams.from_mapping(raw)
    assert isinstance(p.gateway_retries, int) and p.gateway_retries == 2
    assert isinstance(p.orders_capacity, int)
    assert isinstance(p.gateway_timeout_ms, float) and p.gateway_timeout_ms == 300.0
    assert p.worker_slots == 24 and p.gateway_slots == 128  # gateway keeps its defaults
    assert p.as_upir()["orders.capacity"] == 100
    assert WorkloadParams.from_mapping(p.as_dict()) == p
    assert WorkloadParams.from_mapping(p.as_upir()) == p


def test_defaults_are_the_reference_workloads() -> None:
    assert WorkloadParams().as_upir() == {
        "gateway.timeout_ms": 500.0, "gateway.retries": 1, "gateway.concurrency": 64,
        "gateway.replicas": 2, "orders.capacity": 200, "batcher.batch_size": 4,
        "batcher.flush_ms": 5.0, "worker.concurrency": 2, "worker.replicas": 2,
    }  # fmt: skip


def test_params_report_every_bad_field_under_its_upir_name() -> None:
    bad: dict[str, Any] = {
        "gateway_timeout_ms": 0, "gateway_retries": -1, "gateway_concurrency": 0,
        "gateway_replicas": 1e9, "orders_capacity": 2.5, "batcher_batch_size": 0,
        "batcher_flush_ms": -1, "worker_concurrency": True, "worker_replicas": float("nan"),
    }  # fmt: skip
    with pytest.raises(InvalidSpecError) as exc:
        WorkloadParams(**bad)
    assert _fields(exc) == {
        "gateway.timeout_ms", "gateway.retries", "gateway.concurrency", "gateway.replicas",
        "orders.capacity", "batcher.batch_size", "batcher.flush_ms", "worker.concurrency",
        "worker.replicas",
    }  # fmt: skip
    with pytest.raises(InvalidSpecError) as exc:
        WorkloadParams.from_mapping({"gateway.timeout_ms": 10, "bogus": 1})
    assert _fields(exc) == {"bogus"}
    with pytest.raises(InvalidSpecError, match="concurrency must be <= 20000"):
        WorkloadParams(worker_concurrency=1000, worker_replicas=1000)
    with pytest.raises(InvalidSpecError) as exc:
        WorkloadParams.from_mapping({"gateway.timeout_ms": "300"})
    assert _fields(exc) == {"gateway.timeout_ms"}


def test_service_model_validation() -> None:
    bad: dict[str, Any] = {
        "overhead_ms": -1, "per_item_ms": -1, "jitter_ms": float("inf"), "sigma": -1,
        "failure_rate": 1.0, "cores": 0, "gateway_cost_per_replica": -2,
        "worker_cost_per_replica": "1",
    }  # fmt: skip
    with pytest.raises(InvalidSpecError) as exc:
        ServiceModel(**bad)
    assert _fields(exc) == set(bad)
    assert ServiceModel(**{"cores": 2.0}).cores == 2
    assert ServiceModel().cores is None


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
    with pytest.raises(InvalidSpecError) as exc:
        LoadProfile.steady(10, max_inflight=0)
    assert _fields(exc) == {"max_inflight"}


def test_bursty_arrivals_keep_the_mean_rate() -> None:
    roomy = WorkloadParams(worker_concurrency=8, worker_replicas=4, orders_capacity=5000)
    sim = Simulator(roomy, LoadProfile.steady(200, 5), seed=1)
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
    sim = Simulator(WorkloadParams(), LoadProfile.steady(150), seed=5)
    sim.run_window(3.0)
    twin = sim.fork()
    a, b = sim.run_window(3.0), twin.run_window(3.0)
    assert a == b  # same state, same RNG streams (no NaN here: requests completed)
    assert a.completed > 0
