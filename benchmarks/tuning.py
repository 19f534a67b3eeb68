"""Tuning benchmark: guarded PPO against the tuners a user would pick instead.

Run from the repository root::

    python benchmarks/tuning.py              # full run (several minutes on 2 cores)
    python benchmarks/tuning.py --quick      # tiny budgets: a smoke test (tests use it)

Writes ``benchmarks/results/tuning.json`` and ``benchmarks/results/tuning.png``
and prints the figures as ratios.

The system is the simulated reference workload (``upir.simulator``, no CPU
contention, 10 s windows) described by ``benchmarks/tuning_upir.yaml``: nine
tunable parameters, a proved but conservative starting point ("defaults"), and
the spec's objective ``{latency_ms: 1, throughput_rps: 1, error_rate: 10,
cost: 0.5}`` scored by :class:`upir.learning.objective.TuningObjective` (0 = the
defaults, higher is better; every method is scored by the same function).

Scenarios: ``steady`` (210 req/s), ``shift`` (120 req/s, then 300 req/s from
the middle of the run), ``tight`` (210 req/s, latency bound 150 ms instead of
250 ms: a smaller proved region and a stricter penalty).

Methods, each with the same budget of decision windows and the same seeds
(the simulator sees the same arrivals for every method):

- ``defaults``: the starting parameters, unchanged;
- ``random``: a uniformly random configuration of the domains every window;
- ``optuna_tpe``: Optuna's TPE sampler, one trial per window (ask, apply, tell
  the window's score), the starting parameters enqueued as the first trial;
- ``ppo``: :class:`ArchitectureLearner`, every proposal applied unchecked;
- ``ppo_guarded``: the same learner behind the :class:`Guardrail` (Z3).

Every method's final configuration is the one of its best window (Optuna's
best trial); for the PPO methods the configuration in force at the end of the
run is reported too ("end").

The limit: an exhaustive grid over the five parameters that move the objective
most (batch size, flush, worker concurrency and replicas, gateway replicas:
1440 configurations, the other four at their defaults), then coordinate
refinement over all nine parameters from the best grid points.

Per method: the final configuration's score, p99 latency and throughput against
the defaults (each evaluated for 3 windows on a fresh simulator with one fixed
seed, at the load the run ends with); the share of the limit's improvement it
reaches; the first window from which the 3-window moving average of the
online score reaches 95% of the limit (for ``shift``: counted from the shift,
against the post-shift limit); the mean online score over the run (what
exploring cost in production); and the configurations applied that violate
the spec according to :class:`upir.learning.independent.IndependentChecker`
(reference equations, exact arithmetic, enumerated environments; no Z3).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from upir.core import UPIR  # noqa: E402
from upir.learning.actions import ParameterSpace  # noqa: E402
from upir.learning.guardrail import Guardrail  # noqa: E402
from upir.learning.independent import IndependentChecker  # noqa: E402
from upir.learning.learner import ArchitectureLearner  # noqa: E402
from upir.learning.objective import TuningObjective  # noqa: E402
from upir.learning.policy import DOWN, UP  # noqa: E402
from upir.learning.report import evaluate  # noqa: E402
from upir.learning.simenv import SimulatedWorkload, make_profile, params_after, tune  # noqa: E402
from upir.settings import SolverSettings  # noqa: E402
from upir.simulator import LoadProfile  # noqa: E402
from upir.verification import ProofCache, Verifier  # noqa: E402

SPEC = ROOT / "benchmarks" / "tuning_upir.yaml"
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("defaults", "random", "optuna_tpe", "ppo", "ppo_guarded")
EVAL_SEED = 424242
EVAL_WINDOWS = 3
GRID = {
    "batcher.batch_size": (1, 2, 4, 8, 16, 32),
    "batcher.flush_ms": (0, 5, 10, 20, 40),
    "worker.concurrency": (1, 2, 4, 8),
    "worker.replicas": (1, 2, 4, 6),
    "gateway.replicas": (1, 2, 4),
}
QUICK_GRID = {"batcher.batch_size": (1, 4, 16), "worker.replicas": (1, 4)}


@dataclass(frozen=True)
class Scenario:
    name: str
    rps: float
    peak_rps: float
    profile: str
    latency_max: float | None = None

    def upir(self) -> UPIR:
        doc = yaml.safe_load(SPEC.read_text())
        if self.latency_max is not None:
            doc["spec"]["specification"]["constraints"]["latency_ms"]["max"] = self.latency_max
        return UPIR.from_resource(doc)

    def profile_for(self, windows: int, window_s: float) -> LoadProfile:
        return make_profile(self.profile, self.rps, self.peak_rps, windows * window_s)

    def final_load(self) -> LoadProfile:
        return LoadProfile.steady(self.peak_rps if self.profile == "shift" else self.rps)


SCENARIOS = (
    Scenario("steady", 210.0, 210.0, "steady"),
    Scenario("shift", 120.0, 300.0, "shift"),
    Scenario("tight", 210.0, 210.0, "steady", latency_max=150.0),
)


def _quiet() -> None:
    logging.getLogger("upir").setLevel(logging.ERROR)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import torch

    torch.set_num_threads(1)


def _key(values: Mapping[str, Fraction]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items()))


def _unkey(key: tuple[tuple[str, str], ...]) -> dict[str, Fraction]:
    return {k: Fraction(v) for k, v in key}


def _grid_values(d: Any) -> list[Fraction]:
    unit = d.step if d.step is not None else Fraction(1)
    n = int((d.max - d.min) / unit)
    return [d.min + unit * i for i in range(n + 1)]


def _score_of(
    sc: Scenario, upir: UPIR, values: Mapping[str, Fraction], cfg: dict[str, Any]
) -> tuple[float, dict[str, float]]:
    """Final-quality score of ``values``: 3 windows at the run's final load."""
    objective = TuningObjective(upir)
    base = evaluate(
        upir,
        upir.tunable_values(),
        sc.final_load(),
        seed=EVAL_SEED,
        windows=cfg["eval_windows"],
        window_s=cfg["window_s"],
    )
    objective.set_baseline(base)
    m = evaluate(
        upir,
        values,
        sc.final_load(),
        seed=EVAL_SEED,
        windows=cfg["eval_windows"],
        window_s=cfg["window_s"],
    )
    return objective.score(m, values), m


