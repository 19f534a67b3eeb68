"""The main job: the local demo (README quick start).

Brings up the emulated Kubernetes API, a real Prometheus, the reference workload
under steady load and the real operator; applies the reference UPIR with kubectl;
shows the operator verify it, synthesize proved parameters, and (mode Auto) tune
the live service from Prometheus metrics with guardrail-proved changes only. At
the end: a summary table, a PNG plot of metrics and parameters over time, and
every process stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from upir.certificates import verify_certificate
from upir_e2e.report import Timeline, render_plot, summary_table
from upir_e2e.stack import NAMESPACE, LoadThread, Stack, wait_for

QUERIES = {
    "p99_ms": "histogram_quantile(0.99, sum(rate(refworkload_request_duration_seconds_bucket[{w}])) by (le)) * 1000",
    "throughput_rps": "sum(rate(refworkload_successes_total[{w}]))",
    "error_rate": "sum(rate(refworkload_errors_total[{w}])) / clamp_min(sum(rate(refworkload_requests_total[{w}])), 1e-9)",
}


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def measure(stack: Stack, window_s: int) -> dict[str, float | None]:
    return {k: stack.prometheus.query(q.format(w=f"{window_s}s")) for k, q in QUERIES.items()}


def fmt(v: float | None, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.3g}{unit}"


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with Stack(log=say, workdir=out) as stack:
        tl = Timeline()
        load = LoadThread(
            stack.workload.work_url,
            rps=args.rps,
            duration_s=args.duration + args.baseline + 60,
            profile=args.profile,
            seed=args.seed,
        )
        load.start()
        say(f"load: {args.profile} {args.rps} req/s against the workload")
        t0 = time.time()
        tl.params(t0, stack.workload.params())
        baseline_end = time.time() + args.baseline
        while time.time() < baseline_end:
            time.sleep(min(5.0, max(0.0, baseline_end - time.time())))
            tl.metrics(time.time(), measure(stack, 10))
            tl.params(time.time(), stack.workload.params())
        initial = measure(stack, args.baseline)
        initial_params = stack.workload.params()
        say(
            f"baseline over {args.baseline}s: p99 {fmt(initial['p99_ms'], ' ms')}, "
            f"throughput {fmt(initial['throughput_rps'], ' rps')}, errors {fmt(initial['error_rate'])}"
        )

        op = stack.start_operator()
        doc = stack.upir_document(mode=args.mode, interval_s=args.interval)
        stack.kubectl(
            "apply", "--validate=false", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(doc)
        )
        say("kubectl apply -f upir.yaml (reference workload UPIR)")
        obj = wait_for(
            "the operator's first verdict",
            lambda: (
                (o := stack.kubectl.get("upir", "refworkload"))
                and (o.get("status") or {}).get("verdicts")
                and o
            ),
            120,
        )
        st = obj["status"]
        for c in st.get("conditions", []):
            say(f"condition {c['type']}={c['status']} ({c['reason']}): {c['message'][:100]}")
        for v in st["verdicts"]:
            say(f"  {v['property']:26s} {v['status']:9s} {v.get('proof') or ''}")
        deadline = time.time() + args.duration
        last_counts: dict[str, Any] = {}
        while time.time() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.time())))
            now = time.time()
            m = measure(stack, 30)
            tl.metrics(now, m)
            tl.params(now, stack.workload.params())
            o = stack.kubectl.get("upir", "refworkload") or {}
            counts = ((o.get("status") or {}).get("tuning")) or {}
            if counts != last_counts:
                tl.tuning(
                    now,
                    counts,
                    next(
                        (
                            c.get("message")
                            for c in (o.get("status") or {}).get("conditions", [])
                            if c.get("type") == "Tuning"
                        ),
                        None,
                    ),
                )
                last_counts = counts
            say(
                f"t+{now - t0:5.0f}s p99 {fmt(m['p99_ms'], ' ms'):>9} thr {fmt(m['throughput_rps'], ' rps'):>9} "
                f"err {fmt(m['error_rate']):>7} | proposals {counts.get('proposals', 0)} accepted "
                f"{counts.get('accepted', 0)} rejected {counts.get('rejected', 0)} holds {counts.get('holds', 0)}"
            )
        final = measure(stack, 30)
        final_params = stack.workload.params()
        obj = stack.kubectl.get("upir", "refworkload") or {}
        st = obj.get("status") or {}
        cert = st.get("certificate")
        cert_ok = cert is not None and verify_certificate(cert, None).valid
        events = stack.kubectl("get", "events", "-n", NAMESPACE, "-o", "json", check=False)
        table = summary_table(initial_params, final_params, initial, final, st, cert_ok)
        print(table)
        domains = {d["name"]: (float(d["min"]), float(d["max"])) for d in doc["spec"]["parameters"]}
        plot = render_plot(tl, out / "demo.png", domains)
        (out / "demo.json").write_text(
            json.dumps(
                {
                    "initial": initial,
                    "final": final,
                    "initialParams": initial_params,
                    "finalParams": final_params,
                    "status": st,
                    "timeline": tl.to_json(),
                    "events": json.loads(events or "{}").get("items", []),
                },
                indent=2,
                default=str,
            )
        )
        say(f"plot: {plot}; data: {out / 'demo.json'}; operator log: {op.log_path}")
        stack.kubectl(
            "delete", "upir", "refworkload", "-n", NAMESPACE, "--wait=true", "--timeout=60s"
        )
        gone = wait_for(
            "owned objects removed",
            lambda: stack.kubectl.get("configmap", "refworkload-params") is None,
            60,
        )
        say(f"deleted the UPIR; owned ConfigMap removed: {bool(gone)}")
    say("all processes stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="upir-demo", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    p.add_argument(
        "--duration", type=int, default=120, help="seconds of operator tuning (default 120)"
    )
    p.add_argument(
        "--baseline", type=int, default=20, help="seconds measured before the operator starts"
    )
    p.add_argument("--interval", type=int, default=8, help="tuning interval, seconds (default 8)")
    p.add_argument("--rps", type=float, default=150.0, help="offered load, requests/second")
    p.add_argument("--profile", choices=("steady", "shift", "ramp"), default="steady")
    p.add_argument("--mode", choices=("Off", "Recommend", "Auto"), default="Auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/demo", help="folder for the plot and the JSON record")
    args = p.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("interrupted; stopped everything")
        return 130
    except (TimeoutError, RuntimeError) as err:
        say(f"demo failed: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
