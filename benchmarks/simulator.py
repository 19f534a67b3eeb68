"""Simulator speed, and the engine choice, measured side by side in one run.

Run from the repository root::

    python benchmarks/simulator.py            # full run (about a minute)
    python benchmarks/simulator.py --quick    # short runs, a smoke test

Prints every figure and writes them to ``benchmarks/results/simulator.json``.

1. Engines on one model both can express: M/M/c (c = 4 slots of mean 10 ms,
   exponential service, Poisson arrivals at 320 req/s, rho = 0.8), the same
   simulated time each, mean time in system checked against Erlang C:
   the general simulator (``upir.simulator.GraphSimulator``: a heap of
   completions, arrivals drawn up front with NumPy); SimPy 4 (a process per
   request, a ``Resource`` of 4 slots; only when ``simpy`` is installed, it is
   not a dependency); and a vectorised event loop, which only exists for
   c = 1 (the Lindley recursion as NumPy prefix sums: M/M/1 at the same rho),
   the upper bound of what vectorising buys. No vectorised form covers several
   slots, timeouts, retries or bounded queues, so it cannot be the engine.
2. The reference workload's UPIR on the general simulator, as the UPIR states
   it (``network_from_upir``) and as the calibrated reference instance the
   tuning benchmark runs (``upir.simulator.reference.reference_network``), same
   load. (The former engine, ``upir.simulator.Simulator``, is gone; its speed
   against the general simulator is in docs/benchmarks.md, and
   ``benchmarks/simulator_equivalence.py`` measures both from the git history.)
3. A 20-component graph at 1,000 req/s (an edge service fanning out to four
   branches of service -> queue -> batcher -> service, plus a sink queue each).

Each figure: events per wall second and simulated seconds per wall second
(median of ``--repeat`` runs, interleaved across the engines so that a change
of load on a shared machine hits them alike; compare ratios).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from upir.cli.common import read_one_upir  # noqa: E402
from upir.simulator import (  # noqa: E402
    GraphSimulator,
    LoadProfile,
    Network,
    Node,
    ServiceTime,
    network_from_upir,
)
from upir.simulator.reference import reference_network  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "simulator.json"
REFERENCE = ROOT / "examples" / "reference-workload" / "k8s" / "upir.yaml"


def erlang_c_w_ms(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    return 1000.0 * (tail / (head + tail) / (c * mu - lam) + 1 / mu)


def timed_together(
    fns: dict[str, Callable[[], tuple[int, float]]], repeat: int
) -> dict[str, dict[str, float]]:
    """Each of ``fns`` run ``repeat`` times, interleaved (A B C A B C ...) so that
    a change of load on the shared machine hits every engine alike; per
    function: the median wall time, its events and check value."""
    walls: dict[str, list[float]] = {k: [] for k in fns}
    first: dict[str, tuple[int, float]] = {}
    for _ in range(repeat):
        for key, fn in fns.items():
            t = time.perf_counter()
            events, value = fn()
            walls[key].append(time.perf_counter() - t)
            first.setdefault(key, (events, value))
    out: dict[str, dict[str, float]] = {}
    for key in fns:
        wall = statistics.median(walls[key])
        events, value = first[key]
        out[key] = {
            "wall_s": round(wall, 4),
            "events": events,
            "value": round(value, 4),
            "events_per_s": round(events / wall, 1),
        }
    return out


def mmc_network(c: int) -> Network:
    return Network(
        (
            Node(
                "s",
                "service",
                {"replicas": 1, "concurrency": c, "timeout_ms": 1e9},
                ServiceTime("exponential", 0.0, math.inf, 10.0),
            ),
        )
    )


def run_graph(
    net: Network, rps: float, seconds: float, window_s: float = 10.0
) -> tuple[int, float]:
    sim = GraphSimulator(net, LoadProfile.steady(rps), seed=1)
    ws = sim.run(seconds, window_s)
    events = sum(w.system.events for w in ws)
    mean = sum(w.system.mean_ms * w.system.completed for w in ws) / sum(
        w.system.completed for w in ws
    )
    return events, mean


def run_simpy(c: int, rps: float, seconds: float) -> tuple[int, float]:
    import simpy

    rng = np.random.default_rng(1)
    env = simpy.Environment()
    slots = simpy.Resource(env, capacity=c)
    lat: list[float] = []

    def request(env: simpy.Environment, t0: float, service: float) -> Any:
        with slots.request() as req:
            yield req
            yield env.timeout(service)
        lat.append(env.now - t0)

    def source(env: simpy.Environment) -> Any:
        while True:
            yield env.timeout(rng.exponential(1000.0 / rps))
            env.process(request(env, env.now, rng.exponential(10.0)))

    env.process(source(env))
    env.run(until=seconds * 1000.0)
    # events: an arrival, a slot grant and a completion per request, as counted
    # by the general simulator (arrival + completion; grants are not events there)
    return 2 * len(lat), float(np.mean(lat))


def run_lindley(rps: float, seconds: float) -> tuple[int, float]:
    """M/M/1 by the Lindley recursion, vectorised: W_n = S_n - min(0, min_k<=n S_k)."""
    rng = np.random.default_rng(1)
    n = int(rps * seconds)
    inter = rng.exponential(1000.0 / rps, n)
    service = rng.exponential(10.0, n)
    x = np.empty(n)
    x[0] = 0.0
    x[1:] = service[:-1] - inter[1:]
    s = np.cumsum(x)
    wait = s - np.minimum(np.minimum.accumulate(s), 0.0)
    return 2 * n, float(np.mean(wait + service))


def twenty_components() -> Network:
    nodes = [
        Node(
            "edge",
            "service",
            {"replicas": 4, "concurrency": 32, "timeout_ms": 500, "retries": 1},
            ServiceTime("exponential", 1, 20, 5),
            0.001,
        )
    ]
    edges = []
    for b in range(4):
        p = f"b{b}"
        nodes += [
            Node(
                f"{p}_api",
                "service",
                {"replicas": 2, "concurrency": 16, "timeout_ms": 300, "retries": 1},
                ServiceTime("exponential", 2, 40, 8),
                0.001,
            ),
            Node(f"{p}_queue", "queue", {"capacity": 5000}),
            Node(f"{p}_batch", "batcher", {"batch_size": 20, "flush_ms": 20}),
            Node(
                f"{p}_worker",
                "service",
                {"replicas": 2, "concurrency": 4, "timeout_ms": 1000, "retries": 2},
                ServiceTime("exponential", 10, 100, 30),
                0.002,
            ),
        ]
        edges += [
            ("edge", f"{p}_api"),
            (f"{p}_api", f"{p}_queue"),
            (f"{p}_queue", f"{p}_batch"),
            (f"{p}_batch", f"{p}_worker"),
        ]
    nodes.append(Node("audit", "queue", {"capacity": 100000}))
    nodes.append(Node("archive", "queue", {"capacity": 100000}, drain_rps=5000.0))
    edges += [("b0_worker", "audit"), ("b1_worker", "audit"), ("audit", "archive")]
    nodes.append(Node("metrics", "queue", {"capacity": 100000}))
    edges += [("b2_worker", "metrics"), ("b3_worker", "metrics")]
    assert len(nodes) == 20, len(nodes)
    return Network(tuple(nodes), tuple(edges))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS.parent, help="directory for the JSON")
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    seconds = 20.0 if args.quick else 300.0
    repeat = 1 if args.quick else args.repeat
    out: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "simulated_s": seconds,
    }

    lam = 320.0
    engines: dict[str, Any] = {
        "model": "M/M/4, mean 10 ms, 320 req/s",
        "expected_w_ms": round(erlang_c_w_ms(lam, 100, 4), 4),
    }
    upir = read_one_upir(str(REFERENCE))
    fns: dict[str, Callable[[], tuple[int, float]]] = {
        "general": lambda: run_graph(mmc_network(4), lam, seconds),
        "vectorised_mm1": lambda: run_lindley(80.0, seconds),
        "general_mm1": lambda: run_graph(mmc_network(1), 80.0, seconds),
        "ref_general": lambda: run_graph(network_from_upir(upir), 120.0, seconds),
        "ref_instance": lambda: run_graph(reference_network(upir), 120.0, seconds),
        "twenty": lambda: run_graph(twenty_components(), 1000.0, seconds),
    }
    try:
        import simpy  # noqa: F401

        fns["simpy"] = lambda: run_simpy(4, lam, seconds)
    except ImportError:
        pass
    got = timed_together(fns, repeat)
    for row in got.values():
        row["sim_s_per_wall_s"] = round(seconds / row["wall_s"], 1)
    engines["general"] = got["general"]
    engines["simpy"] = got.get("simpy")
    engines["vectorised_mm1"] = {
        "model": "M/M/1, mean 10 ms, 80 req/s (c = 1 only)",
        "expected_w_ms": round(1000 / (100 - 80), 4),
        **got["vectorised_mm1"],
    }
    engines["general_mm1"] = got["general_mm1"]
    out["engines"] = engines
    out["reference_upir"] = {
        "rps": 120.0,
        "general": got["ref_general"],
        "reference_instance": got["ref_instance"],
    }
    out["twenty_components"] = {"rps": 1000.0, "components": 20, "general": got["twenty"]}

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / RESULTS.name).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
