"""CPU contention in the general simulator (``Node.cores``) against hand-computed
cases: placement on the least-loaded replica, the stretch ``max(1, a / cores)``
fixed when a call starts, a scaled-down replica that finishes its calls but takes
no new ones, and ``cores=None`` changing nothing."""

from __future__ import annotations

import pytest

from upir.errors import InvalidSpecError
from upir.simulator.arrivals import Arrivals
from upir.simulator.graph import GraphSimulator
from upir.simulator.graph_metrics import GraphWindow
from upir.simulator.load import LoadProfile
from upir.simulator.network import Network, Node, ServiceTime, network_from_upir

TEN_MS = ServiceTime("constant", 10.0, 10.0, 10.0)


def one_service(replicas: int, concurrency: int, cores: int | None) -> Network:
    params = {"replicas": replicas, "concurrency": concurrency, "timeout_ms": 1e9}
    return Network((Node("s", "service", params, TEN_MS, cores=cores),))


def sim(net: Network, trace_s: tuple[float, ...]) -> GraphSimulator:
    # the profile's rate is unused by a trace; only its times count
    return GraphSimulator(net, LoadProfile.steady(1.0), arrivals=Arrivals("trace", trace_s=trace_s))


def lat_mean(w: GraphWindow) -> float:
    return w.components["s"].mean_ms


def test_stretch_follows_the_replica_load_at_the_start() -> None:
    # 2 replicas x 4 slots, 2 cores each, 10 ms of work. Eight calls at t=0 go
    # r0 r1 r0 r1 ... (least loaded, first on a tie) and start as the 1st..4th
    # on their replica: stretched 1, 1, 1.5, 2 -> 10, 10, 10, 10, 15, 15, 20, 20.
    # One more at 12 ms: both replicas run 2 (the 15 and 20 ms calls), so it is
    # the 3rd on r0: 15 ms, though the others end before it does (fixed stretch).
    trace = (0.0,) * 8 + (0.012,)
    w = sim(one_service(2, 4, 2), trace).run_window(1.0)
    expected = [10, 10, 10, 10, 15, 15, 20, 20, 15]
    assert w.system.completed == 9
    assert w.system.mean_ms == pytest.approx(sum(expected) / 9)
    assert w.system.p50_ms == pytest.approx(15.0)
    assert max(expected) == 20 and w.system.p99_ms <= 20.0 + 1e-9


def test_no_cores_means_no_stretch() -> None:
    trace = (0.0,) * 8 + (0.012,)
    w = sim(one_service(2, 4, None), trace).run_window(1.0)
    assert w.system.completed == 9
    assert w.system.mean_ms == pytest.approx(10.0)
    assert w.system.p99_ms == pytest.approx(10.0)


def test_cores_beyond_the_concurrency_change_nothing() -> None:
    trace = (0.0,) * 8 + (0.012,)
    plain = sim(one_service(2, 4, None), trace).run_window(1.0)
    wide = sim(one_service(2, 4, 4), trace).run_window(1.0)
    assert wide.system.mean_ms == plain.system.mean_ms
    assert wide.system.completed == plain.system.completed


def test_a_removed_replica_finishes_its_calls_and_takes_no_new_ones() -> None:
    # 2 replicas x 4 slots, 1 core each. Three calls at t=0: r0 (10 ms), r1
    # (10 ms), r0 again (2nd on r0: 20 ms). At 5 ms the replicas drop to 1; a
    # call at 6 ms goes to r0 (its 3rd: 30 ms), not to the idle-er r1 (20 ms).
    for replicas_after, last in ((1, 30.0), (2, 20.0)):
        s = sim(one_service(2, 4, 1), (0.0, 0.0, 0.0, 0.006))
        s.run_window(0.005)
        s.set_params({"s.replicas": replicas_after})
        w = s.run_window(1.0)
        assert w.system.completed == 4
        assert w.system.mean_ms == pytest.approx((10 + 10 + 20 + last) / 4)
        comp = s.comps[0]
        assert comp.active == [0] * replicas_after  # the removed replica is gone once idle


def test_contention_caps_throughput_at_the_cores() -> None:
    # One replica, 8 slots, 2 cores, 10 ms: 8 calls at once take 10,10,15,...,40
    # ms; with cores=None all 10 ms. Mean 23.75 ms against 10 ms.
    trace = (0.0,) * 8
    w = sim(one_service(1, 8, 2), trace).run_window(1.0)
    assert w.system.mean_ms == pytest.approx(sum([10, 10, 15, 20, 25, 30, 35, 40]) / 8)


@pytest.mark.parametrize("cores", [0, -1, 1.5, True, 20_000])
def test_bad_cores_name_the_field(cores: object) -> None:
    with pytest.raises(InvalidSpecError) as err:
        one_service(1, 1, cores)  # type: ignore[arg-type]
    assert "s.cores" in str(err.value)


def test_cores_only_on_services_that_do_their_own_work() -> None:
    with pytest.raises(InvalidSpecError, match=r"q\.cores"):
        Network((Node("q", "queue", {"capacity": 5}, cores=2),))
    with pytest.raises(InvalidSpecError, match=r"s\.cores"):
        Network((Node("s", "service", {}, TEN_MS, calls=True, cores=2),))


def test_network_from_upir_sets_cores_by_component() -> None:
    from upir.cli.common import read_one_upir

    upir = read_one_upir("benchmarks/tuning_upir.yaml")
    net = network_from_upir(upir, cores={"worker": 2})
    assert net.node("worker").cores == 2
    assert net.node("gateway").cores is None
    with pytest.raises(InvalidSpecError, match="cores.*orders"):
        network_from_upir(upir, cores={"orders": 2})
    assert net.with_params({"worker.replicas": 3}).node("worker").cores == 2
