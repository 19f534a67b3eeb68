"""The reference workload as an instance of the general simulator
(:mod:`upir.simulator.reference`): the facts it is told, a line without
shedding, and CPU contention in the tuning benchmark's world."""

from __future__ import annotations

from fractions import Fraction

import pytest

from upir.cli.common import read_one_upir
from upir.simulator.arrivals import Arrivals
from upir.simulator.graph import GraphSimulator
from upir.simulator.load import LoadProfile
from upir.simulator.network import Network, Node, ServiceTime
from upir.simulator.reference import (
    WORKER_FAILURE_RATE,
    WORKER_TIME,
    is_reference_shape,
    reference_network,
)
from upir.tuning.simulated import SimulatedWorkload

TUNING = "benchmarks/tuning_upir.yaml"


def _line(sheds: bool) -> GraphSimulator:
    # one slot, 100 ms of work, a budget of 150 ms (timeout 150, no retries)
    node = Node(
        "s",
        "service",
        {"replicas": 1, "concurrency": 1, "timeout_ms": 150, "retries": 0},
        ServiceTime("constant", 100.0, 100.0, 100.0),
        sheds=sheds,
    )
    return GraphSimulator(
        Network((node,)), LoadProfile.steady(1.0), arrivals=Arrivals("trace", trace_s=(0.0,) * 5)
    )


def test_a_line_without_shedding_waits_as_long_as_it_takes() -> None:
    # five at once: served back to back, answered at 100, 200, ..., 500 ms
    w = _line(sheds=False).run_window(1.0)
    assert w.system.completed == 5 and w.system.shed == 0
    assert w.system.mean_ms == pytest.approx(300.0)
    # with shedding (the default) those that waited past 150 ms are given up
    w = _line(sheds=True).run_window(1.0)
    assert w.system.completed == 2 and w.system.shed == 3


def test_the_reference_network_is_told_the_workloads_facts() -> None:
    upir = read_one_upir(TUNING)
    assert is_reference_shape(upir)
    net = reference_network(upir, {"worker.replicas": Fraction(2)}, cores={"worker": 2})
    gateway, worker = net.node("gateway"), net.node("worker")
    assert gateway.calls and not gateway.sheds and gateway.failure_rate == 0.0
    assert gateway.service_time.kind == "constant" and gateway.service_time.mean < 1e-3
    assert worker.service_time == WORKER_TIME and worker.failure_rate == WORKER_FAILURE_RATE
    assert worker.cores == 2 and worker.value("replicas") == 2
    assert net.edges == reference_network(upir).edges
    assert not is_reference_shape(read_one_upir("examples/api-service.yaml"))


def test_the_tuning_world_stretches_workers_past_their_cores() -> None:
    # One worker replica running up to 8 single-item batches at 150 req/s: with
    # 2 cores each batch past the 2nd is stretched, so the p99 grows.
    upir = read_one_upir(TUNING)
    values = {
        **upir.tunable_values(),
        "worker.replicas": Fraction(1),
        "worker.concurrency": Fraction(8),
        "batcher.batch_size": Fraction(1),
        "batcher.flush_ms": Fraction(0),
    }
    p99 = {}
    for cores in (None, 2):
        wl = SimulatedWorkload(
            upir,
            LoadProfile.steady(150),
            cores=None if cores is None else {"worker": cores},
            seed=3,
            window_s=5,
        )
        p99[cores] = wl.run(values)["latency_ms"]
    assert p99[2] > 1.3 * p99[None]