# -- one run of one method ----------------------------------------------------------


def run_method(job: tuple[str, str, int, dict[str, Any]]) -> dict[str, Any]:
    _quiet()
    sc_name, method, seed, cfg = job
    sc = next(s for s in SCENARIOS if s.name == sc_name)
    upir = sc.upir()
    windows, window_s = cfg["windows"], cfg["window_s"]
    wl = SimulatedWorkload(upir, sc.profile_for(windows, window_s), seed=seed, window_s=window_s)
    objective = TuningObjective(upir)
    objective.set_baseline(
        evaluate(
            upir,
            upir.tunable_values(),
            sc.final_load(),
            seed=EVAL_SEED,
            windows=cfg["eval_windows"],
            window_s=window_s,
        )
    )
    start = time.perf_counter()
    applied: list[dict[str, Fraction]] = []
    scores: list[float] = []
    extra: dict[str, Any] = {}
    if method in ("ppo", "ppo_guarded"):
        learner = ArchitectureLearner(upir, seed=seed)
        learner.objective.set_baseline(objective.baseline or {})
        guard = (
            Guardrail(Verifier(SolverSettings(), ProofCache(8192)), upir)
            if method == "ppo_guarded"
            else None
        )
        records = tune(learner, wl, windows, guardrail=guard)
        applied = [r.params for r in records]
        scores = [objective.score(r.metrics, r.params) for r in records]
        end = params_after(records[-1])
        end_score, end_metrics = _score_of(sc, upir, end, cfg)
        extra["end"] = {"final": _key(end), "final_score": end_score, "final_metrics": end_metrics}
        best_i = max(range(len(scores)), key=lambda i: scores[i])
        final = applied[best_i]
        extra["rejected"] = sum(1 for r in records for d in r.decisions if not d.proved)
        extra["accepted"] = sum(1 for r in records if r.outcome in ("accepted", "applied"))
        if guard is not None:
            st = guard.stats()
            extra["guardrail"] = {
                "checks": st.checks,
                "median_ms": st.median_ms,
                "median_fresh_ms": st.median_fresh_ms,
                "cached": st.cached,
            }
    else:
        current = upir.tunable_values()
        sample = _sampler(method, upir, seed)
        best: tuple[float, dict[str, Fraction]] = (-float("inf"), current)
        for _ in range(windows):
            trial, values = sample.ask(current)
            m = wl.run(values)
            s = objective.score(m, values)
            sample.tell(trial, s)
            applied.append(values)
            scores.append(s)
            if s > best[0]:
                best = (s, values)
            current = values
        final = upir.tunable_values() if method == "defaults" else best[1]
    elapsed = time.perf_counter() - start
    final_score, final_metrics = _score_of(sc, upir, final, cfg)
    return {
        "scenario": sc_name,
        "method": method,
        "seed": seed,
        "seconds": elapsed,
        "scores": scores,
        "applied": [_key(a) for a in applied],
        "final": _key(final),
        "final_score": final_score,
        "final_metrics": final_metrics,
        **extra,
    }


