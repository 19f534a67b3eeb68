"""Tuning benchmark: guarded PPO against the tuners a user would pick instead.

Run from the repository root::

    python benchmarks/tuning.py              # full run (several minutes on 2 cores)
    python benchmarks/tuning.py --quick      # tiny budgets: a smoke test (tests use it)

Writes ``benchmarks/results/tuning.json`` and ``benchmarks/results/tuning.png``
and prints the figures as ratios.

The system is the simulated reference workload (``upir.simulator.GraphSimulator``
running it as the calibrated instance, ``upir.simulator.reference``; no CPU
contention, 10 s windows) described by ``benchmarks/tuning_upir.yaml``: nine
tunable parameters, a proved but conservative starting point ("defaults"), and
the spec's objective ``{latency_ms: 1, throughput_rps: 1, error_rate: 10,
cost: 0.5}`` scored by :class:`upir.tuning.objective.TuningObjective` (0 = the
defaults, higher is better; every method is scored by the same function).

Scenarios: ``steady`` (210 req/s), ``shift`` (120 req/s, then 300 req/s from
the middle of the run), ``tight`` (210 req/s, latency bound 300 ms instead of
500 ms under model 2, whose p99 bound counts the wait for a slot: a smaller
proved region and a stricter penalty), ``shift_cpu`` (the
shift, with workers of 2 CPUs each: the only one whose optimum moves with the load).

Methods, each with the same budget of decision windows and the same seeds
(the simulator sees the same arrivals for every method):

- ``defaults``: the starting parameters, unchanged;
- ``random``: a uniformly random configuration of the domains every window;
- ``optuna_tpe``: Optuna's TPE sampler, one trial per window (ask, apply, tell
  the window's score), the starting parameters enqueued as the first trial;
- ``optuna_guarded``: the same behind the :class:`Guardrail`: a trial the
  guardrail does not prove is told to Optuna as failed and never applied, and
  up to 2 trials are asked per window (as for the guarded learner); when
  neither is proved the configuration in force stays;
- ``optuna_guarded_step``: the same under the operator's step limit: each
  parameter of a trial is clamped to within ``maxStepFraction`` of the value in
  force (the learner's own bound), and Optuna is told the score at the clamped
  values; what a user would get with Optuna in the learner's place;
- ``ppo``: :class:`ArchitectureLearner`, every proposal applied unchecked;
- ``ppo_guarded``: the same learner behind the :class:`Guardrail` (Z3);
- ``ppo_guarded_rollback``: the same with the rollback rule
  (:class:`upir.tuning.settings.RollbackSettings`), the operator's return to the
  best measured configuration on a regression;
- ``ppo_guarded_rollback_model``: the same learning also from imagined
  rollouts through a model of the score, given the offered load as context,
  with uniform choice mixed into the imagined moves (``LearnerSettings.model``
  with its default ``explore``; :mod:`upir.tuning.imagination`), and starting afresh
  when the offered load jumps (``LearnerSettings.restart``;
  :mod:`upir.tuning.restart`): ``TuningSettings()``'s default wherever a load
  is observed (``TuningSettings.model`` None).

Every PPO method decides each window through :func:`upir.tuning.step.step`, the
step the operator runs (:func:`upir.tuning.simulated.tune` drives it).

Every method's final configuration is the one of its best window among the
windows at the load the run ends with (every window; for ``shift`` those after
the shift): Optuna's best trial there; for the PPO methods the configuration in
force at the end of the run is reported too ("end"). "spec" is the best such
window whose configuration the guardrail proves (what a user held to the spec
could keep; the defaults when there is none).

The limit: an exhaustive grid over the five parameters that move the objective
most (batch size, flush, worker concurrency and replicas, gateway replicas:
1440 configurations, the other four at their defaults), each screened on one
window, then coordinate refinement over all nine parameters from the 8 best.
The proved limit: the same, restricted to configurations the guardrail proves
(refinement from the 8 best-screened proved grid points, through proved
neighbours only): what a tuner that never leaves the spec can reach.

Per method: the final configuration's score against the limit and the proved
limit, its p99 latency and throughput against the defaults (each evaluated for 3
windows on a fresh simulator with one fixed seed, at the load the run ends
with); the first window from which the 3-window moving average of the online
score reaches 95% of each limit (for ``shift``: counted from the shift); the
mean online score over the run (what exploring cost in production); the
configurations applied that violate the spec, and the final configurations that
do, according to :class:`upir.verification.reference_audit.IndependentChecker`
(reference equations, exact arithmetic, enumerated environments; no Z3).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from progress import Progress, tracked_map
from tuning_markdown import pct as _pct
from tuning_markdown import reach as _fmt_reach
from tuning_samplers import sampler
from tuning_support import (
    EVAL_SEED,
    EVAL_WINDOWS,
    HEAD_TO_HEAD,
    METHODS,
    RESULTS,
    SCENARIOS,
    Key,
    Sims,
    audit,
    final_score_of,
    guardrail_timing,
    key_of,
    limit,
    paired,
    quiet,
    values_of,
)

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.tuning.objective import TuningObjective
from upir.tuning.report import evaluate
from upir.tuning.settings import RollbackSettings, TuningSettings
from upir.tuning.simulated import LOAD_METRIC, SimulatedWorkload, params_after, tune
from upir.tuning.space import ParameterSpace
from upir.tuning.step import new_learner
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

# -- one run of one method ----------------------------------------------------------


def run_method(job: tuple[str, str, int, dict[str, Any]]) -> dict[str, Any]:
    quiet()
    sc_name, method, seed, cfg = job
    sc = next(s for s in SCENARIOS if s.name == sc_name)
    upir = sc.upir()
    windows, window_s = cfg["windows"], cfg["window_s"]
    wl = SimulatedWorkload(
        upir, sc.profile_for(windows, window_s), cores=sc.sim_cores(), seed=seed, window_s=window_s
    )
    objective = TuningObjective(upir)
    objective.set_baseline(
        evaluate(
            upir,
            upir.tunable_values(),
            sc.final_load(),
            seed=EVAL_SEED,
            windows=cfg["eval_windows"],
            window_s=window_s,
            cores=sc.sim_cores(),
        )
    )
    start = time.perf_counter()
    applied: list[dict[str, Fraction]] = []
    scores: list[float] = []
    extra: dict[str, Any] = {}
    # every run has a guardrail: the guarded methods check with it, and for every
    # method it tells which applied configurations a tuner held to the spec could keep
    guard = Guardrail(Verifier(SolverSettings(), ProofCache(8192)), upir)
    if method.startswith("ppo"):
        guarded = method.startswith("ppo_guarded")
        # every PPO method runs the operator's step (upir.tuning.step) through
        # simenv.tune; the last one is TuningSettings' default: the winner,
        # since the simulator supplies its offered load
        settings = TuningSettings(
            model=None if method.endswith("_model") else False,
            seed=seed,
            rollback=RollbackSettings(enabled=method.startswith("ppo_guarded_rollback")),
        )
        learner = new_learner(
            upir, settings, load=(LOAD_METRIC,), guardrail=guard if guarded else None
        )
        learner.objective.set_baseline(objective.baseline or {})
        records = tune(
            learner, wl, windows, guardrail=guard if guarded else None, settings=settings
        )
        applied = [r.params for r in records]
        scores = [objective.score(r.metrics, r.params) for r in records]
        end = params_after(records[-1])
        end_score, end_metrics = final_score_of(sc, upir, end, cfg)
        extra["end"] = {
            "final": key_of(end),
            "final_score": end_score,
            "final_metrics": end_metrics,
        }
        extra["rejected"] = sum(1 for r in records for d in r.decisions if not d.proved)
        extra["accepted"] = sum(1 for r in records if r.outcome in ("accepted", "applied"))
        extra["rolled_back"] = sum(1 for r in records if r.outcome == "rolled back")
    else:
        current = upir.tunable_values()
        sample = sampler(method, upir, seed)
        rejected = 0
        guarded = method.startswith("optuna_guarded")
        for _ in range(windows):
            values = current
            for _attempt in range(2 if guarded else 1):
                trial, candidate = sample.ask(current)
                if not guarded or guard.check(candidate).proved:
                    values = candidate
                    break
                sample.reject(trial)  # never applied: Optuna learns it failed
                trial = None
                rejected += 1
            m = wl.run(values)
            s = objective.score(m, values)
            if trial is not None:
                sample.tell(trial, s)
            applied.append(values)
            scores.append(s)
            current = values
        if guarded:
            extra["rejected"] = rejected
    if method.startswith(("ppo_guarded", "optuna_guarded")):
        st = guard.stats()
        extra["guardrail"] = {
            "checks": st.checks,
            "median_ms": st.median_ms,
            "median_fresh_ms": st.median_fresh_ms,
            "cached": st.cached,
            "screened": st.screened,
            "screen_ms": st.screen_ms,
        }
    # the final configuration: the best window's, among the windows at the load
    # the run ends with (after a shift, windows under the old load say nothing
    # about the new one), and the best such window whose configuration the
    # guardrail proves (what a tuner held to the spec could keep)
    first = windows // 2 if sc.profile == "shift" else 0
    order = sorted(range(first, windows), key=lambda i: scores[i], reverse=True)
    final = applied[order[0]] if method != "defaults" else upir.tunable_values()
    in_spec = next((applied[i] for i in order if guard.check(applied[i]).proved), None)
    if in_spec is None or method == "defaults":
        in_spec = upir.tunable_values()  # nothing proved was found: keep what runs
    if key_of(in_spec) == key_of(final):
        extra["spec_score"], extra["spec_metrics"] = None, None
    else:
        extra["spec_score"], extra["spec_metrics"] = final_score_of(sc, upir, in_spec, cfg)
    extra["spec_final"] = key_of(in_spec)
    extra["step_breaches"] = _step_breaches(upir, applied)
    elapsed = time.perf_counter() - start
    final_score, final_metrics = final_score_of(sc, upir, final, cfg)
    return {
        "scenario": sc_name,
        "method": method,
        "seed": seed,
        "seconds": elapsed,
        "scores": scores,
        "applied": [key_of(a) for a in applied],
        "final": key_of(final),
        "final_score": final_score,
        "final_metrics": final_metrics,
        **extra,
    }


def _step_breaches(upir: UPIR, applied: list[dict[str, Fraction]]) -> int:
    """Changes between consecutive windows that move some parameter further than
    the spec's ``maxStepFraction`` allows (``ParamAxis.delta``: that share of the
    value, at least one grid unit): the operator would refuse to apply them."""
    space = ParameterSpace(upir)
    return sum(
        1
        for before, after in itertools.pairwise(applied)
        if any(
            abs(after[a.name] - before[a.name]) > a.delta(before[a.name], space.fraction)
            for a in space.axes
        )
    )


def _spec_score(r: dict[str, Any]) -> float:
    """The run's best in-spec configuration's score (its final's when that one is proved)."""
    return float(r["final_score"] if r["spec_score"] is None else r["spec_score"])


# -- aggregation and output ---------------------------------------------------------------------


def _moving(xs: list[float], n: int = 3) -> list[float]:
    return [statistics.fmean(xs[max(0, i - n + 1) : i + 1]) for i in range(len(xs))]


def _reach(scores: list[float], target: float) -> int | None:
    """First window (1-based) whose 3-window moving average reaches ``target``."""
    if target <= 0:
        return None
    return next((i + 1 for i, x in enumerate(_moving(scores)) if x >= target), None)


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def summarise(
    runs: list[dict[str, Any]],
    limits: dict[str, dict[str, Any]],
    unsafe: dict[tuple[str, Key], list[str]],
    cfg: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sc in SCENARIOS:
        lim, plim = limits[sc.name]["score"], limits[sc.name]["proved_score"]
        base = next(r for r in runs if r["scenario"] == sc.name and r["method"] == "defaults")
        d99, dtp = base["final_metrics"]["latency_ms"], base["final_metrics"]["throughput_rps"]
        start = cfg["windows"] // 2 if sc.profile == "shift" else 0
        methods: dict[str, Any] = {}
        for method in METHODS:
            rs = [r for r in runs if r["scenario"] == sc.name and r["method"] == method]
            finals = [r["final_metrics"] for r in rs]
            ends = [r["end"] for r in rs if "end" in r]
            methods[method] = {
                "seeds": len(rs),
                "final_score": statistics.fmean(r["final_score"] for r in rs),
                "share_of_limit": statistics.fmean(r["final_score"] / lim for r in rs),
                "share_of_proved_limit": statistics.fmean(r["final_score"] / plim for r in rs),
                "share_of_proved_limit_min": min(r["final_score"] / plim for r in rs),
                "share_of_proved_limit_max": max(r["final_score"] / plim for r in rs),
                "spec_share_of_proved_limit": statistics.fmean(_spec_score(r) / plim for r in rs),
                "spec_share_of_proved_limit_min": min(_spec_score(r) / plim for r in rs),
                "spec_share_of_proved_limit_max": max(_spec_score(r) / plim for r in rs),
                "spec_finals_unsafe": sum(1 for r in rs if unsafe[(sc.name, r["spec_final"])]),
                "end_share_of_proved_limit": _mean([e["final_score"] / plim for e in ends]),
                "p99_reduction": statistics.fmean((d99 - m["latency_ms"]) / d99 for m in finals),
                "throughput_gain": statistics.fmean(
                    (m["throughput_rps"] - dtp) / dtp for m in finals
                ),
                "p99_reduction_end": _mean(
                    [(d99 - e["final_metrics"]["latency_ms"]) / d99 for e in ends]
                ),
                "final_p99_ms": statistics.fmean(m["latency_ms"] for m in finals),
                "final_cost": statistics.fmean(m["cost"] for m in finals),
                "final_error_rate": statistics.fmean(m["error_rate"] for m in finals),
                "final_configs_unsafe": sum(1 for r in rs if unsafe[(sc.name, r["final"])]),
                "windows_to_95pct_of_limit": [_reach(r["scores"][start:], 0.95 * lim) for r in rs],
                "windows_to_95pct_of_proved_limit": [
                    _reach(r["scores"][start:], 0.95 * plim) for r in rs
                ],
                "mean_online_score": statistics.fmean(statistics.fmean(r["scores"]) for r in rs),
                "unsafe_configs_applied": len(
                    {k for r in rs for k in set(r["applied"]) if unsafe[(sc.name, k)]}
                ),
                "distinct_configs_applied": len({k for r in rs for k in set(r["applied"])}),
                "windows_in_unsafe_configs": sum(
                    1 for r in rs for k in r["applied"] if unsafe[(sc.name, k)]
                ),
                "windows": sum(len(r["applied"]) for r in rs),
                "step_breaches": sum(r["step_breaches"] for r in rs),
                "seconds": statistics.fmean(r["seconds"] for r in rs),
            }
            for extra in ("accepted", "rejected", "rolled_back"):
                if rs and extra in rs[0]:
                    methods[method][extra] = sum(r[extra] for r in rs)
            if rs and "guardrail" in rs[0]:
                g = [r["guardrail"] for r in rs]
                methods[method]["guardrail_median_ms"] = statistics.median(
                    x["median_ms"] for x in g
                )
                methods[method]["guardrail_median_fresh_ms"] = statistics.median(
                    x["median_fresh_ms"] for x in g
                )
                methods[method]["guardrail_memo_hits"] = sum(x["cached"] for x in g)
                methods[method]["guardrail_checks"] = sum(x["checks"] for x in g)
                methods[method]["screening_ms_per_window"] = sum(
                    x.get("screen_ms", 0.0) for x in g
                ) / sum(len(r["applied"]) for r in rs)
        by_seed = {
            m: {
                r["seed"]: _spec_score(r) / plim
                for r in runs
                if r["scenario"] == sc.name and r["method"] == m
            }
            for m in METHODS
        }
        head_to_head = {
            f"{a} vs {b}": paired(
                [by_seed[a][k] for k in sorted(by_seed[a])],
                [by_seed[b][k] for k in sorted(by_seed[a])],
            )
            for a, b in HEAD_TO_HEAD
            if by_seed[a] and set(by_seed[a]) == set(by_seed[b])
        }
        L = limits[sc.name]
        out[sc.name] = {
            "load": {"rps": sc.rps, "peak_rps": sc.peak_rps, "profile": sc.profile},
            # the bound the scenario's spec proves (the YAML's, unless overridden)
            "latency_max_ms": float(
                next(c.max for c in sc.upir().specification.constraints if c.key == "latency_ms")
            ),
            "worker_cores": sc.cores,
            "defaults": {
                "p99_ms": d99,
                "throughput_rps": dtp,
                "cost": base["final_metrics"]["cost"],
            },
            "limit": {
                "score": lim,
                "config": L["best"],
                "metrics": L.get("metrics"),
                "unsafe": unsafe[(sc.name, L["key"])],
                "grid_points": L["grid_points"],
                "evaluated": L["evaluated"],
            },
            "proved_limit": {
                "score": plim,
                "config": L["proved_best"],
                "metrics": L.get("proved_metrics"),
                "unsafe": unsafe[(sc.name, L["proved_key"])],
                "proved_scanned": L["proved_scanned"],
                "proved_found": L["proved_found"],
                "before_shift": L["before_shift"],
            },
            "methods": methods,
            "head_to_head": head_to_head,
        }
    return out


def print_summary(summary: dict[str, Any]) -> None:
    for name, s in summary.items():
        lim, plim = s["limit"], s["proved_limit"]
        print(
            f"\n== {name}: load {s['load']['rps']:g}->{s['load']['peak_rps']:g} req/s, "
            f"{s['worker_cores'] or 'unlimited'} CPUs per worker replica, latency "
            f"bound {s['latency_max_ms']:g} ms; defaults p99 {s['defaults']['p99_ms']:.1f} ms, "
            f"cost {s['defaults']['cost']:g}\n   limit score {lim['score']:.3f} (unsafe: "
            f"{', '.join(lim['unsafe']) or 'no'}); proved limit {plim['score']:.3f} "
            f"(from the {plim['proved_found']} best proved of the {plim['proved_scanned']} "
            f"best-screened of {lim['grid_points']} grid points)"
        )
        if plim.get("before_shift"):
            b = plim["before_shift"]
            print(
                f"   the proved limit at {b['rps']:g} req/s (before the shift), kept: "
                f"{b['share_of_proved_limit']:.1%} of the proved limit after it"
            )
        print(
            f"{'method':20s} {'lim':>5s} {'proved':>6s} {'[min,max]':>11s} {'spec':>5s} {'end':>5s} "
            f"{'p99 red':>7s} {'tp gain':>7s} {'95%lim':>7s} {'95%prv':>7s} {'online':>7s} "
            f"{'unsafe cfgs':>11s} {'unsafe win':>10s} {'final unsafe':>12s} {'step breaches':>13s}"
        )
        for m, r in s["methods"].items():
            rng = f"[{r['share_of_proved_limit_min']:.2f},{r['share_of_proved_limit_max']:.2f}]"
            print(
                f"{m:20s} {_pct(r['share_of_limit']):>5s} {_pct(r['share_of_proved_limit']):>6s} "
                f"{rng:>11s} {_pct(r['spec_share_of_proved_limit']):>5s} "
                f"{_pct(r['end_share_of_proved_limit']):>5s} "
                f"{_pct(r['p99_reduction']):>7s} {r['throughput_gain'] * 100:6.1f}% "
                f"{_fmt_reach(r['windows_to_95pct_of_limit']):>7s} "
                f"{_fmt_reach(r['windows_to_95pct_of_proved_limit']):>7s} "
                f"{r['mean_online_score']:7.3f} "
                f"{r['unsafe_configs_applied']:>5d}/{r['distinct_configs_applied']:<5d} "
                f"{r['windows_in_unsafe_configs']:>4d}/{r['windows']:<5d} "
                f"{r['final_configs_unsafe']:>5d}/{r['seeds']:<6d} "
                f"{r['step_breaches']:>6d}/{r['windows'] - r['seeds']:<6d}"
            )
        for pair, h in s["head_to_head"].items():
            print(
                f"   {pair}: best in-spec final, share of the proved limit, paired by seed: "
                f"mean difference {h['mean_diff']:+.3f} (95% CI {h['ci95'][0]:+.3f} .. "
                f"{h['ci95'][1]:+.3f}); wins {h['wins']}, ties {h['ties']}, losses "
                f"{h['losses']} of {h['seeds']}"
            )


def plot(runs: list[dict[str, Any]], limits: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCENARIOS), figsize=(15, 4.8), sharey=False)
    for ax, sc in zip(axes, SCENARIOS, strict=True):
        for method in METHODS:
            rs = [r["scores"] for r in runs if r["scenario"] == sc.name and r["method"] == method]
            if not rs:
                continue
            mean = [statistics.fmean(col) for col in zip(*rs, strict=True)]
            ax.plot(_moving(mean, 5), label=method, linewidth=1.3)
        ax.axhline(
            limits[sc.name]["score"], color="k", linestyle="--", linewidth=0.8, label="limit"
        )
        ax.axhline(
            limits[sc.name]["proved_score"],
            color="tab:green",
            linestyle=":",
            linewidth=0.9,
            label="proved limit",
        )
        ax.set_title(f"{sc.name}", fontsize=10)
        ax.set_xlabel("decision window")
        ax.set_ylabel("online score (5-window mean over seeds)", fontsize=8)
        low = min(-1.0, limits[sc.name]["score"] - 2.0)
        ax.set_ylim(bottom=max(ax.get_ylim()[0], low))
    # one legend below the panels: inside a panel it hid that panel's curves
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=6, frameon=False)
    fig.tight_layout(rect=(0.0, 0.09, 1.0, 1.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    ap.add_argument(
        "--windows", type=int, default=None, help="decision windows per run (default 100)"
    )
    ap.add_argument(
        "--seeds", type=int, default=None, help="seeds per scenario and method (default 5)"
    )
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first seed (default 0; the learner's settings were chosen on seeds 10-29)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = ap.parse_args(argv)
    if args.first_seed < 0 or (args.seeds is not None and args.seeds < 1):
        ap.error("--first-seed must be >= 0 and --seeds >= 1")
    quiet()
    q = args.quick
    cfg: dict[str, Any] = {
        "quick": q,
        "windows": args.windows or (8 if q else 100),
        "seeds": args.seeds or (1 if q else 5),
        "first_seed": args.first_seed,
        "window_s": 5.0 if q else 10.0,
        "eval_windows": 1 if q else EVAL_WINDOWS,
        "refine_from": 2 if q else 8,
        "refine_rounds": 1 if q else 6,
        "timing_steps": 10 if q else 300,
    }
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(max(1, args.jobs)) as pool:
        jobs = [
            (sc.name, m, seed, cfg)
            for sc in SCENARIOS
            for seed in range(args.first_seed, args.first_seed + cfg["seeds"])
            for m in METHODS
        ]
        runs = tracked_map(pool, run_method, jobs, "runs")
        t_runs = time.perf_counter() - t0
        sims = Sims(pool, cfg)
        searched = Progress("limits (grid + refinement), scenarios", len(SCENARIOS))
        limits = {}
        for sc in SCENARIOS:
            limits[sc.name] = limit(sc, cfg, sims)
            searched.advance()
        t_limits = time.perf_counter() - t0 - t_runs
        for sc in SCENARIOS:
            for key, field in (("key", "metrics"), ("proved_key", "proved_metrics")):
                _, limits[sc.name][field] = final_score_of(
                    sc, sc.upir(), values_of(limits[sc.name][key]), cfg
                )
        extra_runs = [
            {
                "scenario": sc.name,
                "applied": [limits[sc.name]["key"], limits[sc.name]["proved_key"]]
                + [r["final"] for r in runs if r["scenario"] == sc.name]
                + [r["spec_final"] for r in runs if r["scenario"] == sc.name],
            }
            for sc in SCENARIOS
        ]
        unsafe = audit(runs + extra_runs, pool)
    t_audit = time.perf_counter() - t0 - t_runs - t_limits
    timing = guardrail_timing(cfg["timing_steps"])
    summary = summarise(runs, limits, unsafe, cfg)
    command = (
        "python benchmarks/tuning.py"
        + (" --quick" if q else "")
        + (f" --windows {args.windows}" if args.windows else "")
        + (f" --seeds {args.seeds}" if args.seeds else "")
        + (f" --first-seed {args.first_seed}" if args.first_seed else "")
    )
    result = {
        "command": command,
        "config": cfg,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "jobs": args.jobs},
        "seconds": {
            "runs": round(t_runs, 1),
            "limits": round(t_limits, 1),
            "audit": round(t_audit, 1),
            "total": round(time.perf_counter() - t0, 1),
        },
        "guardrail_timing": timing,
        "scenarios": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tuning.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    plot(runs, limits, args.out / "tuning.png")
    print_summary(summary)
    for name, t in timing.items():
        print(
            f"guardrail, {name} spec ({t['parameters']} parameters): median {t['median_ms']:.2f} ms "
            f"per check over {t['checks']} candidates (not memoised: median "
            f"{t['median_fresh_ms']:.2f} ms; memo hits {t['memo_hits']}; p90 {t['p90_ms']:.1f} ms); "
            f"verdicts {t['verdicts']}"
        )
    print(
        f"total {result['seconds']['total']:.0f} s (runs {t_runs:.0f}, limits {t_limits:.0f}, audit {t_audit:.0f}); "
        f"wrote {args.out / 'tuning.json'} and {args.out / 'tuning.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
