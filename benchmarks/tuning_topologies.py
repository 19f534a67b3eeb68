"""Tuning on other topologies: the shared loop on the general simulator.

Run from the repository root::

    python benchmarks/tuning_topologies.py                # examples/*.yaml, 5 seeds
    python benchmarks/tuning_topologies.py --quick        # a smoke test

For each example UPIR (``examples/api-service.yaml``, ``batch-job.yaml``,
``streaming-pipeline.yaml``: none is the reference workload's shape, so each
runs on :class:`upir.simulator.GraphSimulator`, the general discrete-event
simulator built from its own architecture) and each load profile (``steady`` at
60% of the assumed arrival bound; ``shift`` from 40% to 90% of it at the middle
of the run), every learner runs :func:`upir.tuning.simulated.tune`, the
operator's step (:func:`upir.tuning.step.step`), behind the guardrail with
rollback:

- ``plain``: ``TuningSettings(model=False)``, the learner alone;
- ``winner``: ``TuningSettings()``, the default where a load is observed (the
  simulator's offered load): score model with the load as context, exploring
  imagination, restart on a load jump.

Each run's final configuration is the one of its best window among the windows
at the final load (every window; for ``shift`` those after the shift), as in
``benchmarks/tuning.py``, evaluated for 3 windows on a fresh simulator with a
fixed seed at the final load and scored by the spec's
:class:`~upir.tuning.objective.TuningObjective` against the starting
parameters evaluated the same way (higher is better; the start scores 0 less
its constraint penalties, reported as ``start``). Also reported: the mean
online score over the run (what exploring cost).
Writes ``benchmarks/results/tuning_topologies.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from upir.core import UPIR  # noqa: E402
from upir.core.numbers import to_json_number  # noqa: E402
from upir.settings import SolverSettings  # noqa: E402
from upir.simulator import LoadProfile  # noqa: E402
from upir.tuning.objective import TuningObjective  # noqa: E402
from upir.tuning.report import evaluate  # noqa: E402
from upir.tuning.settings import TuningSettings  # noqa: E402
from upir.tuning.simulated import (  # noqa: E402
    LOAD_METRIC,
    SimulatedWorkload,
    arrival_bound,
    is_reference_workload,
    make_profile,
    tune,
)
from upir.tuning.step import new_learner  # noqa: E402
from upir.verification import ProofCache, Verifier  # noqa: E402
from upir.verification.guardrail import Guardrail  # noqa: E402

EXAMPLES = ("api-service", "batch-job", "streaming-pipeline")
METHODS = {"plain": TuningSettings(model=False), "winner": TuningSettings()}
EVAL_SEED = 424242


def _loads(upir: UPIR, kind: str, total_s: float) -> tuple[LoadProfile, LoadProfile]:
    bound = arrival_bound(upir) or 100.0
    if kind == "steady":
        return make_profile("steady", 0.6 * bound, 0.6 * bound, total_s), make_profile(
            "steady", 0.6 * bound, 0.6 * bound, total_s
        )
    final = make_profile("steady", 0.9 * bound, 0.9 * bound, total_s)
    return make_profile("shift", 0.4 * bound, 0.9 * bound, total_s), final


def run_one(
    upir: UPIR, kind: str, method: str, seed: int, windows: int, window_s: float
) -> dict[str, Any]:
    torch.set_num_threads(1)
    profile, final_load = _loads(upir, kind, windows * window_s)
    settings = TuningSettings(
        model=METHODS[method].model, seed=seed, rollback=METHODS[method].rollback
    )
    guard = Guardrail(Verifier(SolverSettings(), ProofCache(4096)), upir)
    learner = new_learner(upir, settings, load=(LOAD_METRIC,), guardrail=guard)
    wl = SimulatedWorkload(upir, profile, seed=seed, window_s=window_s)
    start = time.perf_counter()
    records = tune(learner, wl, windows, guardrail=guard, settings=settings)
    seconds = time.perf_counter() - start
    objective = TuningObjective(upir)
    base = evaluate(
        upir, upir.tunable_values(), final_load, seed=EVAL_SEED, windows=3, window_s=window_s
    )
    objective.set_baseline(base)
    start_score = objective.score(base, upir.tunable_values())
    online = [objective.score(r.metrics, r.params) for r in records]
    first = windows // 2 if kind == "shift" else 0
    best = max(range(first, windows), key=lambda i: online[i])
    final = records[best].params
    m = evaluate(upir, final, final_load, seed=EVAL_SEED, windows=3, window_s=window_s)
    return {
        "example": upir.name,
        "profile": kind,
        "method": method,
        "seed": seed,
        "seconds": round(seconds, 2),
        "start_score": start_score,
        "final_score": objective.score(m, final),
        "online_mean": statistics.fmean(online),
        "accepted": sum(1 for r in records if r.outcome == "accepted"),
        "rejected": sum(1 for r in records for d in r.decisions if not d.proved),
        "rolled_back": sum(1 for r in records if r.outcome == "rolled back"),
        "final": {k: to_json_number(v) for k, v in final.items()},
        "restarts": learner.counters["restarts"],
        "imagined": learner.counters["imagined"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds (default 5)")
    ap.add_argument("--windows", type=int, default=None, help="windows per run (default 60)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 5)
    windows = args.windows or (10 if args.quick else 60)
    window_s = 5.0 if args.quick else 10.0
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()
    for name in EXAMPLES:
        upir = UPIR.from_resource(yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text()))
        assert not is_reference_workload(upir), name  # the general simulator runs it
        for kind in ("steady", "shift"):
            for method in METHODS:
                for seed in range(seeds):
                    runs.append(run_one(upir, kind, method, seed, windows, window_s))
                    r = runs[-1]
                    print(
                        f"{name} {kind} {method} seed {seed}: final {r['final_score']:+.3f}, "
                        f"online {r['online_mean']:+.3f} ({r['seconds']:.1f} s)",
                        flush=True,
                    )
    summary: dict[str, Any] = {}
    for name in EXAMPLES:
        for kind in ("steady", "shift"):
            rows = {
                m: [
                    r
                    for r in runs
                    if r["example"] == _name(name) and r["profile"] == kind and r["method"] == m
                ]
                for m in METHODS
            }
            wins = sum(
                1
                for a, b in zip(rows["winner"], rows["plain"], strict=True)
                if a["final_score"] > b["final_score"] + 1e-9
            )
            losses = sum(
                1
                for a, b in zip(rows["winner"], rows["plain"], strict=True)
                if a["final_score"] < b["final_score"] - 1e-9
            )
            summary[f"{name}/{kind}"] = {
                "start_score": rows["plain"][0]["start_score"],
                **{
                    m: {
                        "final_score": statistics.fmean(r["final_score"] for r in rs),
                        "final_min": min(r["final_score"] for r in rs),
                        "final_max": max(r["final_score"] for r in rs),
                        "online_mean": statistics.fmean(r["online_mean"] for r in rs),
                        "seconds": statistics.fmean(r["seconds"] for r in rs),
                    }
                    for m, rs in rows.items()
                },
                "winner_vs_plain": {"wins": wins, "losses": losses, "seeds": seeds},
            }
    total = time.perf_counter() - start
    print()
    print(
        f"{'example/profile':34} {'method':7} {'final':>8} {'[min, max]':>18} {'online':>8} {'s/run':>6}"
    )
    for key, row in summary.items():
        for m in METHODS:
            s = row[m]
            print(
                f"{key:34} {m:7} {s['final_score']:+8.3f} "
                f"[{s['final_min']:+.3f}, {s['final_max']:+.3f}] {s['online_mean']:+8.3f} "
                f"{s['seconds']:6.1f}"
            )
        print(f"{'':34} {'start':7} {row['start_score']:+8.3f}")
        w = row["winner_vs_plain"]
        print(f"{'':34} winner vs plain: {w['wins']} wins, {w['losses']} losses of {w['seeds']}")
    print(f"total {total:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "tuning_topologies.json"
    config = {"seeds": seeds, "windows": windows, "window_s": window_s}
    out.write_text(json.dumps({"config": config, "summary": summary, "runs": runs}, indent=1))
    print(f"wrote {out}")
    return 0


def _name(example: str) -> str:
    doc = yaml.safe_load((ROOT / "examples" / f"{example}.yaml").read_text())
    return str(doc["metadata"]["name"])


if __name__ == "__main__":
    raise SystemExit(main())
