"""Hand-computed event traces of the reference workload's instance on replayed
arrivals with a constant worker time (these were the former engine's traces).

The gateway's own work per attempt is 1e-6 ms (``GATEWAY_TIME``), so times below
are exact to within that."""

from __future__ import annotations

from dataclasses import replace

import pytest

from upir.cli.common import read_one_upir
from upir.simulator import Arrivals, GraphSimulator, LoadProfile, Network
from upir.simulator.network import ServiceTime
from upir.simulator.reference import reference_network

UPIR_ = read_one_upir("benchmarks/tuning_upir.yaml")
EPS = 1e-3
TEN_MS = ServiceTime("constant", 10.0, 10.0, 10.0)


def sim(
    trace: list[float],
    worker_time: ServiceTime = TEN_MS,
    max_in_flight: int = 512,
    **changes: float,
) -> GraphSimulator:
    """The instance with one worker slot, batches of 1, no retries (``changes``:
    ``gateway_timeout_ms`` for ``gateway.timeout_ms``...), replaying ``trace`` (s)."""
    values = {
        "gateway.timeout_ms": 1000,
        "gateway.retries": 0,
        "gateway.concurrency": 64,
        "gateway.replicas": 2,
        "orders.capacity": 10,
        "batcher.batch_size": 1,
        "batcher.flush_ms": 0,
        "worker.concurrency": 1,
        "worker.replicas": 1,
    }
    values.update({k.replace("_", ".", 1): v for k, v in changes.items()})
    net = reference_network(UPIR_).with_params(values)
    worker = replace(net.node("worker"), service_time=worker_time, failure_rate=0.0)
    net = Network(tuple(worker if n.name == "worker" else n for n in net.nodes), net.edges)
    arrivals = Arrivals("trace", trace_s=tuple(trace))
    return GraphSimulator(
        net, LoadProfile.steady(1.0), arrivals=arrivals, max_in_flight=max_in_flight
    )


def test_retry_storm_trace() -> None:
    # One worker, 10 ms per attempt, timeout 15 ms, 1 retry; three requests at t = 0.
    #  t=0   a1 runs [0,10]; a2, a3 wait (deadlines 15)
    #  t=10  a1 answers: R1 ok, latency 10. a2 runs [10,20]
    #  t=15  a2 and a3 time out -> retries a2', a3' (deadlines 30)
    #        waiting: a3 (abandoned, still queued), a2', a3'
    #  t=20  a2 finishes, its answer ignored. a3 runs [20,30]
    #  t=30  a2' and a3' time out with no retries left: R2, R3 errors after 30 ms;
    #        a3 finishes (ignored); a2' runs [30,40], a3' [40,50], both ignored
    w = sim([0.0, 0.0, 0.0], gateway_timeout_ms=15, gateway_retries=1).run_window(1.0)
    m, gw = w.system, w.components["gateway"]
    assert (m.arrivals, m.completed, m.errors, m.dropped) == (3, 1, 2, 0)
    assert (gw.retries, gw.timeouts) == (2, 4)
    assert w.components["batcher"].batches == 5  # abandoned attempts still get a batch
    # latencies of all outcomes, like the workload's histogram: 10, 30, 30
    assert m.p50_ms == pytest.approx(30.0, abs=EPS)
    assert m.mean_ms == pytest.approx(70 / 3, abs=EPS)
    assert m.error_rate == pytest.approx(2 / 3)
    # one worker slot busy 0..50 ms of 1000
    assert w.components["worker"].utilization == pytest.approx(50 / 1000, abs=1e-5)
    assert m.in_flight == 0


def test_full_queue_drops_trace() -> None:
    # Capacity 1: a1 goes straight to the worker, a2 into the batcher (one batch
    # forms there), a3 waits in the queue, a4 finds it full and is answered 503 at
    # once. (The capacity counts the queue, not the batch forming in the batcher.)
    w = sim([0.0, 0.0, 0.0, 0.0], orders_capacity=1).run_window(1.0)
    m = w.system
    assert (m.completed, m.dropped, m.errors) == (3, 1, 0)
    assert m.drop_rate == pytest.approx(1 / 4)
    assert m.error_rate == pytest.approx(1 / 4)  # a drop is an error answer too
    # latencies 0, 10, 20, 30 ms: median 15
    assert m.p50_ms == pytest.approx(15.0, abs=EPS)
    assert w.components["orders"].dropped == 1


def test_batch_fill_and_flush_trace() -> None:
    # batch_size 3, flush 50 ms, batch time 10 + 2 ms per item.
    #  a1 @0, a2 @10, a3 @20: the third fills the batch at 20 -> 10 + 3*2 = 16 ms -> done 36
    #     latencies 36, 26, 16
    #  a4 @100 waits for the flush at 150 -> batch of 1: 12 ms -> done 162, latency 62
    per_item = ServiceTime("constant", 10.0, 10.0, 10.0, per_item_ms=2.0)
    trace = [0.0, 0.010, 0.020, 0.100]
    w = sim(trace, per_item, batcher_batch_size=3, batcher_flush_ms=50).run_window(1.0)
    m, b = w.system, w.components["batcher"]
    assert m.completed == 4 and b.batches == 2
    assert b.mean_batch_size == pytest.approx(2.0)
    assert m.mean_ms == pytest.approx((36 + 26 + 16 + 62) / 4, abs=EPS)
    assert m.p50_ms == pytest.approx(31.0, abs=EPS)  # median of 16, 26, 36, 62
    # items forming a batch: 1 item 0-10, 2 items 10-20, 1 item 100-150 -> 80 item-ms
    assert b.mean_length == pytest.approx(80 / 1000, abs=1e-5)


def test_gateway_slots_make_requests_wait_in_line() -> None:
    # One gateway slot, two workers: R2 waits for R1's answer before its attempt
    # starts at 10 ms; its 15 ms timeout starts then, so it succeeds at 20 ms.
    s = sim(
        [0.0, 0.0],
        gateway_concurrency=1,
        gateway_replicas=1,
        worker_concurrency=2,
        gateway_timeout_ms=15,
    )
    w = s.run_window(1.0)
    assert (w.system.completed, w.components["gateway"].timeouts) == (2, 0)
    assert w.system.mean_ms == pytest.approx((10 + 20) / 2, abs=EPS)
    # never two batches at once: 20 ms of 2 slots x 1000 ms
    assert w.components["worker"].utilization == pytest.approx(20 / 2000, abs=1e-5)


def test_clients_skip_arrivals_beyond_max_inflight() -> None:
    # max 1 open request: the second arrival finds one open and is not sent; the
    # third comes after the first was answered (at 10 ms) and is sent
    w = sim([0.0, 0.005, 0.011], max_in_flight=1).run_window(1.0)
    assert (w.system.arrivals, w.system.skipped, w.system.completed) == (2, 1, 2)


def test_state_carries_over_between_windows() -> None:
    # A 10 ms job that starts at 0.995 s finishes in the next window.
    s = sim([0.995])
    first = s.run_window(1.0)
    assert (first.system.completed, first.system.in_flight) == (0, 1)
    second = s.run_window(1.0)
    assert (second.system.completed, second.system.in_flight) == (1, 0)
    assert second.system.p50_ms == pytest.approx(10.0, abs=EPS)
    assert s.clock_s == pytest.approx(2.0)
