"""The simulators against the real reference workload, side by side.

Run from the repository root (about 2 minutes; it starts the real workload)::

    python benchmarks/simulator_validation.py            # 20 s of load per case
    python benchmarks/simulator_validation.py --quick    # 5 s per case

For each case (a configuration of ``examples/reference-workload/k8s/upir.yaml``
and a steady Poisson load), the real reference workload
(``python -m refworkload``, a child process on loopback) runs under its own
load generator (``refworkload.loadgen.run_load``, open loop, max 512 in
flight) for ``--seconds``; then the same parameters and load run, for the same
time from the same cold start, on

- the reference instance (``upir.simulator.reference.reference_network``: the
  general simulator told the reference workload's facts, what the tuning
  benchmark and ``upir tune --simulate`` run on that shape),
- the general simulator on the UPIR (``GraphSimulator`` over
  ``network_from_upir``: each stage its own service, times drawn inside the
  assumed ranges; it knows nothing the UPIR does not say), and
- the general simulator told the two facts the UPIR cannot state: the
  gateway's attempts call the pipeline (``calls``) and a batch of k items
  takes ``20 + 5 k + Exponential(5)`` ms at failure rate 0.001.

Reported per case: p50 and p99 latency (ms, of answered requests), successful
throughput (req/s) and the error share (non-2xx over answered). Writes
``benchmarks/results/simulator_validation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "e2e"))
sys.path.insert(0, str(ROOT / "examples" / "reference-workload"))

from refworkload.loadgen import run_load  # noqa: E402
from upir_e2e.workload import WorkloadProcess, project_configmap  # noqa: E402

from upir.cli.common import read_one_upir  # noqa: E402
from upir.simulator import (  # noqa: E402
    GraphSimulator,
    LoadProfile,
    Network,
    ServiceTime,
    network_from_upir,
)
from upir.simulator.reference import reference_network  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "simulator_validation.json"
SPEC = ROOT / "examples" / "reference-workload" / "k8s" / "upir.yaml"

CASES: list[tuple[str, dict[str, float], float]] = [
    ("as shipped, 80 req/s", {}, 80.0),
    ("as shipped, 140 req/s (worker near capacity)", {}, 140.0),
    (
        "2x2 workers, batches of 8, flush 20 ms, 150 req/s",
        {
            "worker.replicas": 2,
            "worker.concurrency": 2,
            "batcher.batch_size": 8,
            "batcher.flush_ms": 20,
        },
        150.0,
    ),
    (
        "timeout 60 ms, 1 retry, 100 req/s (timeouts)",
        {"gateway.timeout_ms": 60, "gateway.retries": 1},
        100.0,
    ),
]


def _pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 2) if xs else None


def real(values: dict[str, float], rps: float, seconds: float, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params"
        project_configmap(params, {k: v for k, v in values.items()})
        with WorkloadProcess(params) as wl:
            res = asyncio.run(
                run_load(wl.work_url, profile="steady", rps=rps, duration_s=seconds, seed=seed)
            )
    answered = res.answered
    return {
        "p50_ms": _pct(res.latencies_ms, 50),
        "p99_ms": _pct(res.latencies_ms, 99),
        "throughput_rps": round(res.ok / seconds, 2),
        "error_rate": round((answered - res.ok) / answered, 5) if answered else 0.0,
        "sent": res.sent,
    }


def _row(s: Any) -> dict[str, Any]:
    """A simulated window's system metrics, as the real workload's are reported."""
    return {
        "p50_ms": round(s.p50_ms, 2) if math.isfinite(s.p50_ms) else None,
        "p99_ms": round(s.p99_ms, 2) if math.isfinite(s.p99_ms) else None,
        "throughput_rps": round(s.throughput_rps, 2),
        "error_rate": round(s.error_rate, 5),
    }


def reference_instance(
    change: dict[str, Fraction], rps: float, seconds: float, seed: int
) -> dict[str, Any]:
    upir = read_one_upir(str(SPEC))
    sim = GraphSimulator(
        reference_network(upir, change), LoadProfile.steady(rps), seed=seed, max_in_flight=512
    )
    return _row(sim.run_window(seconds).system)


def general(
    upir_values: dict[str, Fraction], rps: float, seconds: float, seed: int
) -> dict[str, Any]:
    upir = read_one_upir(str(SPEC))
    net = network_from_upir(upir, upir_values)
    w = GraphSimulator(net, LoadProfile.steady(rps), seed=seed, max_in_flight=512).run_window(
        seconds
    )
    return _row(w.system)


def told(upir_values: dict[str, Fraction], rps: float, seconds: float, seed: int) -> dict[str, Any]:
    """The general simulator told what the UPIR cannot say: the gateway's
    attempts call the pipeline (``calls``), and a batch of k items takes
    ``20 + 5 k + Exponential(5)`` ms with failure rate 0.001 (the workload's
    ``DownstreamModel``)."""
    from dataclasses import replace

    upir = read_one_upir(str(SPEC))
    net = network_from_upir(upir, upir_values, calls=("gateway",))
    worker = replace(
        net.node("worker"),
        service_time=ServiceTime("exponential", 20.0, math.inf, 25.0, per_item_ms=5.0),
        failure_rate=0.001,
    )
    net = Network(tuple(worker if n.name == "worker" else n for n in net.nodes), net.edges)
    w = GraphSimulator(net, LoadProfile.steady(rps), seed=seed, max_in_flight=512).run_window(
        seconds
    )
    return _row(w.system)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS.parent, help="directory for the JSON")
    ap.add_argument("--quick", action="store_true", help="5 s per case, two cases (smoke test)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds
    upir = read_one_upir(str(SPEC))
    base = {k: float(v) for k, v in upir.param_values().items()}
    rows = []
    for name, change, rps in CASES[::2] if args.quick else CASES:
        values = {**base, **change}
        exact = {k: Fraction(v) for k, v in change.items()}
        row = {
            "case": name,
            "rps": rps,
            "parameters": values,
            "real": real(values, rps, seconds, args.seed),
            "reference_instance": reference_instance(exact, rps, seconds, args.seed),
            "general": general(exact, rps, seconds, args.seed),
            "general_told": told(exact, rps, seconds, args.seed),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"seconds": seconds, "seed": args.seed, "cases": rows}
    (args.out / RESULTS.name).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
