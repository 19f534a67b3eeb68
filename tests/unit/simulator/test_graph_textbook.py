"""The general simulator against textbook and hand-computed cases, one per
component type: M/M/1 and M/M/c mean waits (Erlang C), a queue's drops under a
constant overload, batch sizes and batch waits at a given rate, timeouts,
retries, failures and shedding."""

from __future__ import annotations

import math

import pytest

from upir.simulator.graph import GraphSimulator
from upir.simulator.load import LoadProfile
from upir.simulator.network import Network, Node, ServiceTime

INF = math.inf
NEVER_MS = 1e9  # a timeout no attempt reaches


def service(
    name: str,
    *,
    slots: int = 1,
    replicas: int = 1,
    timeout_ms: float = NEVER_MS,
    retries: int = 0,
    time: ServiceTime | None = None,
    failure_rate: float = 0.0,
) -> Node:
    return Node(
        name,
        "service",
        {"replicas": replicas, "concurrency": slots, "timeout_ms": timeout_ms, "retries": retries},
        time or ServiceTime("exponential", 0.0, INF, 10.0),
        failure_rate,
    )


def erlang_c_wait_ms(lam: float, mu: float, c: int) -> float:
    """Mean wait in line of M/M/c (Erlang C), ms."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    p_wait = tail / (head + tail)
    return 1000.0 * p_wait / (c * mu - lam)


def run(net: Network, rps: float, seconds: float, *, seed: int = 0, arrivals=None):  # type: ignore[no-untyped-def]
    from upir.simulator.arrivals import Arrivals

    sim = GraphSimulator(net, LoadProfile.steady(rps), arrivals=arrivals or Arrivals(), seed=seed)
    return sim.run(seconds, seconds)[0]


def test_mm1_mean_time_in_system() -> None:
    # lambda = 50/s, mu = 100/s: W = 1 / (mu - lambda) = 20 ms, Wq = 10 ms
    w = run(Network((service("s"),)), 50, 600, seed=1)
    assert w.system.mean_ms == pytest.approx(20.0, rel=0.08)
    assert w.components["s"].utilization == pytest.approx(0.5, abs=0.02)
    assert w.system.error_rate == 0.0


@pytest.mark.parametrize(("replicas", "slots"), [(3, 1), (1, 3)])
def test_mmc_mean_wait_is_erlang_c(replicas: int, slots: int) -> None:
    # c = 3 servers of mu = 100/s at lambda = 210/s (rho = 0.7): Wq from Erlang C
    net = Network((service("s", replicas=replicas, slots=slots),))
    w = run(net, 210, 600, seed=2)
    expected_wq = erlang_c_wait_ms(210, 100, 3)
    measured_wq = w.system.mean_ms - 10.0  # minus the mean service time
    assert measured_wq == pytest.approx(expected_wq, rel=0.15), (measured_wq, expected_wq)
    assert w.components["s"].utilization == pytest.approx(0.7, abs=0.02)


def test_queue_drops_the_excess_of_a_constant_overload() -> None:
    # 150 req/s constant into a queue of 20 drained by one slot of exactly 10 ms
    # (100/s): once full, one arrival in three finds it full.
    from upir.simulator.arrivals import Arrivals

    net = Network(
        (
            Node("q", "queue", {"capacity": 20}),
            service("s", time=ServiceTime("constant", 10.0, 10.0, 10.0)),
        ),
        (("q", "s"),),
    )
    sim = GraphSimulator(net, LoadProfile.steady(150), arrivals=Arrivals("constant"), seed=0)
    first = sim.run_window(10)
    later = sim.run_window(30)
    # arrivals 1500 in the first 10 s; served about 1000, 20 waiting, one in service
    assert first.components["q"].dropped == pytest.approx(1500 - 1000 - 21, abs=2)
    assert later.components["q"].dropped / later.system.arrivals == pytest.approx(1 / 3, abs=0.002)
    assert later.components["q"].max_length == 20
    assert later.system.throughput_rps == pytest.approx(100.0, abs=0.2)
    # the wait in a full queue: 20 items ahead at 10 ms each
    assert later.components["q"].p50_ms == pytest.approx(200.0, abs=11)


def test_queue_without_consumer_drains_at_its_rate() -> None:
    from upir.simulator.arrivals import Arrivals

    net = Network((Node("q", "queue", {"capacity": 10}, drain_rps=100.0),))
    sim = GraphSimulator(net, LoadProfile.steady(200), arrivals=Arrivals("constant"), seed=0)
    sim.run_window(5)
    w = sim.run_window(10)
    assert w.components["q"].throughput_rps == pytest.approx(100.0, abs=0.2)
    assert w.system.dropped / w.system.arrivals == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    ("rps", "batch", "wait_ms"),
    # docs/model.md section 5, B = 10, F = 31.25: batch_items = max(1, min(B, rate x F)),
    # wait_ms = min(F, (B - 1) x 1000 / rate). Rates and F are powers of two (times
    # that floats hold exactly): an arrival due at the flush instant misses the batch.
    [(128.0, 4.0, 31.25), (512.0, 10.0, 9000 / 512), (16.0, 1.0, 31.25)],
)
def test_batch_sizes_and_waits_at_a_given_rate(rps: float, batch: float, wait_ms: float) -> None:
    from upir.simulator.arrivals import Arrivals

    net = Network((Node("b", "batcher", {"batch_size": 10, "flush_ms": 31.25}),))
    sim = GraphSimulator(net, LoadProfile.steady(rps), arrivals=Arrivals("constant"), seed=0)
    w = sim.run_window(16)
    comp = w.components["b"]
    assert comp.mean_batch_size == pytest.approx(batch, rel=0.01)
    assert max(comp.p99_ms, 0) == pytest.approx(wait_ms, abs=0.5)


def test_batcher_in_front_of_a_service_sends_one_call_per_batch() -> None:
    # 400 items/s, B = 10: 40 calls/s of exactly 20 ms on one slot (80% busy);
    # the model's capacity is K x b = 50 calls/s x 10 items
    from upir.simulator.arrivals import Arrivals

    net = Network(
        (
            Node("b", "batcher", {"batch_size": 10, "flush_ms": 50}),
            service("w", time=ServiceTime("constant", 20.0, 20.0, 20.0)),
        ),
        (("b", "w"),),
    )
    sim = GraphSimulator(net, LoadProfile.steady(400), arrivals=Arrivals("constant"), seed=0)
    sim.run_window(2)
    w = sim.run_window(20)
    assert w.components["b"].mean_batch_size == pytest.approx(10.0, rel=0.01)
    assert w.components["w"].utilization == pytest.approx(0.8, abs=0.01)
    assert w.system.throughput_rps == pytest.approx(400.0, rel=0.01)


def test_timeouts_cut_every_attempt_and_retries_hold_the_slot() -> None:
    # s = 50 ms > T = 30 ms: each attempt is cut at 30 ms and fails; 2 retries:
    # the request takes 3 x 30 = 90 ms and ends in an error
    net = Network(
        (
            service(
                "s",
                slots=100,
                timeout_ms=30,
                retries=2,
                time=ServiceTime("constant", 50.0, 50.0, 50.0),
            ),
        )
    )
    w = run(net, 20, 10)
    comp = w.components["s"]
    assert w.system.error_rate == 1.0
    assert comp.p50_ms == pytest.approx(90.0)
    # every attempt is drawn when the call takes its slot
    assert comp.timeouts == 3 * comp.arrivals
    assert comp.retries == 2 * comp.arrivals
    assert comp.errors == comp.arrivals - w.system.in_flight


def test_failures_per_attempt_and_retries_give_the_model_availability() -> None:
    # f = 0.2, r = 1: availability = 1 - 0.2^2 = 0.96; attempts per call 1 + 0.2
    net = Network((service("s", slots=50, retries=1, failure_rate=0.2),))
    w = run(net, 500, 60, seed=4)
    assert w.system.availability == pytest.approx(0.96, abs=0.006)
    calls = w.components["s"].arrivals
    assert (calls + w.components["s"].retries) / calls == pytest.approx(1.2, abs=0.01)


def test_a_service_sheds_what_waited_past_its_budget() -> None:
    # one slot of exactly 10 ms (100/s), 200/s constant: half is served, the rest
    # waits past T x (r + 1) = 20 ms and is shed
    from upir.simulator.arrivals import Arrivals

    net = Network((service("s", timeout_ms=20, time=ServiceTime("constant", 10.0, 10.0, 10.0)),))
    sim = GraphSimulator(net, LoadProfile.steady(200), arrivals=Arrivals("constant"), seed=0)
    sim.run_window(2)
    w = sim.run_window(10)
    assert w.system.throughput_rps == pytest.approx(100.0, abs=1)
    assert w.components["s"].shed == pytest.approx(1000, abs=5)
    assert w.components["s"].max_length <= 5  # the line stays short: shedding bounds it


def test_fan_out_sends_every_request_down_every_branch() -> None:
    fast = ServiceTime("constant", 5.0, 5.0, 5.0)
    slow = ServiceTime("constant", 30.0, 30.0, 30.0)
    net = Network(
        (
            service("a", slots=50, time=fast),
            service("b", slots=50, time=fast),
            service("c", slots=50, time=slow),
        ),
        (("a", "b"), ("a", "c")),
    )
    w = run(net, 100, 10)
    assert w.components["b"].arrivals == w.components["c"].arrivals
    assert w.components["a"].arrivals == w.system.arrivals
    assert 0 <= w.system.arrivals - w.components["b"].arrivals <= w.system.in_flight
    # a request is answered when its slowest branch is: 5 + 30 ms
    assert w.system.p50_ms == pytest.approx(35.0)
    assert w.system.completed == w.system.arrivals - w.system.in_flight


def test_same_seed_same_run_and_parameters_share_arrivals() -> None:
    net = Network((service("s", slots=2),))
    a = run(net, 150, 20, seed=7)
    b = run(net, 150, 20, seed=7)
    c = run(net, 150, 20, seed=8)
    wider = run(net.with_params({"s.concurrency": 4}), 150, 20, seed=7)
    assert a.as_dict() == b.as_dict()
    assert a.system.arrivals != c.system.arrivals
    assert wider.system.arrivals == a.system.arrivals
    assert wider.system.mean_ms < a.system.mean_ms


def _calling(
    timeout_ms: float, retries: int, downstream_ms: float, capacity: int = 1000
) -> Network:
    """A calling gateway (own time 1 ms) -> queue -> one slot of ``downstream_ms``."""
    return Network(
        (
            Node(
                "gw",
                "service",
                {"concurrency": 100, "timeout_ms": timeout_ms, "retries": retries},
                ServiceTime("constant", 1.0, 1.0, 1.0),
                calls=True,
            ),
            Node("q", "queue", {"capacity": capacity}),
            service(
                "w",
                slots=10,
                time=ServiceTime("constant", downstream_ms, downstream_ms, downstream_ms),
            ),
        ),
        (("gw", "q"), ("q", "w")),
    )


def test_a_calling_service_waits_for_its_downstream_path() -> None:
    # own 1 ms + downstream 20 ms, well inside the 100 ms timeout
    w = run(_calling(100, 2, 20.0), 50, 10)
    assert w.system.error_rate == 0.0
    assert w.system.p50_ms == pytest.approx(21.0)
    assert w.components["gw"].p50_ms == pytest.approx(21.0)  # the gateway's slot covers it
    assert w.components["gw"].timeouts == 0


def test_a_calling_service_times_out_the_whole_call_and_retries() -> None:
    # downstream 150 ms > timeout 100 ms: every attempt is cut at 100 ms and retried;
    # with 2 retries the request fails after 3 x 100 ms, and the abandoned copies
    # still go downstream
    w = run(_calling(100, 2, 150.0), 20, 10)
    gw = w.components["gw"]
    assert w.system.error_rate == 1.0
    assert w.system.p50_ms == pytest.approx(300.0)
    # (calls still open at the end of the window have made some of theirs)
    assert 2 * gw.errors <= gw.retries <= 2 * gw.arrivals
    assert 3 * gw.errors <= gw.timeouts <= 3 * gw.arrivals
    assert gw.arrivals - gw.errors == w.system.in_flight
    # every attempt's copy reached the queue, abandoned or not
    assert w.components["q"].arrivals == pytest.approx(gw.arrivals + gw.retries, abs=2)


def test_a_drop_downstream_answers_the_call_at_once_without_retry() -> None:
    # a queue of 1 in front of 10 slots of 500 ms (20/s): at 100 req/s it is full
    w = run(_calling(5000, 3, 500.0, capacity=1), 100, 10)
    gw = w.components["gw"]
    assert w.system.dropped > 0 and gw.retries == 0
    assert w.components["q"].dropped == w.system.dropped


def test_per_item_cost_makes_a_batch_cost_more() -> None:
    # batches of exactly 4 (512 req/s, flush 31.25 ms: full batches of 4 every 7.8 ms)
    # cost 20 + 5 x 4 = 40 ms on a worker
    from upir.simulator.arrivals import Arrivals

    net = Network(
        (
            Node("b", "batcher", {"batch_size": 4, "flush_ms": 31.25}),
            service("w", slots=50, time=ServiceTime("constant", 20.0, 20.0, 20.0, per_item_ms=5.0)),
        ),
        (("b", "w"),),
    )
    sim = GraphSimulator(net, LoadProfile.steady(512), arrivals=Arrivals("constant"), seed=0)
    w = sim.run_window(4)
    assert w.components["b"].mean_batch_size == pytest.approx(4.0)
    assert w.components["w"].p50_ms == pytest.approx(40.0)