class _Fixed:
    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        return None, current

    def tell(self, trial: Any, score: float) -> None:
        pass


class _Random:
    def __init__(self, upir: UPIR, seed: int) -> None:
        self.rng = random.Random(seed)
        self.axes = {d.name: _grid_values(d) for d in upir.parameters}

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        return None, {k: self.rng.choice(v) for k, v in self.axes.items()}

    def tell(self, trial: Any, score: float) -> None:
        pass


class _Optuna:
    def __init__(self, upir: UPIR, seed: int) -> None:
        import optuna

        self.study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        self.upir = upir
        first: dict[str, Any] = {}
        for d, v in zip(upir.parameters, upir.tunable_values().values(), strict=True):
            if d.step is not None or d.integer:
                first[d.name + "#k"] = int((v - d.min) / (d.step if d.step is not None else 1))
            else:
                first[d.name] = float(v)
        self.study.enqueue_trial(first)  # a user would start from what runs today

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        trial = self.study.ask()
        out: dict[str, Fraction] = {}
        for d in self.upir.parameters:
            if d.step is not None or d.integer:
                unit = d.step if d.step is not None else Fraction(1)
                k = trial.suggest_int(d.name + "#k", 0, int((d.max - d.min) / unit))
                out[d.name] = d.min + unit * k
            else:
                out[d.name] = Fraction(
                    trial.suggest_float(d.name, float(d.min), float(d.max))
                ).limit_denominator(1000)
        return trial, out

    def tell(self, trial: Any, score: float) -> None:
        self.study.tell(trial, score)


def _sampler(method: str, upir: UPIR, seed: int) -> Any:
    if method == "defaults":
        return _Fixed()
    if method == "random":
        return _Random(upir, seed)
    if method == "optuna_tpe":
        return _Optuna(upir, seed)
    raise ValueError(method)


# -- the limit: exhaustive grid, then coordinate refinement ---------------------------


def _grid_eval(
    job: tuple[str, tuple[tuple[str, str], ...], dict[str, Any], int],
) -> tuple[tuple[tuple[str, str], ...], dict[str, float]]:
    _quiet()
    sc_name, key, cfg, windows = job
    sc = next(s for s in SCENARIOS if s.name == sc_name)
    upir = sc.upir()
    m = evaluate(
        upir,
        _unkey(key),
        sc.final_load(),
        seed=EVAL_SEED,
        windows=windows,
        window_s=cfg["window_s"],
    )
    return key, m


def limit(sc: Scenario, cfg: dict[str, Any], pool: Any) -> dict[str, Any]:
    """Best configuration found by the grid and refinement, scored like the finals."""
    upir = sc.upir()
    objective = TuningObjective(upir)
    base = evaluate(
        upir,
        upir.tunable_values(),
        sc.final_load(),
        seed=EVAL_SEED,
        windows=cfg["eval_windows"],
        window_s=cfg["window_s"],
    )
    objective.set_baseline(base)
    defaults = upir.tunable_values()
    grid = QUICK_GRID if cfg["quick"] else GRID
    configs = []
    for combo in itertools.product(*grid.values()):
        values = dict(defaults)
        values.update({k: Fraction(v) for k, v in zip(grid, combo, strict=True)})
        configs.append(_key(values))
    # screen every grid point on one window, re-rank the best on the full evaluation
    screened = pool.map(_grid_eval, [(sc.name, k, cfg, 1) for k in configs], chunksize=16)
    ranked = sorted(screened, key=lambda km: -objective.score(km[1], _unkey(km[0])))
    top = [k for k, _ in ranked[: cfg["refine_from"]]]
    evaluated: dict[tuple[tuple[str, str], ...], float] = {}

    def full(keys: list[tuple[tuple[str, str], ...]]) -> None:
        todo = [k for k in dict.fromkeys(keys) if k not in evaluated]
        for k, m in pool.map(_grid_eval, [(sc.name, k, cfg, cfg["eval_windows"]) for k in todo]):
            evaluated[k] = objective.score(m, _unkey(k))

    full(top)
    space = ParameterSpace(upir)
    best = max(top, key=lambda k: evaluated[k])
    for _ in range(cfg["refine_rounds"]):
        values = _unkey(best)
        neighbours = []
        for axis in space.axes:
            for action in (DOWN, UP):
                moved = axis.moved(values[axis.name], action, space.fraction)
                if moved is not None:
                    neighbours.append(_key({**values, axis.name: moved}))
        full(neighbours)
        candidate = max([best, *neighbours], key=lambda k: evaluated[k])
        if candidate == best:
            break
        best = candidate
    return {
        "grid_points": len(configs),
        "evaluated": len(evaluated),
        "best": {k: float(Fraction(v)) for k, v in best},
        "score": evaluated[best],
        "key": best,
    }


