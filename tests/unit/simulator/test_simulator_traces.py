"""Hand-computed event traces on replayed arrivals with a constant service time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from upir.errors import InvalidSpecError
from upir.simulator import ServiceModel, Simulator, WorkloadParams
from upir.simulator.model import LoadProfile

# No jitter, no spread: every batch takes exactly overhead_ms + per_item_ms * k.
CONSTANT = ServiceModel(overhead_ms=10.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=0.0)
IDLE = LoadProfile.steady(0.0)


def _params(**kw: float) -> WorkloadParams:
    base: dict[str, float] = dict(
        gateway_timeout_ms=1000, gateway_retries=0, orders_capacity=10, batcher_batch_size=1,
        batcher_flush_ms=0, worker_concurrency=1, worker_replicas=1,
    )  # fmt: skip
    base.update(kw)
    return WorkloadParams.from_mapping(base)


def test_retry_storm_trace() -> None:
    # One worker, 10 ms per attempt, timeout 15 ms, 1 retry; three requests at t = 0.
    #  t=0   a1 runs [0,10]; a2, a3 queue (deadlines 15)
    #  t=10  a1 answers: R1 ok, latency 10. a2 runs [10,20]
    #  t=15  a2 times out -> retry a2' (deadline 30); a3 times out -> retry a3' (deadline 30)
    #        queue: a3 (abandoned, still queued), a2', a3'
    #  t=20  a2 finishes, wasted. a3 runs [20,30]
    #  t=30  a3 finishes, wasted (completion before the deadlines at the same instant);
    #        a2' runs [30,40]; a2' and a3' time out with no retries left: R2, R3 errors
    #        (504) after 30 ms
    #  t=40  a2' finishes, wasted; a3' runs [40,50]; t=50 wasted
    sim = Simulator(_params(gateway_timeout_ms=15, gateway_retries=1), IDLE, CONSTANT, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.0, 0.0])
    assert (m.arrivals, m.completed, m.errors, m.dropped) == (3, 1, 2, 0)
    assert (m.retries, m.timeouts, m.wasted, m.batches) == (2, 4, 4, 5)
    # latencies of all outcomes, like the workload's histogram: 10, 30, 30
    assert m.p50_ms == pytest.approx(30.0) and m.mean_ms == pytest.approx(70 / 3)
    assert m.error_rate == pytest.approx(2 / 3)
    assert m.utilization == pytest.approx(50 / 1000)  # one slot busy 0..50 ms of 1000
    assert m.in_flight == 0 and sim.totals().in_flight == 0


def test_full_queue_drops_trace() -> None:
    # Capacity 1: a1 goes straight to the worker, a2 waits in the queue, a3 finds it
    # full and is answered 503 at once.
    sim = Simulator(_params(orders_capacity=1), IDLE, CONSTANT, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.0, 0.0])
    assert (m.completed, m.dropped, m.errors) == (2, 1, 0)
    assert m.drop_rate == pytest.approx(1 / 3)
    assert m.error_rate == pytest.approx(1 / 3)  # a drop is an error answer too
    # latencies 0, 10, 20 ms: median 10; p99 at rank 0.99 * 2 = 1.98 -> 10 + 0.98 * 10
    assert m.p50_ms == pytest.approx(10.0)
    assert m.p99_ms == pytest.approx(19.8)


def test_batch_fill_and_flush_trace() -> None:
    # batch_size 3, flush 50 ms, batch time 10 + 2 ms per item.
    #  a1 @0, a2 @10, a3 @20: the third fills the batch at 20 -> 10 + 3*2 = 16 ms -> done 36
    #     latencies 36, 26, 16
    #  a4 @100 waits for the flush at 150 -> batch of 1: 12 ms -> done 162, latency 62
    service = ServiceModel(overhead_ms=10.0, per_item_ms=2.0, jitter_ms=0.0, failure_rate=0.0)
    sim = Simulator(_params(batcher_batch_size=3, batcher_flush_ms=50), IDLE, service, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.010, 0.020, 0.100])
    assert m.completed == 4 and m.batches == 2
    assert m.mean_batch_size == pytest.approx(2.0)
    assert m.mean_ms == pytest.approx((36 + 26 + 16 + 62) / 4)
    assert m.p50_ms == pytest.approx(31.0)  # median of 16, 26, 36, 62
    # queue-length integral: 1 item 0-10, 2 items 10-20, 1 item 100-150 -> 80 item-ms
    assert m.mean_queue_length == pytest.approx(80 / 1000)


def test_cpu_contention_stretches_batches() -> None:
    # cores = 1, concurrency 2: the second simultaneous batch runs at half speed.
    one_core = replace(CONSTANT, cores=1)
    sim = Simulator(_params(worker_concurrency=2), IDLE, one_core, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.0])
    assert m.mean_ms == pytest.approx((10 + 20) / 2)
    # the same two workers as two replicas with one core each: no stretching
    sim = Simulator(_params(worker_replicas=2), IDLE, one_core, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.0])
    assert m.mean_ms == pytest.approx(10.0)
    assert m.cost == 2 + 2  # 2 gateway replicas (default) + 2 worker replicas
    # no cores (the reference workload sleeps): no stretching either
    sim = Simulator(_params(worker_concurrency=2), IDLE, CONSTANT, seed=0)
    assert sim.run_window(1.0, arrivals_s=[0.0, 0.0]).mean_ms == pytest.approx(10.0)


def test_gateway_slots_make_requests_wait_in_line() -> None:
    # One gateway slot, two workers: R2 waits for R1's answer before its attempt is
    # queued at 10 ms; its 15 ms timeout starts then, so it succeeds at 20 ms.
    params = _params(
        gateway_concurrency=1, gateway_replicas=1, worker_concurrency=2, gateway_timeout_ms=15
    )
    sim = Simulator(params, IDLE, CONSTANT, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.0])
    assert (m.completed, m.timeouts) == (2, 0)
    assert m.mean_ms == pytest.approx((10 + 20) / 2)
    assert m.utilization == pytest.approx(20 / 2000)  # never two batches at once


def test_clients_skip_arrivals_beyond_max_inflight() -> None:
    profile = LoadProfile.steady(0.0, max_inflight=1)
    sim = Simulator(_params(), profile, CONSTANT, seed=0)
    m = sim.run_window(1.0, arrivals_s=[0.0, 0.005, 0.010])
    # the second arrival finds one request open and is not sent; the third is
    # sent as the first answers at exactly 10 ms (the answer is processed first)
    assert (m.arrivals, m.skipped, m.completed) == (2, 1, 2)


def test_state_carries_over_between_windows() -> None:
    # A 10 ms job that starts at 0.995 s finishes in the next window.
    sim = Simulator(_params(), IDLE, CONSTANT, seed=0)
    first = sim.run_window(1.0, arrivals_s=[0.995])
    assert (first.completed, first.in_flight) == (0, 1)
    assert sim.totals().in_flight == 1
    second = sim.run_window(1.0, arrivals_s=[])
    assert (second.completed, second.in_flight) == (1, 0)
    assert second.p50_ms == pytest.approx(10.0)
    assert sim.clock_s == pytest.approx(2.0)


def test_replayed_arrivals_must_be_inside_the_window() -> None:
    sim = Simulator(_params(), IDLE, CONSTANT, seed=0)
    with pytest.raises(InvalidSpecError, match="arrivals_s"):
        sim.run_window(1.0, arrivals_s=[1.5])
    with pytest.raises(InvalidSpecError, match="arrivals_s"):
        sim.run_window(1.0, arrivals_s=[float("nan")])
