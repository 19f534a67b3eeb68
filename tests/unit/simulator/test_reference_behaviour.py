"""The reference workload's instance of the general simulator responds to every
parameter the way the real service does (these were the former engine's tests).

Each test compares configurations on the same seed (the simulator gives them the
very same arrivals), after a 5 s warm-up, over a 10 s window. Parameters start
from the reference workload's defaults (``refworkload.params.Params``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import pytest

from upir.cli.common import read_one_upir
from upir.simulator import Arrivals, GraphSimulator, GraphWindow, LoadProfile, Network
from upir.simulator.reference import reference_network

UPIR_ = read_one_upir("benchmarks/tuning_upir.yaml")
BASE: dict[str, float] = {
    "gateway.timeout_ms": 500,
    "gateway.retries": 1,
    "gateway.concurrency": 64,
    "gateway.replicas": 2,
    "orders.capacity": 200,
    "batcher.batch_size": 4,
    "batcher.flush_ms": 5,
    "worker.concurrency": 2,
    "worker.replicas": 2,
}
"""The reference workload's defaults: 4 worker slots, batches of 4."""
STEADY = LoadProfile.steady(150)
SLOW = {"gateway.timeout_ms": 2000, "gateway.retries": 0}  # no timeouts in the way

BLOWUP_S = 10.0
"""CPU-time bound that only catches a blow-up, not slowness: on a shared machine a
tighter bound fails by chance. Speed targets live in benchmarks/, not timed tests."""


def p(**changes: float) -> dict[str, float]:
    """BASE with ``changes`` (``gateway_timeout_ms`` stands for ``gateway.timeout_ms``)."""
    out = dict(BASE)
    for k, v in changes.items():
        comp, _, param = k.partition("_")
        out[f"{comp}.{param}"] = v
    return out


def network(
    values: dict[str, float], *, worker_failure: float | None = None, cores: int | None = None
) -> Network:
    net = reference_network(UPIR_, cores=None if cores is None else {"worker": cores})
    net = net.with_params(values)
    if worker_failure is not None:
        worker = replace(net.node("worker"), failure_rate=worker_failure)
        net = Network(tuple(worker if n.name == "worker" else n for n in net.nodes), net.edges)
    return net


def sim(
    values: dict[str, float],
    profile: LoadProfile = STEADY,
    *,
    seed: int = 3,
    arrivals: Arrivals | None = None,
    **kw: Any,
) -> GraphSimulator:
    return GraphSimulator(
        network(values, **kw),
        profile,
        arrivals=arrivals,
        seed=seed,
        max_in_flight=profile.max_inflight,
    )


def run(values: dict[str, float], profile: LoadProfile = STEADY, **kw: Any) -> GraphWindow:
    s = sim(values, profile, **kw)
    s.run_window(5.0)
    return s.run_window(10.0)


def _same(a: GraphWindow, b: GraphWindow) -> bool:
    da, db = asdict(a.system), asdict(b.system)
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
    assert a.system.arrivals == b.system.arrivals


def test_healthy_baseline_is_sane() -> None:
    w = run(BASE)
    m = w.system
    assert m.offered_rps == pytest.approx(150, rel=0.05)
    assert m.throughput_rps == pytest.approx(m.offered_rps, rel=0.02)
    assert m.error_rate < 0.005 and m.drop_rate == 0 and m.skipped == 0
    assert 20 < m.p50_ms < m.p99_ms < 150
    assert 0.3 < w.components["worker"].utilization < 0.9
    assert m.cost == 4.0  # 2 gateway + 2 worker replicas


def test_too_short_timeout_causes_retry_storm_and_errors() -> None:
    ok = run(p(gateway_retries=2))
    short = run(p(gateway_timeout_ms=40, gateway_retries=2))  # about one batch's time
    assert ok.components["gateway"].timeouts == 0 and ok.system.error_rate < 0.005
    gw = short.components["gateway"]
    assert gw.timeouts > 1000 and gw.retries > 1000
    # abandoned attempts still burn worker time
    assert short.components["worker"].utilization > ok.components["worker"].utilization + 0.2
    assert short.system.error_rate > 0.5
    assert short.system.throughput_rps < 0.5 * ok.system.throughput_rps