# -- independent safety audit ---------------------------------------------------------------


def _audit(
    job: tuple[str, list[tuple[tuple[str, str], ...]]],
) -> dict[tuple[tuple[str, str], ...], list[str]]:
    _quiet()
    sc_name, keys = job
    sc = next(s for s in SCENARIOS if s.name == sc_name)
    checker = IndependentChecker(sc.upir())
    return {k: [v.property for v in checker.violations(_unkey(k), first_only=True)] for k in keys}


def audit(
    runs: list[dict[str, Any]], pool: Any
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[str]]:
    wanted: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for r in runs:
        wanted.setdefault(r["scenario"], set()).update(r["applied"])
    jobs = []
    for name, keys in wanted.items():
        ordered = sorted(keys)
        for i in range(0, len(ordered), 8):
            jobs.append((name, ordered[i : i + 8]))
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for (name, _), result in zip(jobs, pool.map(_audit, jobs), strict=True):
        for k, v in result.items():
            out[(name, k)] = v
    return out


# -- guardrail latency on a 10-parameter spec -------------------------------------------------


def guardrail_timing(steps: int, seed: int = 0) -> dict[str, Any]:
    """The guardrail fed a tuner-like stream: from the defaults, each step moves
    each parameter with probability 0.15 (DOWN or UP, within the masks) and is
    applied when proved. Spec: the benchmark's plus ``worker.retries`` (10)."""
    doc = yaml.safe_load(SPEC.read_text())
    doc["spec"]["parameters"].append({"name": "worker.retries", "min": 0, "max": 2})
    upir = UPIR.from_resource(doc)
    guard = Guardrail(Verifier(SolverSettings(), ProofCache(8192)), upir)
    space = ParameterSpace(upir)
    rng = random.Random(seed)
    current = upir.tunable_values()
    verdicts: dict[str, int] = {}
    for _ in range(steps):
        mask = space.mask(current)
        action = []
        for h in range(len(space)):
            allowed = [a for a in (DOWN, UP) if bool(mask[h, a])]
            action.append(rng.choice(allowed) if allowed and rng.random() < 0.15 else 1)
        candidate = space.decode(current, action)
        d = guard.check(candidate)
        verdicts[d.status.value] = verdicts.get(d.status.value, 0) + 1
        if d.proved:
            current = candidate
    st = guard.stats()
    return {
        "parameters": len(upir.parameters),
        "checks": st.checks,
        "median_ms": round(st.median_ms, 3),
        "p90_ms": round(st.p90_ms, 3),
        "max_ms": round(st.max_ms, 3),
        "median_fresh_ms": round(st.median_fresh_ms, 3),
        "memo_hits": st.cached,
        "verdicts": verdicts,
    }


# -- aggregation and output ---------------------------------------------------------------------


def _moving(xs: list[float], n: int = 3) -> list[float]:
    return [statistics.fmean(xs[max(0, i - n + 1) : i + 1]) for i in range(len(xs))]


