"""The general simulator's inputs: arrival processes, service-time
distributions, networks built from UPIRs, and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from upir.cli.common import read_one_upir
from upir.errors import InvalidSpecError
from upir.simulator.arrivals import ArrivalProcess, Arrivals, read_trace
from upir.simulator.graph import GraphSimulator
from upir.simulator.load import LoadProfile
from upir.simulator.network import Network, Node, ServiceTime, network_from_upir

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(ROOT.glob("examples/*.yaml")) + [
    ROOT / "examples/reference-workload/k8s/upir.yaml"
]


def draw(kind: str, rps: float, seconds: float, seed: int = 0, **kw: float) -> np.ndarray:
    proc = ArrivalProcess(
        Arrivals(kind, **kw), LoadProfile.steady(rps), np.random.default_rng(seed)
    )
    return np.concatenate([proc.draw(float(t), float(t + 1)) for t in range(int(seconds))])


def test_constant_arrivals_are_evenly_spaced_across_windows() -> None:
    times = draw("constant", 50, 4)
    assert len(times) == 200
    assert np.allclose(np.diff(times), 0.02)


def test_poisson_and_mmpp_keep_the_mean_rate_and_mmpp_is_burstier() -> None:
    poisson = draw("poisson", 200, 300, seed=1)
    mmpp = draw("mmpp", 200, 300, seed=1, burst_ratio=4.0, switch_s=2.0)
    assert len(poisson) / 300 == pytest.approx(200, rel=0.02)
    assert len(mmpp) / 300 == pytest.approx(200, rel=0.1)
    counts_p = np.histogram(poisson, bins=300, range=(0, 300))[0]
    counts_m = np.histogram(mmpp, bins=300, range=(0, 300))[0]
    # Poisson counts: variance = mean; the modulated process: far more
    assert counts_p.var() / counts_p.mean() == pytest.approx(1.0, abs=0.25)
    assert counts_m.var() / counts_m.mean() > 5.0


def test_a_profile_shapes_the_rate() -> None:
    proc = ArrivalProcess(Arrivals(), LoadProfile.step(100, 400, 10), np.random.default_rng(3))
    before = len(proc.draw(0, 10)) / 10
    after = len(proc.draw(10, 20)) / 10
    assert before == pytest.approx(100, rel=0.15)
    assert after == pytest.approx(400, rel=0.1)


def test_a_trace_is_replayed_exactly(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("time_s,path\n0.5,/a\n0.25,/b\n# a comment\n\n1.75,/c\n", encoding="utf-8")
    trace = read_trace(path)
    assert trace == (0.5, 0.25, 1.75)
    net = Network((Node("s", "service", {"concurrency": 10}, ServiceTime("constant", 1, 1, 1)),))
    sim = GraphSimulator(net, LoadProfile.steady(0), arrivals=Arrivals("trace", trace_s=trace))
    first = sim.run_window(1)
    second = sim.run_window(1)
    assert (first.system.arrivals, second.system.arrivals) == (2, 1)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("0.5\nabc\n", ":2: not a number"), ("", "no arrival times"), ("-1\n", "must be >= 0")],
)
def test_a_bad_trace_names_the_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidSpecError) as err:
        read_trace(path)
    assert fragment in str(err.value)
    assert err.value.issues[0].field == "--trace"


def test_service_time_distributions_stay_in_their_range() -> None:
    u = np.random.default_rng(0).random(20000)
    exp = ServiceTime("exponential", 5, 40, 22.5)
    xs = np.array([exp.sample(float(x)) for x in u])
    assert xs.min() >= 5 and xs.max() <= 40
    # lo + Exponential(mean - lo) capped at hi: P(cap) = exp(-(hi - lo) / (mean - lo))
    assert np.mean(xs == 40) == pytest.approx(math.exp(-35 / 17.5), abs=0.01)
    uni = np.array([ServiceTime("uniform", 5, 40, 22.5).sample(float(x)) for x in u])
    assert uni.mean() == pytest.approx(22.5, rel=0.02) and uni.min() >= 5 and uni.max() <= 40


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_becomes_a_network_of_its_own_components(path: Path) -> None:
    upir = read_one_upir(str(path))
    net = network_from_upir(upir)
    assert [n.name for n in net.nodes] == [c.name for c in upir.architecture.components]
    assert set(net.edges) == {(c.source, c.target) for c in upir.architecture.connections}
    w = GraphSimulator(net, LoadProfile.steady(50), seed=0).run_window(5)
    assert set(w.components) == set(upir.architecture.names)
    assert w.system.arrivals > 0 and w.system.completed > 0


def test_the_environment_comes_from_the_assumptions() -> None:
    upir = read_one_upir(str(ROOT / "examples/api-service.yaml"))
    net = network_from_upir(upir)
    gw = net.node("gateway")
    # "5 <= env.gateway_service_ms <= 40", "env.gateway_failure_rate <= 0.01"
    assert (gw.service_time.lo, gw.service_time.hi, gw.service_time.mean) == (5, 40, 22.5)
    assert gw.failure_rate == pytest.approx(0.01)
    assert gw.value("timeout_ms") == 300 and gw.value("replicas") == 6
    changed = network_from_upir(upir, {"gateway.retries": __import__("fractions").Fraction(4)})
    assert changed.node("gateway").value("retries") == 4


@pytest.mark.parametrize(
    ("nodes", "edges", "fragment"),
    [
        ((Node("a", "service", {"replicas": 0}),), (), "a.replicas"),
        ((Node("a", "gizmo"),), (), "unknown component type"),
        ((Node("a", "queue"), Node("b", "queue")), (("a", "b"), ("b", "a")), "cycle"),
        ((Node("a", "queue"),), (("a", "z"),), "unknown component"),
        ((Node("a", "batcher", {"batch_size": 2.5}),), (), "a.batch_size"),
    ],
)
def test_a_bad_network_names_the_field(
    nodes: tuple[Node, ...], edges: tuple[tuple[str, str], ...], fragment: str
) -> None:
    with pytest.raises(InvalidSpecError) as err:
        Network(nodes, edges)
    assert fragment in str(err.value)
