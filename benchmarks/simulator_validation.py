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

- the reference workload's own model (``upir.simulator.Simulator``, since removed; loaded from
   the git history by ``benchmarks/old_engine.py``),
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import old_engine  # noqa: E402  (the former engine, from the git history)

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


def reference_model(
    values: dict[str, float], rps: float, seconds: float, seed: int
) -> dict[str, Any]:
    params = old_engine.load().WorkloadParams.from_mapping(values)
    m = (
        old_engine.load()
        .Simulator(params, old_engine.load().LoadProfile.steady(rps), seed=seed)
        .run_window(seconds)
    )
    answered = m.completed + m.errors + m.dropped
    return {
        "p50_ms": round(m.p50_ms, 2),
        "p99_ms": round(m.p99_ms, 2),
        "throughput_rps": round(m.throughput_rps, 2),
        "error_rate": round((m.errors + m.dropped) / answered, 5) if answered else 0.0,
    }


def general(
    upir_values: dict[str, Fraction], rps: float, seconds: float, seed: int
) -> dict[str, Any]:
    upir = read_one_upir(str(SPEC))
    net = network_from_upir(upir, upir_values)
    w = GraphSimulator(net, LoadProfile.steady(rps), seed=seed, max_in_flight=512).run_window(
        seconds
    )
    s = w.system
    return {
        "p50_ms": round(s.p50_ms, 2) if math.isfinite(s.p50_ms) else None,
        "p99_ms": round(s.p99_ms, 2) if math.isfinite(s.p99_ms) else None,
        "throughput_rps": round(s.throughput_rps, 2),
        "error_rate": round(s.error_rate, 5),
    }


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
    s = w.system
    return {
        "p50_ms": round(s.p50_ms, 2) if math.isfinite(s.p50_ms) else None,
        "p99_ms": round(s.p99_ms, 2) if math.isfinite(s.p99_ms) else None,
        "throughput_rps": round(s.throughput_rps, 2),
        "error_rate": round(s.error_rate, 5),
    }


TUNING = ROOT / "benchmarks" / "tuning_upir.yaml"


def told_network(spec: Path, values: dict[str, Fraction]) -> Network:
    """The general simulator's network for a reference-shaped UPIR, told the
    gateway calls the pipeline and the worker's per-batch cost."""
    from dataclasses import replace

    net = network_from_upir(read_one_upir(str(spec)), values, calls=("gateway",))
    worker = replace(
        net.node("worker"),
        service_time=ServiceTime("exponential", 20.0, math.inf, 25.0, per_item_ms=5.0),
        failure_rate=0.001,
    )
    return Network(tuple(worker if n.name == "worker" else n for n in net.nodes), net.edges)


def scenarios(configs: int, seconds: float, seed: int) -> dict[str, Any]:
    """The tuning benchmark's system (benchmarks/tuning_upir.yaml) at its
    scenario loads, on the reference model and on the general simulator told
    the two facts: the starting configuration and ``configs - 1`` random ones
    from the tunable domains, each for ``seconds`` in 10 s windows."""
    upir = read_one_upir(str(TUNING))
    rng = np.random.default_rng(seed)
    choices: list[dict[str, Fraction]] = [dict(upir.tunable_values())]
    for _ in range(configs - 1):
        pick: dict[str, Fraction] = {}
        for d in upir.parameters:
            step = d.step or Fraction(1)
            n = int((d.max - d.min) / step)
            pick[d.name] = d.min + step * int(rng.integers(0, n + 1))
        choices.append(pick)
    rows = []
    for values in choices:
        for rps in (120.0, 210.0, 300.0):
            all_values = {
                **{k: float(v) for k, v in upir.param_values().items()},
                **{k: float(v) for k, v in values.items()},
            }
            params = old_engine.load().WorkloadParams.from_mapping(
                {
                    k: v
                    for k, v in all_values.items()
                    if k in set(old_engine.load().UPIR_KEYS.values())
                }
            )
            ref = old_engine.load().Simulator(
                params, old_engine.load().LoadProfile.steady(rps), seed=seed
            )
            gen = GraphSimulator(
                told_network(TUNING, values), LoadProfile.steady(rps), seed=seed, max_in_flight=512
            )
            a = [ref.run_window(10.0) for _ in range(int(seconds / 10))]
            b = [gen.run_window(10.0).system for _ in range(int(seconds / 10))]
            rows.append(
                {
                    "parameters": {k: float(v) for k, v in values.items()},
                    "rps": rps,
                    "reference_model": {
                        "p99_ms": round(float(np.mean([m.p99_ms for m in a])), 2),
                        "throughput_rps": round(float(np.mean([m.throughput_rps for m in a])), 2),
                        "error_rate": round(float(np.mean([m.error_rate for m in a])), 5),
                    },
                    "general_told": {
                        "p99_ms": round(float(np.mean([m.p99_ms for m in b])), 2),
                        "throughput_rps": round(float(np.mean([m.throughput_rps for m in b])), 2),
                        "error_rate": round(float(np.mean([m.error_rate for m in b])), 5),
                    },
                }
            )
    summary: dict[str, Any] = {}
    for key in ("p99_ms", "throughput_rps"):
        rel = [
            abs(r["general_told"][key] - r["reference_model"][key])
            / max(abs(r["reference_model"][key]), 1e-9)
            for r in rows
        ]
        summary[key] = {
            "median_rel_diff": round(float(np.median(rel)), 4),
            "within_10pct": sum(x <= 0.10 for x in rel),
            "cases": len(rel),
        }
    err = [abs(r["general_told"]["error_rate"] - r["reference_model"]["error_rate"]) for r in rows]
    summary["error_rate"] = {
        "median_abs_diff": round(float(np.median(err)), 5),
        "within_0.02": sum(x <= 0.02 for x in err),
        "cases": len(err),
    }
    return {"configs": configs, "seconds": seconds, "summary": summary, "rows": rows}


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
    known = set(old_engine.load().UPIR_KEYS.values())
    rows = []
    for name, change, rps in CASES[::2] if args.quick else CASES:
        values = {**{k: v for k, v in base.items() if k in known}, **change}
        exact = {k: Fraction(v) for k, v in change.items()}
        row = {
            "case": name,
            "rps": rps,
            "parameters": values,
            "real": real(values, rps, seconds, args.seed),
            "reference_model": reference_model(values, rps, seconds, args.seed),
            "general": general(exact, rps, seconds, args.seed),
            "general_told": told(exact, rps, seconds, args.seed),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    reproduced = scenarios(3 if args.quick else 8, 20.0 if args.quick else 60.0, args.seed)
    print(json.dumps(reproduced["summary"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"seconds": seconds, "seed": args.seed, "cases": rows, "tuning_scenarios": reproduced}
    (args.out / RESULTS.name).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