def summarise(
    runs: list[dict[str, Any]],
    limits: dict[str, dict[str, Any]],
    unsafe: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]],
    cfg: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sc in SCENARIOS:
        lim = limits[sc.name]["score"]
        base = next(r for r in runs if r["scenario"] == sc.name and r["method"] == "defaults")
        d99, dtp = base["final_metrics"]["latency_ms"], base["final_metrics"]["throughput_rps"]
        start = cfg["windows"] // 2 if sc.profile == "shift" else 0
        methods: dict[str, Any] = {}
        for method in METHODS:
            rs = [r for r in runs if r["scenario"] == sc.name and r["method"] == method]
            reach: list[int | None] = []
            for r in rs:
                ma = _moving(r["scores"][start:])
                hit = next((i + 1 for i, s in enumerate(ma) if lim > 0 and s >= 0.95 * lim), None)
                reach.append(hit)
            bad_cfgs = {k for r in rs for k in set(r["applied"]) if unsafe[(sc.name, k)]}
            bad_windows = sum(1 for r in rs for k in r["applied"] if unsafe[(sc.name, k)])
            finals = [r["final_metrics"] for r in rs]
            ends = [r["end"] for r in rs if "end" in r]
            methods[method] = {
                "seeds": len(rs),
                "final_score": statistics.fmean(r["final_score"] for r in rs),
                "share_of_limit": statistics.fmean(r["final_score"] / lim for r in rs)
                if lim > 0
                else None,
                "share_min": min(r["final_score"] / lim for r in rs) if lim > 0 else None,
                "share_max": max(r["final_score"] / lim for r in rs) if lim > 0 else None,
                "p99_reduction": statistics.fmean((d99 - m["latency_ms"]) / d99 for m in finals),
                "throughput_gain": statistics.fmean(
                    (m["throughput_rps"] - dtp) / dtp for m in finals
                ),
                "final_p99_ms": statistics.fmean(m["latency_ms"] for m in finals),
                "final_cost": statistics.fmean(m["cost"] for m in finals),
                "final_error_rate": statistics.fmean(m["error_rate"] for m in finals),
                "share_of_limit_end": statistics.fmean(e["final_score"] / lim for e in ends)
                if ends and lim > 0
                else None,
                "p99_reduction_end": statistics.fmean(
                    (d99 - e["final_metrics"]["latency_ms"]) / d99 for e in ends
                )
                if ends
                else None,
                "windows_to_95pct": [h for h in reach],
                "mean_online_score": statistics.fmean(statistics.fmean(r["scores"]) for r in rs),
                "unsafe_configs_applied": len(bad_cfgs),
                "distinct_configs_applied": len({k for r in rs for k in set(r["applied"])}),
                "windows_in_unsafe_configs": bad_windows,
                "windows": sum(len(r["applied"]) for r in rs),
                "seconds": statistics.fmean(r["seconds"] for r in rs),
            }
            for extra in ("accepted", "rejected"):
                if rs and extra in rs[0]:
                    methods[method][extra] = sum(r[extra] for r in rs)
            if rs and "guardrail" in rs[0]:
                methods[method]["guardrail_median_ms"] = statistics.median(
                    r["guardrail"]["median_ms"] for r in rs
                )
                methods[method]["guardrail_memo_hits"] = sum(r["guardrail"]["cached"] for r in rs)
                methods[method]["guardrail_checks"] = sum(r["guardrail"]["checks"] for r in rs)
        out[sc.name] = {
            "load": {"rps": sc.rps, "peak_rps": sc.peak_rps, "profile": sc.profile},
            "latency_max_ms": sc.latency_max or 250.0,
            "defaults": {
                "p99_ms": d99,
                "throughput_rps": dtp,
                "cost": base["final_metrics"]["cost"],
            },
            "limit": {k: v for k, v in limits[sc.name].items() if k != "key"},
            "limit_metrics": limits[sc.name].get("metrics"),
            "limit_unsafe": limits[sc.name].get("unsafe"),
            "methods": methods,
        }
    return out


