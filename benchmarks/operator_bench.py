"""Operator benchmark (issue 7): the real operator process against the API emulator.

1. Time from ``kubectl apply`` to ``Verified=True`` for a 10-component UPIR,
   repeated (p50, p95).
2. 200 UPIRs applied at once (one multi-document ``kubectl apply``): time until
   every one is ``Verified=True``, and the operator's peak resident memory.

Prints the figures and writes ``benchmarks/results/operator.json``.
Run: ``python benchmarks/operator_bench.py [--repeats 20] [--bulk 200]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from upir_e2e.emulator import start_in_thread
from upir_e2e.stack import Kubectl, OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
NS = "bench"


def ten_component_upir(name: str) -> dict[str, Any]:
    """A chain of 5 services each followed by a queue (10 components), with
    properties over every component and the system."""
    comps: list[dict[str, Any]] = []
    conns: list[dict[str, str]] = []
    props: list[dict[str, Any]] = []
    assumptions = ["env.arrival_rps <= 100", "env.q4_drain_rps >= 200"]
    for i in range(5):
        svc, q = f"s{i}", f"q{i}"
        comps.append(
            {
                "name": svc,
                "type": "service",
                "params": {"replicas": 2, "concurrency": 8, "timeout_ms": 200, "retries": 1},
            }
        )
        comps.append({"name": q, "type": "queue", "params": {"capacity": 1000}})
        conns.append({"from": svc, "to": q})
        if i < 4:
            conns.append({"from": q, "to": f"s{i + 1}"})
        assumptions += [f"1 <= env.{svc}_service_ms <= 20", f"env.{svc}_failure_rate <= 0.001"]
        props.append(
            {"name": f"{q}_no_loss", "operator": "ALWAYS", "predicate": f"{q}.dropped == 0"}
        )
        props.append(
            {
                "name": f"{svc}_budget",
                "operator": "ALWAYS",
                "predicate": f"{svc}.timeout_ms * ({svc}.retries + 1) <= 1000",
            }
        )
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": {
            "systemType": "api",
            "architecture": {"components": comps, "connections": conns},
            "specification": {
                "assumptions": assumptions,
                "properties": props,
                "constraints": {"latency_ms": {"max": 2000}, "cost": {"max": 40}},
            },
            "tuning": {"mode": "Off"},
        },
    }


def verified(obj: dict[str, Any] | None) -> bool:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Verified":
            return bool(c.get("status") == "True")
    return False


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--bulk", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "operator.json"))
    args = ap.parse_args()
    emu = start_in_thread()
    kubectl = Kubectl(emu.kubeconfig_path)
    kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "upir.dev_upirs.yaml"))
    kubectl("create", "namespace", NS)
    tmp = Path(tempfile.mkdtemp(prefix="upir-bench-"))
    op = OperatorProcess(emu.kubeconfig_path, NS, tmp / "operator.log", UPIR_LOG_LEVEL="WARNING")
    try:
        # warm-up: the operator is up and watching
        kubectl(
            "apply",
            "--validate=false",
            "-n",
            NS,
            "-f",
            "-",
            input=yaml.safe_dump(ten_component_upir("warm")),
        )
        deadline = time.monotonic() + 120
        while not verified(kubectl.get("upir", "warm", NS)):
            if time.monotonic() > deadline:
                raise SystemExit("the operator did not verify the warm-up UPIR")
            time.sleep(0.2)
        latencies = []
        for i in range(args.repeats):
            doc = ten_component_upir(f"one-{i}")
            # vary a parameter so no verdict is a cache hit of the previous one
            doc["spec"]["architecture"]["components"][0]["params"]["timeout_ms"] = 100 + i
            start = time.monotonic()
            kubectl("apply", "--validate=false", "-n", NS, "-f", "-", input=yaml.safe_dump(doc))
            while not verified(kubectl.get("upir", f"one-{i}", NS)):
                time.sleep(0.05)
            latencies.append(time.monotonic() - start)
            print(
                f"  apply -> Verified {i + 1}/{args.repeats}: {latencies[-1] * 1000:.0f} ms",
                flush=True,
            )
        docs = []
        for i in range(args.bulk):
            doc = ten_component_upir(f"bulk-{i}")
            doc["spec"]["architecture"]["components"][0]["params"]["timeout_ms"] = 300 + i
            docs.append(doc)
        start = time.monotonic()
        kubectl("apply", "--validate=false", "-n", NS, "-f", "-", input=yaml.safe_dump_all(docs))
        applied_s = time.monotonic() - start
        remaining = {d["metadata"]["name"] for d in docs}
        while remaining:
            items = json.loads(kubectl("get", "upirs", "-n", NS, "-o", "json"))["items"]
            remaining -= {o["metadata"]["name"] for o in items if verified(o)}
            print(
                f"  bulk: {args.bulk - len(remaining)}/{args.bulk} verified after "
                f"{time.monotonic() - start:.1f} s",
                flush=True,
            )
            if time.monotonic() - start > 900:
                raise SystemExit("bulk reconcile did not finish in 15 minutes")
            time.sleep(1.0)
        bulk_s = time.monotonic() - start
        rss = peak_rss_mib(op.proc.pid)
    finally:
        op.stop()
        emu.stop()
    lat_ms = sorted(x * 1000 for x in latencies)
    result = {
        "apply_to_verified_ms": {
            "p50": statistics.median(lat_ms),
            "p95": lat_ms[min(len(lat_ms) - 1, int(round(0.95 * (len(lat_ms) - 1))))],
            "n": len(lat_ms),
        },
        "bulk": {
            "upirs": args.bulk,
            "kubectl_apply_s": applied_s,
            "all_verified_s": bulk_s,
            "operator_peak_rss_mib": rss,
        },
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
