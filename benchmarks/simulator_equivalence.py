"""The tuning benchmark's world on the general simulator against the former engine.

Run from the repository root::

    python benchmarks/simulator_equivalence.py            # full run (a few minutes)
    python benchmarks/simulator_equivalence.py --quick    # smoke test

``upir.tuning.simulated.SimulatedWorkload`` (what ``upir tune --simulate`` and
``benchmarks/tuning.py`` run) used the reference workload's own model
(``upir.simulator.Simulator``, loaded here from the git history by
``benchmarks/old_engine.py``); it now runs the general simulator. This script
evaluates one fixed set of configurations of ``benchmarks/tuning_upir.yaml``
(the starting one and ``--configs`` drawn uniformly from the tunable domains)
at every load of the tuning scenarios (``benchmarks/tuning_support.SCENARIOS``:
120, 210 and 300 req/s; 120 and 300 req/s with 2 CPU cores per worker
replica), each for ``--windows`` windows of 10 s from a fresh simulator, over
``--seeds`` seeds, on:

- ``general``: the general simulator as ``SimulatedWorkload`` runs it;
- ``former``: the former engine, same seeds;
- ``former_b``: the former engine with other seeds: the noise floor (how far
  two runs of the same model differ).

Then, per load and seed, one running simulator per engine gets the
configurations in a random order, one window each (as a tuner changes
parameters between windows: work in flight carries over, scale-downs
included), compared window by window.

It compares the per-window metrics the tuning score uses (p99 latency,
throughput, error rate, cost; means over windows and seeds per configuration
and load) and the ``TuningObjective`` score of each scenario (baseline: the
starting configuration, per engine, as ``benchmarks/tuning.py`` scores), and
times every simulated window (wall time per window, both engines interleaved).
Prints a summary and writes ``benchmarks/results/simulator_equivalence.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import old_engine
from tuning_support import ROOT, SCENARIOS, cores_of, quiet

from upir.core import UPIR
from upir.simulator import LoadProfile
from upir.tuning.objective import TuningObjective
from upir.tuning.simulated import SimulatedWorkload, metrics_of

RESULTS = ROOT / "benchmarks" / "results" / "simulator_equivalence.json"
WINDOW_S = 10.0
METRICS = ("latency_ms", "throughput_rps", "error_rate", "cost")
ENGINES = ("general", "former", "former_b")
Case = tuple[float, int | None]  # (req/s, cores per worker replica)


def configurations(upir: UPIR, n: int, seed: int) -> list[dict[str, Fraction]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, Fraction]] = [dict(upir.tunable_values())]
    for _ in range(n):
        pick: dict[str, Fraction] = {}
        for d in upir.parameters:
            step = d.step or Fraction(1)
            k = int((d.max - d.min) / step)
            pick[d.name] = d.min + step * int(rng.integers(0, k + 1))
        out.append(pick)
    return out


def cases() -> list[Case]:
    seen: dict[Case, None] = {}
    for sc in SCENARIOS:
        loads = (sc.rps, sc.peak_rps) if sc.profile == "shift" else (sc.rps,)
        for rps in loads:
            seen[(rps, sc.cores)] = None
    return list(seen)


def run_former(
    former: Any, upir: UPIR, values: Mapping[str, Fraction], case: Case, seed: int, windows: int
) -> tuple[list[dict[str, float]], list[float]]:
    rps, cores = case
    keys = set(former.UPIR_KEYS.values())
    all_values = {k: float(v) for k, v in upir.with_params(values).param_values().items()}
    params = former.WorkloadParams.from_mapping({k: v for k, v in all_values.items() if k in keys})
    service = None if cores is None else former.ServiceModel(cores=cores)
    sim = former.Simulator(params, former.LoadProfile.steady(rps), service, seed)
    out, times = [], []
    for _ in range(windows):
        t = time.perf_counter()
        m = sim.run_window(WINDOW_S, params)
        times.append(time.perf_counter() - t)
        out.append(metrics_of(m))
    return out, times


def run_general(
    upir: UPIR, values: Mapping[str, Fraction], case: Case, seed: int, windows: int
) -> tuple[list[dict[str, float]], list[float]]:
    rps, cores = case
    wl = SimulatedWorkload(
        upir, LoadProfile.steady(rps), cores=cores_of(cores), seed=seed, window_s=WINDOW_S
    )
    out, times = [], []
    for _ in range(windows):
        t = time.perf_counter()
        out.append(wl.run(values))
        times.append(time.perf_counter() - t)
    return out, times


def trajectory(
    former: Any,
    upir: UPIR,
    configs: list[dict[str, Fraction]],
    case: Case,
    seed: int,
    order: list[int],
) -> dict[str, list[dict[str, float]]]:
    """One simulator per engine kept across windows, applying ``configs[i]`` for
    ``i`` in ``order`` one window each, as a tuner moves between windows: work
    in flight carries over every change (scale-downs included)."""
    rps, cores = case
    wl = SimulatedWorkload(
        upir, LoadProfile.steady(rps), cores=cores_of(cores), seed=seed, window_s=WINDOW_S
    )
    keys = set(former.UPIR_KEYS.values())

    def params_of(values: Mapping[str, Fraction]) -> Any:
        all_values = {k: float(v) for k, v in upir.with_params(values).param_values().items()}
        return former.WorkloadParams.from_mapping(
            {k: v for k, v in all_values.items() if k in keys}
        )

    service = None if cores is None else former.ServiceModel(cores=cores)
    sims = {
        "former": former.Simulator(
            params_of(configs[order[0]]), former.LoadProfile.steady(rps), service, seed
        ),
        "former_b": former.Simulator(
            params_of(configs[order[0]]), former.LoadProfile.steady(rps), service, seed + 1000
        ),
    }
    out: dict[str, list[dict[str, float]]] = {e: [] for e in ENGINES}
    for i in order:
        out["general"].append(wl.run(configs[i]))
        for e, sim in sims.items():
            out[e].append(metrics_of(sim.run_window(WINDOW_S, params_of(configs[i]))))
    return out


def mean_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}


def spearman(a: list[float], b: list[float]) -> float:
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def stats(xs: list[float]) -> dict[str, float]:
    arr = np.asarray(xs)
    return {
        "median": round(float(np.median(arr)), 4),
        "p90": round(float(np.percentile(arr, 90)), 4),
        "max": round(float(arr.max()), 4),
    }


def compare(rows: list[dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    """How far engine ``a`` is from ``b`` over every (configuration, load)."""
    out: dict[str, Any] = {}
    for key in ("latency_ms", "throughput_rps"):
        rel = [abs(r[a][key] - r[b][key]) / max(abs(r[b][key]), 1e-9) for r in rows]
        signed = [(r[a][key] - r[b][key]) / max(abs(r[b][key]), 1e-9) for r in rows]
        out[key] = {
            "rel_diff": stats(rel),
            "within_10pct": sum(x <= 0.10 for x in rel),
            "mean_signed_rel_diff": round(statistics.fmean(signed), 4),
        }
    err = [abs(r[a]["error_rate"] - r[b]["error_rate"]) for r in rows]
    out["error_rate"] = {
        "abs_diff": stats(err),
        "within_0.02": sum(x <= 0.02 for x in err),
        "mean_signed_diff": round(
            statistics.fmean(r[a]["error_rate"] - r[b]["error_rate"] for r in rows), 5
        ),
    }
    out["cost"] = {"equal": sum(r[a]["cost"] == r[b]["cost"] for r in rows)}
    out["cases"] = len(rows)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", type=int, default=30, help="random configurations (+ the start)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--windows", type=int, default=3, help="10 s windows per evaluation")
    ap.add_argument("--seed", type=int, default=7, help="seed of the configuration draw")
    ap.add_argument("--quick", action="store_true", help="3 configurations, 1 seed, 2 windows")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.quick:
        args.configs, args.seeds, args.windows = 2, 1, 2
    quiet()
    former = old_engine.load()
    base_upir = SCENARIOS[0].upir()
    configs = configurations(base_upir, args.configs, args.seed)
    seeds = list(range(1, args.seeds + 1))
    other_seeds = [s + 1000 for s in seeds]
    rows: list[dict[str, Any]] = []
    wall: dict[str, dict[str, list[float]]] = {}
    t_start = time.perf_counter()
    for case in cases():
        label = f"{case[0]:g} req/s" + (f", {case[1]} cores" if case[1] else "")
        times = wall.setdefault(label, {e: [] for e in ENGINES[:2]})
        for i, values in enumerate(configs):
            runs: dict[str, list[dict[str, float]]] = {e: [] for e in ENGINES}
            for seed, other in zip(seeds, other_seeds, strict=True):
                # interleaved, so a change of load on the machine hits both alike
                g, tg = run_general(base_upir, values, case, seed, args.windows)
                f, tf = run_former(former, base_upir, values, case, seed, args.windows)
                fb, _ = run_former(former, base_upir, values, case, other, args.windows)
                runs["general"] += g
                runs["former"] += f
                runs["former_b"] += fb
                times["general"] += tg
                times["former"] += tf
            row: dict[str, Any] = {
                "config": i,
                "rps": case[0],
                "cores": case[1],
                **{e: mean_of(runs[e]) for e in ENGINES},
            }
            rows.append(row)
        print(f"{label}: done ({time.perf_counter() - t_start:.0f} s)", flush=True)

    # the TuningObjective score of each scenario, baseline = the starting
    # configuration on the same engine and load (as benchmarks/tuning.py scores)
    scores: dict[str, Any] = {}
    for sc in SCENARIOS:
        upir = sc.upir()
        loads = (sc.rps, sc.peak_rps) if sc.profile == "shift" else (sc.rps,)
        for rps in loads:
            sel = [r for r in rows if r["rps"] == rps and r["cores"] == sc.cores]
            per_engine: dict[str, list[float]] = {}
            for e in ENGINES:
                objective = TuningObjective(upir)
                objective.set_baseline(sel[0][e])
                per_engine[e] = [objective.score(r[e], configs[r["config"]]) for r in sel]
            for r, k in zip(sel, range(len(sel)), strict=True):
                r.setdefault("scores", {})[sc.name] = {e: per_engine[e][k] for e in ENGINES}
            best = {e: int(np.argmax(per_engine[e])) for e in ENGINES}
            scores[f"{sc.name} @ {rps:g} req/s"] = {
                "abs_diff_general_former": stats(
                    [
                        abs(x - y)
                        for x, y in zip(per_engine["general"], per_engine["former"], strict=True)
                    ]
                ),
                "abs_diff_former_b_former": stats(
                    [
                        abs(x - y)
                        for x, y in zip(per_engine["former_b"], per_engine["former"], strict=True)
                    ]
                ),
                "spearman_general_former": round(
                    spearman(per_engine["general"], per_engine["former"]), 4
                ),
                "spearman_former_b_former": round(
                    spearman(per_engine["former_b"], per_engine["former"]), 4
                ),
                "best_config": best,
                "former_score_of_general_best": round(per_engine["former"][best["general"]], 4),
                "former_best_score": round(per_engine["former"][best["former"]], 4),
            }

    timing = {
        label: {
            "general_ms_per_window": round(1000 * statistics.median(t["general"]), 2),
            "former_ms_per_window": round(1000 * statistics.median(t["former"]), 2),
            "ratio": round(statistics.median(t["general"]) / statistics.median(t["former"]), 2),
            "general_mean_ms": round(1000 * statistics.fmean(t["general"]), 2),
            "former_mean_ms": round(1000 * statistics.fmean(t["former"]), 2),
        }
        for label, t in wall.items()
    }
    all_g = [x for t in wall.values() for x in t["general"]]
    all_f = [x for t in wall.values() for x in t["former"]]
    timing["all"] = {
        "general_ms_per_window": round(1000 * statistics.median(all_g), 2),
        "former_ms_per_window": round(1000 * statistics.median(all_f), 2),
        "ratio": round(statistics.median(all_g) / statistics.median(all_f), 2),
        "general_mean_ms": round(1000 * statistics.fmean(all_g), 2),
        "former_mean_ms": round(1000 * statistics.fmean(all_f), 2),
        "mean_ratio": round(statistics.fmean(all_g) / statistics.fmean(all_f), 2),
    }
    # trajectories: parameters change every window on a running simulator
    steps: list[dict[str, Any]] = []
    rng = np.random.default_rng(args.seed + 1)
    for case in cases():
        for seed in seeds:
            order = [int(x) for x in rng.permutation(len(configs))]
            got = trajectory(former, base_upir, configs, case, seed, order)
            for k, i in enumerate(order):
                steps.append(
                    {"rps": case[0], "cores": case[1], "config": i, "window": k}
                    | {e: got[e][k] for e in ENGINES}
                )
    print(f"trajectories: done ({time.perf_counter() - t_start:.0f} s)", flush=True)

    summary = {
        "general_vs_former": compare(rows, "general", "former"),
        "noise_former_b_vs_former": compare(rows, "former_b", "former"),
        "trajectory_windows_general_vs_former": compare(steps, "general", "former"),
        "trajectory_windows_noise_former_b_vs_former": compare(steps, "former_b", "former"),
        "scores": scores,
        "wall_time_per_window": timing,
    }
    print(json.dumps(summary, indent=1))
    out = {
        "command": "python benchmarks/simulator_equivalence.py"
        + (" --quick" if args.quick else ""),
        "configs": len(configs),
        "seeds": seeds,
        "other_seeds": other_seeds,
        "windows": args.windows,
        "window_s": WINDOW_S,
        "summary": summary,
        "configurations": [{k: str(v) for k, v in c.items()} for c in configs],
        "rows": rows,
        "trajectory_windows": steps,
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=lambda x: None) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