def _fmt_reach(hits: list[int | None]) -> str:
    got = sorted(h for h in hits if h is not None)
    if not got:
        return "never"
    med = got[len(got) // 2]
    return f"{med}" + (f" ({len(got)}/{len(hits)})" if len(got) < len(hits) else "")


def print_summary(summary: dict[str, Any]) -> None:
    for name, s in summary.items():
        lim = s["limit"]
        print(
            f"\n== {name}: load {s['load']['rps']:g}->{s['load']['peak_rps']:g} req/s, "
            f"latency bound {s['latency_max_ms']:g} ms; defaults p99 {s['defaults']['p99_ms']:.1f} ms, "
            f"cost {s['defaults']['cost']:g}; limit score {lim['score']:.3f} "
            f"({lim['grid_points']} grid points, {lim['evaluated']} refined)"
        )
        print(
            f"{'method':12s} {'share':>6s} {'[min,max]':>12s} {'end':>6s} {'p99 red.':>8s} "
            f"{'tp gain':>8s} {'to 95%':>9s} {'online':>7s} {'unsafe cfgs':>11s} {'unsafe wins':>11s}"
        )
        for m, r in s["methods"].items():
            share = "-" if r["share_of_limit"] is None else f"{r['share_of_limit']:.2f}"
            rng = "" if r["share_min"] is None else f"[{r['share_min']:.2f},{r['share_max']:.2f}]"
            end = "" if r["share_of_limit_end"] is None else f"{r['share_of_limit_end']:.2f}"
            print(
                f"{m:12s} {share:>6s} {rng:>12s} {end:>6s} {r['p99_reduction'] * 100:7.1f}% "
                f"{r['throughput_gain'] * 100:7.1f}% {_fmt_reach(r['windows_to_95pct']):>9s} "
                f"{r['mean_online_score']:7.3f} "
                f"{r['unsafe_configs_applied']:>5d}/{r['distinct_configs_applied']:<5d} "
                f"{r['windows_in_unsafe_configs']:>5d}/{r['windows']:<5d}"
            )


def plot(runs: list[dict[str, Any]], limits: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCENARIOS), figsize=(15, 4.2), sharey=False)
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
        ax.set_title(f"{sc.name}", fontsize=10)
        ax.set_xlabel("decision window")
        ax.set_ylabel("online score (5-window mean over seeds)", fontsize=8)
        low = min(-1.0, limits[sc.name]["score"] - 2.0)
        ax.set_ylim(bottom=max(ax.get_ylim()[0], low))
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
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
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = ap.parse_args(argv)
    _quiet()
    q = args.quick
    cfg: dict[str, Any] = {
        "quick": q,
        "windows": args.windows or (10 if q else 100),
        "seeds": args.seeds or (1 if q else 5),
        "window_s": 5.0 if q else 10.0,
        "eval_windows": 1 if q else EVAL_WINDOWS,
        "refine_from": 2 if q else 8,
        "refine_rounds": 1 if q else 6,
        "timing_steps": 20 if q else 300,
    }
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(max(1, args.jobs)) as pool:
        jobs = [
            (sc.name, m, seed, cfg)
            for sc in SCENARIOS
            for seed in range(cfg["seeds"])
            for m in METHODS
        ]
        runs = pool.map(run_method, jobs, chunksize=1)
        t_runs = time.perf_counter() - t0
        limits = {sc.name: limit(sc, cfg, pool) for sc in SCENARIOS}
        t_limits = time.perf_counter() - t0 - t_runs
        for sc in SCENARIOS:
            key = limits[sc.name]["key"]
            _, limits[sc.name]["metrics"] = _score_of(sc, sc.upir(), _unkey(key), cfg)
        limit_runs = [
            {"scenario": sc.name, "applied": [limits[sc.name]["key"]]} for sc in SCENARIOS
        ]
        unsafe = audit(runs + limit_runs, pool)
        for sc in SCENARIOS:
            limits[sc.name]["unsafe"] = unsafe[(sc.name, limits[sc.name]["key"])]
    t_audit = time.perf_counter() - t0 - t_runs - t_limits
    timing = guardrail_timing(cfg["timing_steps"])
    summary = summarise(runs, limits, unsafe, cfg)
    command = (
        "python benchmarks/tuning.py"
        + (" --quick" if q else "")
        + (f" --windows {args.windows}" if args.windows else "")
        + (f" --seeds {args.seeds}" if args.seeds else "")
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
    print(
        f"\nguardrail on a {timing['parameters']}-parameter spec: median {timing['median_ms']:.2f} ms "
        f"per check over {timing['checks']} tuner-like candidates (fresh vectors: median "
        f"{timing['median_fresh_ms']:.2f} ms; memo hits {timing['memo_hits']}); verdicts {timing['verdicts']}"
    )
    print(
        f"total {result['seconds']['total']:.0f} s (runs {t_runs:.0f}, limits {t_limits:.0f}, audit {t_audit:.0f}); "
        f"wrote {args.out / 'tuning.json'} and {args.out / 'tuning.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
