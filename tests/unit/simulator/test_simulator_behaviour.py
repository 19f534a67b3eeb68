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

BASE = WorkloadParams(
    timeout_ms=300, retries=2, queue_capacity=1000, batch_size=4, flush_ms=5,
    concurrency=4, replicas=2,
)  # fmt: skip
STEADY = LoadProfile.steady(300)


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
    b = run(replace(BASE, concurrency=1, batch_size=1, timeout_ms=20))
    assert a.arrivals == b.arrivals


def test_healthy_baseline_is_sane() -> None:
    m = run(BASE)
    assert m.offered_rps == pytest.approx(300, rel=0.05)
    assert m.throughput_rps == pytest.approx(m.offered_rps, rel=0.02)
    assert m.error_rate < 0.005 and m.drop_rate == 0
    assert 10 < m.p50_ms < m.p99_ms < 100
    assert 0 < m.utilization < 0.5
    assert m.cost == 2.0


def test_too_short_timeout_causes_retry_storm_and_errors() -> None:
    ok = run(BASE)
    short = run(replace(BASE, timeout_ms=15))  # about the service time itself
    assert short.timeouts > 50 * max(1, ok.timeouts)
    assert short.retries > 10 * ok.retries
    assert short.wasted > 1000  # abandoned attempts still burned worker time
    assert short.utilization > ok.utilization
    assert short.error_rate > 0.1 > ok.error_rate
    assert short.throughput_rps < 0.9 * ok.throughput_rps


def test_errors_fall_monotonically_as_the_timeout_grows() -> None:
    rates = [run(replace(BASE, timeout_ms=t, retries=0)).error_rate for t in (10, 20, 50, 300)]
    assert rates == sorted(rates, reverse=True)
    assert rates[0] > 0.5 and rates[-1] < 0.01


def test_retries_mask_transient_failures() -> None:
    flaky = ServiceModel(failure_prob=0.1)
    rates = [run(replace(BASE, retries=r), service=flaky).error_rate for r in (0, 1, 2)]
    assert rates[0] == pytest.approx(0.1, abs=0.02)
    assert rates[0] > rates[1] > rates[2]
    assert rates[2] < 0.005


def test_tiny_queue_drops_under_bursts() -> None:
    bursty = LoadProfile.steady(300, burst_mean=20)
    drops = [run(replace(BASE, queue_capacity=c), bursty).drop_rate for c in (5, 20, 50, 1000)]
    assert drops == sorted(drops, reverse=True)
    assert drops[0] > 0.1
    assert drops[-1] == 0.0


def test_big_batches_at_low_load_add_latency() -> None:
    low = LoadProfile.steady(20)
    small = run(replace(BASE, batch_size=1, flush_ms=0), low)
    big = run(replace(BASE, batch_size=32, flush_ms=50), low)
    # the batch never fills at 20 rps, so items wait for the 50 ms flush
    assert big.p50_ms > small.p50_ms + 30
    longer = run(replace(BASE, batch_size=32, flush_ms=200), low)
    assert longer.p50_ms > big.p50_ms + 50


def test_batching_amortises_overhead_under_load() -> None:
    heavy = LoadProfile.steady(900)
    p = replace(BASE, concurrency=2, replicas=1, flush_ms=2, timeout_ms=2000, retries=0)
    thr = [run(replace(p, batch_size=b), heavy).throughput_rps for b in (2, 4, 8, 16)]
    assert thr == sorted(thr)
    assert thr[-1] > 1.5 * thr[1]


def test_more_concurrency_under_overload_lowers_p99() -> None:
    heavy = LoadProfile.steady(900)
    p = replace(BASE, replicas=1, timeout_ms=2000, retries=0)
    starved, enough = run(replace(p, concurrency=2), heavy), run(replace(p, concurrency=4), heavy)
    assert starved.utilization > 0.95 and starved.drop_rate > 0.2
    assert enough.p99_ms < 0.1 * starved.p99_ms
    assert enough.throughput_rps > 1.5 * starved.throughput_rps


def test_concurrency_beyond_cores_adds_latency_not_throughput() -> None:
    heavy = LoadProfile.steady(900)
    p = replace(BASE, replicas=1, timeout_ms=2000, retries=0)
    at_cores, beyond = run(replace(p, concurrency=4), heavy), run(replace(p, concurrency=16), heavy)
    assert beyond.throughput_rps == pytest.approx(at_cores.throughput_rps, rel=0.01)
    assert beyond.p99_ms > at_cores.p99_ms


