"""Conformance against the real reference workload process.

Run from the repository root (about 3 minutes; it starts the real workload)::

    python benchmarks/conformance_workload.py              # 20 s of load per run
    python benchmarks/conformance_workload.py --seconds 5  # quick

For three configurations of ``examples/reference-workload/k8s/upir.yaml`` that
the verifier PROVES (every property and constraint), the real reference
workload (``python -m refworkload``, a child process on loopback, under its own
open-loop load generator) runs at the assumed peak (200 req/s) and at half of
it. Its measured p99 latency and error share are set beside what was proved:
the p99 against the upper end of ``system.latency_ms`` (the composed range the
verifier proves, ``upir.simulator.bounds.model_bounds``) and the error share
against the proved ``availability`` constraint (``1 - min``). Writes
``benchmarks/results/conformance_workload.json``.

The workload is the system the UPIR describes only approximately (its gateway's
timeout covers the whole downstream call, and a batch takes ``20 ms + 5 ms x
items``, docs/simulator.md): this checks the proved bounds against the real
process, not the model's structure.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "e2e"))
sys.path.insert(0, str(ROOT / "examples" / "reference-workload"))

from simulator_validation import real  # noqa: E402

from upir.cli.common import read_one_upir  # noqa: E402
from upir.settings import SolverSettings  # noqa: E402
from upir.simulator.bounds import model_bounds  # noqa: E402
from upir.verification import MODEL_VERSION, Verdict, Verifier  # noqa: E402

SPEC = ROOT / "examples" / "reference-workload" / "k8s" / "upir.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "conformance_workload.json"
CONFIGS: list[dict[str, int]] = [
    {"worker.replicas": 4, "worker.concurrency": 4, "orders.capacity": 2000},
    {
        "worker.replicas": 4,
        "worker.concurrency": 8,
        "orders.capacity": 2000,
        "batcher.batch_size": 8,
        "batcher.flush_ms": 20,
    },
    {
        "worker.replicas": 2,
        "worker.concurrency": 8,
        "orders.capacity": 2000,
        "batcher.batch_size": 32,
        "batcher.flush_ms": 50,
    },
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    upir = read_one_upir(str(SPEC))
    verifier = Verifier(SolverSettings())
    availability_min = next(
        c.min for c in upir.specification.constraints if c.key == "availability"
    )
    assert availability_min is not None
    rows: list[dict[str, Any]] = []
    for i, config in enumerate(CONFIGS):
        values = {k: Fraction(v) for k, v in config.items()}
        report = verifier.check_params(upir, values)
        if not all(r.status is Verdict.PROVED for r in report.results):
            raise SystemExit(f"configuration {i} is not PROVED: {report.results}")
        bounds = model_bounds(upir, values=values)
        assert bounds is not None
        p99_bound = bounds["system.latency_ms"][1]
        params = {k: float(v) for k, v in upir.with_params(values).param_values().items()}
        for rps in (200.0, 100.0):
            measured = real(params, rps, args.seconds, args.seed + i)
            row = {
                "config": config,
                "rps": rps,
                "p99_ms": measured["p99_ms"],
                "p99_bound_ms": round(p99_bound, 2),
                "error_rate": measured["error_rate"],
                "error_bound": float(1 - availability_min),
                "sent": measured["sent"],
            }
            row["p99_within"] = measured["p99_ms"] is not None and measured["p99_ms"] <= p99_bound
            row["errors_within"] = measured["error_rate"] <= row["error_bound"]
            rows.append(row)
            print(
                f"config {i} at {rps:g} req/s: p99 {row['p99_ms']} ms (proved <= {row['p99_bound_ms']}),"
                f" errors {row['error_rate']} (proved <= {row['error_bound']:g})"
            )
    result = {
        "command": " ".join(
            ["python benchmarks/conformance_workload.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "model": MODEL_VERSION,
        "seconds_per_run": args.seconds,
        "rows": rows,
        "within": sum(r["p99_within"] and r["errors_within"] for r in rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['within']} of {len(rows)} runs within every proved bound -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
