"""The simulator responds to every parameter the way a real service does.

Each test compares two configurations on the same seed (the simulator gives
both the very same arrivals), after a 5 s warm-up, over a 10 s window.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from upir.simulator import (
    LoadProfile,
    ServiceModel,
    Simulator,
    WindowMetrics,
    WorkloadParams,
    simulate_window,
)

BASE = WorkloadParams()  # the reference workload's defaults: 4 workers, batches of 4
STEADY = LoadProfile.steady(150)
SLOW = {"gateway_timeout_ms": 2000, "gateway_retries": 0}  # no timeouts in the way

BLOWUP_S = 10.0
"""CPU-time bound that only catches a blow-up, not slowness: on a shared machine a
tighter bound fails by chance. Speed targets live in benchmarks/, not timed tests."""


def p(**changes: float) -> WorkloadParams:
    return WorkloadParams.from_mapping(changes, base=BASE)


def run(
    params: WorkloadParams,
    profile: LoadProfile = STEADY,
    service: ServiceModel | None = None,
    seed: int = 3,
) -> WindowMetrics:
    return simulate_window(params, profile, 10.0, seed=seed, service=service, warmup_s=5.0)


def _same(a: WindowMetrics, b: WindowMetrics) -> bool:
    da, db = a.as_dict(), b.as_dict()
    return all(
        (isinstance(x, float) and math.isnan(x) and math.isnan(db[k])) or x == db[k]
        for k, x in da.items()
    )


def test_same_seed_same_metrics_other_seed_other_metrics() -> None:
    assert _same(run(BASE, seed=7), run(BASE, seed=7))
    assert not _same(run(BASE, seed=7), run(BASE, seed=8))


def test_arrivals_do_not_depend_on_parameters() -> None:
    # common random numbers: the arrival stream is its own RNG stream
    a = run(BASE)
    b = run(p(worker_concurrency=1, batcher_batch_size=1, gateway_timeout_ms=20))
    assert a.arrivals == b.arrivals


def test_healthy_baseline_is_sane() -> None:
    m = run(BASE)
    assert m.offered_rps == pytest.approx(150, rel=0.05)
    assert m.throughput_rps == pytest.approx(m.offered_rps, rel=0.02)
    assert m.error_rate < 0.005 and m.drop_rate == 0 and m.skipped == 0
    assert 20 < m.p50_ms < m.p99_ms < 150
    assert 0.3 < m.utilization < 0.9
    assert m.cost == 4.0  # 2 gateway + 2 worker replicas


def test_too_short_timeout_causes_retry_storm_and_errors() -> None:
    ok = run(p(gateway_retries=2))
    short = run(p(gateway_timeout_ms=40, gateway_retries=2))  # about one batch's time
    assert ok.timeouts == 0 and ok.error_rate < 0.005
    assert short.timeouts > 1000 and short.retries > 1000
    assert short.wasted > 1000  # abandoned attempts still burned worker time
    assert short.utilization > ok.utilization + 0.2
    assert short.error_rate > 0.5
    assert short.throughput_rps < 0.5 * ok.throughput_rps


def test_errors_fall_monotonically_as_the_timeout_grows() -> None:
    rates = [run(p(gateway_timeout_ms=t, gateway_retries=0)).error_rate for t in (20, 40, 60, 100)]
    assert rates == sorted(rates, reverse=True)
    assert rates[0] > 0.5 and rates[-1] < 0.005


def test_retries_mask_transient_failures() -> None:
    flaky = ServiceModel(failure_rate=0.1)
    rates = [run(p(gateway_retries=r), service=flaky).error_rate for r in (0, 1, 2)]
    assert rates[0] == pytest.approx(0.1, abs=0.02)
    assert rates[0] > rates[1] > rates[2]
    assert rates[2] < 0.005


def test_tiny_queue_drops_under_bursts() -> None:
    bursty = LoadProfile.steady(150, burst_mean=20)
    drops = [run(p(orders_capacity=c), bursty).drop_rate for c in (5, 20, 50, 1000)]
    assert drops == sorted(drops, reverse=True)
    assert drops[0] > 0.3
    assert drops[-1] == 0.0


def test_big_batches_at_low_load_add_latency() -> None:
    low = LoadProfile.steady(10)
    small = run(p(batcher_batch_size=1, batcher_flush_ms=0), low)
    big = run(p(batcher_batch_size=32, batcher_flush_ms=50), low)
    # the batch never fills at 10 rps, so items wait for the 50 ms flush
    assert big.p50_ms > small.p50_ms + 30
    longer = run(p(batcher_batch_size=32, batcher_flush_ms=200, gateway_timeout_ms=1000), low)
    assert longer.p50_ms > big.p50_ms + 50


def test_batching_amortises_overhead_under_load() -> None:
    heavy = LoadProfile.steady(300)
    thr = [run(p(batcher_batch_size=b, **SLOW), heavy).throughput_rps for b in (1, 2, 4)]
    assert thr == sorted(thr)
    assert thr[2] > 1.5 * thr[0]


def test_more_workers_under_overload_lower_p99() -> None:
    heavy = LoadProfile.steady(300)
    starved = run(p(worker_concurrency=2, worker_replicas=1, **SLOW), heavy)
    enough = run(p(worker_concurrency=4, worker_replicas=1, **SLOW), heavy)
    assert starved.utilization > 0.95 and starved.gateway_waiting > 100
    assert enough.p99_ms < 0.1 * starved.p99_ms
    assert enough.throughput_rps > 1.3 * starved.throughput_rps


def test_too_few_gateway_slots_make_requests_wait() -> None:
    starved = run(p(gateway_concurrency=4, gateway_replicas=1))
    ok = run(BASE)
    assert starved.gateway_waiting > 100 and starved.skipped > 0
    assert starved.p99_ms > 10 * ok.p99_ms
    assert starved.utilization < ok.utilization  # the workers idle behind the gateway


def test_concurrency_beyond_cores_adds_latency_not_throughput() -> None:
    two_cores = ServiceModel(cores=2)
    light = LoadProfile.steady(100)
    at_cores = run(p(worker_concurrency=2, worker_replicas=1), light, two_cores)
    beyond = run(p(worker_concurrency=8, worker_replicas=1), light, two_cores)
    assert beyond.throughput_rps == pytest.approx(at_cores.throughput_rps, rel=0.02)
    assert beyond.p99_ms > 1.5 * at_cores.p99_ms


def test_more_worker_replicas_cost_more_and_relieve_load() -> None:
    one, three = run(p(worker_replicas=1)), run(p(worker_replicas=3))
    assert three.cost == one.cost + 2
    assert three.utilization < one.utilization * 0.6
    assert three.p99_ms < one.p99_ms


def test_overload_with_a_long_queue_collapses_goodput() -> None:
    # Every queued item waits past its timeout: the worker is busy all the time,
    # yet every answer comes too late (congestion collapse), and the full queue drops.
    m = run(p(worker_concurrency=1, worker_replicas=1, gateway_retries=0), LoadProfile.steady(200))
    assert m.utilization > 0.99
    assert m.throughput_rps < 0.02 * m.offered_rps
    assert m.wasted > 500 and m.drop_rate > 0.3


def test_step_and_ramp_profiles_change_the_offered_load() -> None:
    roomy = p(worker_concurrency=4, worker_replicas=4)
    sim = Simulator(roomy, LoadProfile.step(50, 200, at_s=20.0), seed=1)
    offered = [sim.run_window(10.0).offered_rps for _ in range(4)]
    assert offered[0] == pytest.approx(50, rel=0.15)
    assert offered[1] == pytest.approx(50, rel=0.15)
    assert offered[2] == pytest.approx(200, rel=0.1)
    assert offered[3] == pytest.approx(200, rel=0.1)
    ramp = LoadProfile.ramp(50, 250, start_s=0.0, end_s=40.0)
    sim = Simulator(roomy, ramp, seed=1)
    offered = [sim.run_window(10.0).offered_rps for _ in range(4)]
    for i, got in enumerate(offered):
        assert got == pytest.approx(ramp.mean_rate(10.0 * i, 10.0 * (i + 1)), rel=0.1)
    assert offered == sorted(offered)


def test_changing_parameters_between_windows_takes_effect() -> None:
    load = LoadProfile.steady(200)
    starved = p(worker_concurrency=1, worker_replicas=1, **SLOW)
    sim = Simulator(starved, load, seed=2)
    before = sim.run_window(10.0)
    assert before.queue_length > 100  # overloaded: the queue filled up
    sim.run_window(10.0, params=p(worker_concurrency=4, worker_replicas=2, **SLOW))
    after = sim.run_window(10.0)
    assert after.queue_length < 20
    assert after.p99_ms < 0.1 * before.p99_ms
    # scale down again: batches running on the removed replica drain, nothing is lost
    sim.run_window(10.0, params=p(worker_concurrency=4, worker_replicas=1, **SLOW))
    totals = sim.totals()
    assert totals.arrivals == totals.completed + totals.errors + totals.dropped + totals.in_flight


@pytest.mark.parametrize(
    "params",
    [
        BASE,
        p(gateway_timeout_ms=30, gateway_retries=3),  # retry storm
        p(orders_capacity=3, worker_concurrency=1, worker_replicas=1),  # heavy dropping
        p(batcher_batch_size=16, batcher_flush_ms=40),
        p(worker_concurrency=1, worker_replicas=1),  # congestion collapse
        p(gateway_concurrency=2, gateway_replicas=1),  # long line at the gateway
    ],
)
def test_every_request_is_accounted_for(params: WorkloadParams) -> None:
    service = ServiceModel(failure_rate=0.05)
    sim = Simulator(params, LoadProfile.step(100, 300, at_s=7.0, burst_mean=3), service, seed=4)
    timeouts = [30.0, 500.0, 60.0]
    for i in range(6):
        # change parameters mid-run too: attempts in flight keep their deadline
        sim.run_window(2.5, params=replace(params, gateway_timeout_ms=timeouts[i % 3]))
        t = sim.totals()
        assert t.arrivals == t.completed + t.errors + t.dropped + t.in_flight
        assert t.arrivals > 0


def test_simulation_is_fast_enough() -> None:
    # Not a benchmark, a guard against an accidental O(n^2): a 300 s window of
    # ~45,000 requests takes ~0.3 s, while even the cheapest Python loop over all
    # pairs of them would take minutes (at 1,500 requests it would stay under 1 s).
    import time

    sim = Simulator(BASE, STEADY, seed=0)
    start = time.process_time()
    sim.run_window(300.0)
    assert sim.totals().arrivals > 40_000
    assert time.process_time() - start < BLOWUP_S