def test_more_replicas_cost_more_and_relieve_load() -> None:
    heavy = LoadProfile.steady(900)
    p = replace(BASE, concurrency=4, timeout_ms=2000, retries=0)
    one, three = run(replace(p, replicas=1), heavy), run(replace(p, replicas=3), heavy)
    assert three.cost == 3 * one.cost
    assert three.utilization < one.utilization / 2
    assert three.p99_ms < one.p99_ms


def test_overload_with_a_long_queue_collapses_goodput() -> None:
    # A queue so long that every attempt waits past its timeout: the workers are
    # busy all the time, yet every answer comes too late (congestion collapse).
    heavy = LoadProfile.steady(900)
    m = run(replace(BASE, concurrency=1, replicas=1, timeout_ms=2000, retries=0), heavy)
    assert m.utilization > 0.99
    assert m.throughput_rps < 0.05 * m.offered_rps
    assert m.wasted > 1000


def test_step_and_ramp_profiles_change_the_offered_load() -> None:
    sim = Simulator(BASE, LoadProfile.step(100, 400, at_s=20.0), seed=1)
    offered = [sim.run_window(10.0).offered_rps for _ in range(4)]
    assert offered[0] == pytest.approx(100, rel=0.15)
    assert offered[1] == pytest.approx(100, rel=0.15)
    assert offered[2] == pytest.approx(400, rel=0.1)
    assert offered[3] == pytest.approx(400, rel=0.1)
    ramp = LoadProfile.ramp(100, 500, start_s=0.0, end_s=40.0)
    sim = Simulator(BASE, ramp, seed=1)
    offered = [sim.run_window(10.0).offered_rps for _ in range(4)]
    for i, got in enumerate(offered):
        assert got == pytest.approx(ramp.mean_rate(10.0 * i, 10.0 * (i + 1)), rel=0.1)
    assert offered == sorted(offered)


def test_changing_parameters_between_windows_takes_effect() -> None:
    heavy = LoadProfile.steady(900)
    p = replace(BASE, concurrency=2, replicas=1, timeout_ms=2000, retries=0)
    sim = Simulator(p, heavy, seed=2)
    before = sim.run_window(10.0)
    assert before.queue_length > 500  # overloaded: the queue filled up
    sim.run_window(10.0, params=replace(p, concurrency=4, replicas=2))
    after = sim.run_window(10.0)
    assert after.queue_length < 50
    assert after.p99_ms < 0.1 * before.p99_ms
    # scale down again: running batches on the removed replica drain, nothing is lost
    sim.run_window(10.0, params=replace(p, concurrency=4, replicas=1))
    totals = sim.totals()
    assert totals.arrivals == totals.completed + totals.errors + totals.dropped + totals.in_flight


@pytest.mark.parametrize(
    "params",
    [
        BASE,
        replace(BASE, timeout_ms=12, retries=3),  # retry storm
        replace(BASE, queue_capacity=3, concurrency=1, replicas=1),  # heavy dropping
        replace(BASE, batch_size=16, flush_ms=40),
        replace(BASE, concurrency=1, replicas=1, timeout_ms=2000),  # congestion collapse
    ],
)
def test_every_request_is_accounted_for(params: WorkloadParams) -> None:
    service = ServiceModel(failure_prob=0.05)
    sim = Simulator(params, LoadProfile.step(300, 900, at_s=7.0, burst_mean=3), service, seed=4)
    timeouts = [12.0, 500.0, 40.0]
    for i in range(6):
        # change parameters mid-run too: timeouts of attempts in flight keep their deadline
        sim.run_window(2.5, params=replace(params, timeout_ms=timeouts[i % 3]))
        t = sim.totals()
        assert t.arrivals == t.completed + t.errors + t.dropped + t.in_flight
        assert t.arrivals > 0


def test_simulation_is_fast_enough() -> None:
    # Not a benchmark, a guard against an accidental O(n^2): a 10 s window of
    # 3,000 requests must take well under a second even on a busy CI core.
    import time

    sim = Simulator(BASE, STEADY, seed=0)
    start = time.process_time()
    sim.run_window(10.0)
    assert time.process_time() - start < 1.0