def test_errors_fall_monotonically_as_the_timeout_grows() -> None:
    rates = [
        run(p(gateway_timeout_ms=t, gateway_retries=0)).system.error_rate for t in (20, 40, 60, 100)
    ]
    assert rates == sorted(rates, reverse=True)
    assert rates[0] > 0.5 and rates[-1] < 0.005


def test_retries_mask_transient_failures() -> None:
    # a failed batch fails its items: each item fails with the batch's rate
    rates = [run(p(gateway_retries=r), worker_failure=0.1).system.error_rate for r in (0, 1, 2)]
    assert rates[0] == pytest.approx(0.1, abs=0.02)
    assert rates[0] > rates[1] > rates[2]
    assert rates[2] < 0.005


def test_tiny_queue_drops_under_bursts() -> None:
    # 150 req/s in clumps of 60 every 0.4 s: 16 items go to the 4 worker slots (4
    # batches of 4), 4 wait in the batcher, 40 need the queue: capacity 5 drops 35
    # of 60, 20 drops 20, 50 and more drop nothing
    clumps = tuple(0.4 * i for i in range(40) for _ in range(60))
    drops = [
        run(p(orders_capacity=c), arrivals=Arrivals("trace", trace_s=clumps)).system.drop_rate
        for c in (5, 20, 50, 1000)
    ]
    assert drops == sorted(drops, reverse=True)
    assert drops[0] == pytest.approx(35 / 60, abs=0.02)
    assert drops[1] == pytest.approx(20 / 60, abs=0.02)
    assert drops[-1] == 0.0


def test_big_batches_at_low_load_add_latency() -> None:
    low = LoadProfile.steady(10)
    small = run(p(batcher_batch_size=1, batcher_flush_ms=0), low)
    big = run(p(batcher_batch_size=32, batcher_flush_ms=50), low)
    # the batch never fills at 10 rps, so items wait for the 50 ms flush
    assert big.system.p50_ms > small.system.p50_ms + 30
    longer = run(p(batcher_batch_size=32, batcher_flush_ms=200, gateway_timeout_ms=1000), low)
    assert longer.system.p50_ms > big.system.p50_ms + 50


def test_batching_amortises_overhead_under_load() -> None:
    heavy = LoadProfile.steady(300)
    thr = [run({**p(batcher_batch_size=b), **SLOW}, heavy).system.throughput_rps for b in (1, 2, 4)]
    assert thr == sorted(thr)
    assert thr[2] > 1.5 * thr[0]


def test_more_workers_under_overload_lower_p99() -> None:
    heavy = LoadProfile.steady(300)
    starved = run({**p(worker_concurrency=2, worker_replicas=1), **SLOW}, heavy)
    enough = run({**p(worker_concurrency=4, worker_replicas=1), **SLOW}, heavy)
    assert starved.components["worker"].utilization > 0.95
    assert starved.components["gateway"].length > 100  # requests wait for a slot
    assert enough.system.p99_ms < 0.1 * starved.system.p99_ms
    assert enough.system.throughput_rps > 1.3 * starved.system.throughput_rps


def test_too_few_gateway_slots_make_requests_wait() -> None:
    starved = run(p(gateway_concurrency=4, gateway_replicas=1))
    ok = run(BASE)
    assert starved.components["gateway"].length > 100 and starved.system.skipped > 0
    assert starved.system.shed == 0  # the reference gateway's line has no deadline
    assert starved.system.p99_ms > 10 * ok.system.p99_ms
    # the workers idle behind the gateway
    assert starved.components["worker"].utilization < ok.components["worker"].utilization


def test_concurrency_beyond_cores_adds_latency_not_throughput() -> None:
    light = LoadProfile.steady(100)
    at_cores = run(p(worker_concurrency=2, worker_replicas=1), light, cores=2)
    beyond = run(p(worker_concurrency=8, worker_replicas=1), light, cores=2)
    assert beyond.system.throughput_rps == pytest.approx(at_cores.system.throughput_rps, rel=0.02)
    assert beyond.system.p99_ms > 1.5 * at_cores.system.p99_ms


def test_more_worker_replicas_cost_more_and_relieve_load() -> None:
    one, three = run(p(worker_replicas=1)), run(p(worker_replicas=3))
    assert three.system.cost == one.system.cost + 2
    u1, u3 = one.components["worker"].utilization, three.components["worker"].utilization
    assert u3 < u1 * 0.6
    assert three.system.p99_ms < one.system.p99_ms


def test_overload_with_a_long_queue_collapses_goodput() -> None:
    # Every queued item waits past its timeout: the worker is busy all the time,
    # yet every answer comes too late (congestion collapse), and the full queue drops.
    w = run(p(worker_concurrency=1, worker_replicas=1, gateway_retries=0), LoadProfile.steady(200))
    assert w.components["worker"].utilization > 0.99
    assert w.system.throughput_rps < 0.02 * w.system.offered_rps
    assert w.system.drop_rate > 0.3


def test_step_and_ramp_profiles_change_the_offered_load() -> None:
    roomy = p(worker_concurrency=4, worker_replicas=4)
    s = sim(roomy, LoadProfile.step(50, 200, at_s=20.0), seed=1)
    offered = [s.run_window(10.0).system.offered_rps for _ in range(4)]
    assert offered[0] == pytest.approx(50, rel=0.15)
    assert offered[1] == pytest.approx(50, rel=0.15)
    assert offered[2] == pytest.approx(200, rel=0.1)
    assert offered[3] == pytest.approx(200, rel=0.1)
    ramp = LoadProfile.ramp(50, 250, start_s=0.0, end_s=40.0)
    s = sim(roomy, ramp, seed=1)
    offered = [s.run_window(10.0).system.offered_rps for _ in range(4)]
    for i, got in enumerate(offered):
        assert got == pytest.approx(ramp.mean_rate(10.0 * i, 10.0 * (i + 1)), rel=0.1)
    assert offered == sorted(offered)


def _answered(w: GraphWindow) -> int:
    return w.system.completed + w.system.errors + w.system.dropped + w.system.shed


def test_changing_parameters_between_windows_takes_effect() -> None:
    s = sim({**p(worker_concurrency=1, worker_replicas=1), **SLOW}, LoadProfile.steady(200), seed=2)
    before = s.run_window(10.0)
    assert before.components["orders"].length > 100  # overloaded: the queue filled up
    s.set_params({"worker.concurrency": 4, "worker.replicas": 2})
    mid = s.run_window(10.0)
    after = s.run_window(10.0)
    assert after.components["orders"].length < 20
    assert after.system.p99_ms < 0.1 * before.system.p99_ms
    # scale down again: batches running on the removed replica drain, nothing is lost
    s.set_params({"worker.replicas": 1})
    last = s.run_window(10.0)
    windows = (before, mid, after, last)
    arrived = sum(w.system.arrivals for w in windows)
    assert arrived == sum(_answered(w) for w in windows) + last.system.in_flight


@pytest.mark.parametrize(
    "values",
    [
        BASE,
        p(gateway_timeout_ms=30, gateway_retries=3),  # retry storm
        p(orders_capacity=3, worker_concurrency=1, worker_replicas=1),  # heavy dropping
        p(batcher_batch_size=16, batcher_flush_ms=40),
        p(worker_concurrency=1, worker_replicas=1),  # congestion collapse
        p(gateway_concurrency=2, gateway_replicas=1),  # long line at the gateway
    ],
)
def test_every_request_is_accounted_for(values: dict[str, float]) -> None:
    s = sim(values, LoadProfile.step(100, 300, at_s=7.0), seed=4, worker_failure=0.05)
    arrived = answered = 0
    for i in range(6):
        # change parameters mid-run too: attempts in flight keep their deadline
        s.set_params({"gateway.timeout_ms": (30.0, 500.0, 60.0)[i % 3]})
        w = s.run_window(2.5)
        arrived += w.system.arrivals
        answered += _answered(w)
        assert arrived == answered + w.system.in_flight
        assert arrived > 0


def test_simulation_is_fast_enough() -> None:
    # Not a benchmark, a guard against an accidental O(n^2): a 300 s window of
    # ~45,000 requests takes about a second, while even the cheapest Python loop
    # over all pairs of them would take minutes.
    import time

    s = sim(BASE, STEADY, seed=0)
    start = time.process_time()
    w = s.run_window(300.0)
    assert w.system.arrivals > 40_000
    assert time.process_time() - start < BLOWUP_S
