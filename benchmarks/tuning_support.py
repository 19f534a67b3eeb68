"""Shared pieces of the tuning benchmark (``benchmarks/tuning.py``): the
scenarios, the search for the limit and the proved limit, the independent
safety audit and the guardrail latency measurement."""

from __future__ import annotations

import itertools
import logging
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

from progress import tracked_map  # noqa: E402

from upir.core import UPIR  # noqa: E402
from upir.settings import SolverSettings  # noqa: E402
from upir.simulator import LoadProfile  # noqa: E402
from upir.tuning.objective import TuningObjective  # noqa: E402
from upir.tuning.report import evaluate  # noqa: E402
from upir.tuning.rl.policy import DOWN, UP  # noqa: E402
from upir.tuning.simulated import make_profile  # noqa: E402
from upir.tuning.space import ParameterSpace  # noqa: E402
from upir.verification import ProofCache, Verifier  # noqa: E402
from upir.verification.guardrail import Guardrail  # noqa: E402
from upir.verification.reference_audit import IndependentChecker  # noqa: E402

SPEC = ROOT / "benchmarks" / "tuning_upir.yaml"
RESULTS = ROOT / "benchmarks" / "results"
METHODS = (
    "defaults",
    "random",
    "optuna_tpe",
    "optuna_guarded",
    "optuna_guarded_step",
    "ppo",
    "ppo_guarded",
    "ppo_guarded_rollback",
    "ppo_guarded_rollback_model",
)
EVAL_SEED = 424242
EVAL_WINDOWS = 3
GRID = {
    "batcher.batch_size": (1, 2, 4, 8, 16, 32),
    "batcher.flush_ms": (0, 5, 10, 20, 40),
    "worker.concurrency": (1, 2, 4, 8),
    "worker.replicas": (1, 2, 4, 6),
    "gateway.replicas": (1, 2, 4),
}
QUICK_GRID = {"batcher.batch_size": (2, 16), "worker.replicas": (1, 4)}


def cores_of(cores: int | None) -> dict[str, int] | None:
    """The simulator's CPU cores: ``cores`` per worker replica (None: no contention)."""
    return None if cores is None else {"worker": cores}


@dataclass(frozen=True)
class Scenario:
    name: str
    rps: float
    peak_rps: float
    profile: str
    latency_max: float | None = None
    cores: int | None = None
    """CPUs per worker replica (the simulator's ``Node.cores``); None: no CPU contention."""

    def upir(self) -> UPIR:
        doc = yaml.safe_load(SPEC.read_text())
        if self.latency_max is not None:
            doc["spec"]["specification"]["constraints"]["latency_ms"]["max"] = self.latency_max
        return UPIR.from_resource(doc)

    def profile_for(self, windows: int, window_s: float) -> LoadProfile:
        return make_profile(self.profile, self.rps, self.peak_rps, windows * window_s)

    def sim_cores(self) -> dict[str, int] | None:
        """The simulator's ``cores`` option (:class:`SimulatedWorkload`)."""
        return cores_of(self.cores)

    def final_load(self) -> LoadProfile:
        return LoadProfile.steady(self.peak_rps if self.profile == "shift" else self.rps)


SCENARIOS = (
    Scenario("steady", 210.0, 210.0, "steady"),
    Scenario("shift", 120.0, 300.0, "shift"),
    Scenario("tight", 210.0, 210.0, "steady", latency_max=300.0),
    # Workers that compute on 2 CPUs each: concurrency beyond them stretches every
    # batch, so the right replica count follows the load and the shift moves the
    # proved optimum (without contention it barely moves: see ``before_shift``).
    Scenario("shift_cpu", 120.0, 300.0, "shift", cores=2),
)


def quiet() -> None:
    logging.getLogger("upir").setLevel(logging.ERROR)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import torch

    torch.set_num_threads(1)


def key_of(values: Mapping[str, Fraction]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items()))


def values_of(key: tuple[tuple[str, str], ...]) -> dict[str, Fraction]:
    return {k: Fraction(v) for k, v in key}


def grid_values(d: Any) -> list[Fraction]:
    unit = d.step if d.step is not None else Fraction(1)
    n = int((d.max - d.min) / unit)
    return [d.min + unit * i for i in range(n + 1)]


def final_score_of(
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
        cores=sc.sim_cores(),
    )
    objective.set_baseline(base)
    m = evaluate(
        upir,
        values,
        sc.final_load(),
        seed=EVAL_SEED,
        windows=cfg["eval_windows"],
        window_s=cfg["window_s"],
        cores=sc.sim_cores(),
    )
    return objective.score(m, values), m


# -- the limit: exhaustive grid, then coordinate refinement ---------------------------


Key = tuple[tuple[str, str], ...]


def _grid_eval(
    job: tuple[float, Key, dict[str, Any], int, int | None],
) -> tuple[Key, dict[str, float]]:
    quiet()
    rps, key, cfg, windows, cores = job
    upir = SCENARIOS[0].upir()  # the simulator only reads the parameters
    m = evaluate(
        upir,
        values_of(key),
        LoadProfile.steady(rps),
        seed=EVAL_SEED,
        windows=windows,
        window_s=cfg["window_s"],
        cores=cores_of(cores),
    )
    return key, m


class Sims:
    """Simulated evaluations shared by scenarios with the same final load."""

    def __init__(self, pool: Any, cfg: dict[str, Any]) -> None:
        self.pool, self.cfg = pool, cfg
        self.cache: dict[tuple[float, Key, int, int | None], dict[str, float]] = {}
        self.guards: dict[object, Guardrail] = {}

    def guardrail(self, spec_key: object, upir: UPIR) -> Guardrail:
        """One guardrail per spec (its memo serves every scenario with that spec)."""
        if spec_key not in self.guards:
            self.guards[spec_key] = Guardrail(Verifier(SolverSettings(), ProofCache(65536)), upir)
        return self.guards[spec_key]

    def metrics(
        self, rps: float, keys: list[Key], windows: int, cores: int | None = None
    ) -> dict[Key, dict[str, float]]:
        todo = [k for k in dict.fromkeys(keys) if (rps, k, windows, cores) not in self.cache]
        jobs = [(rps, k, self.cfg, windows, cores) for k in todo]
        for k, m in self.pool.map(_grid_eval, jobs, chunksize=16):
            self.cache[(rps, k, windows, cores)] = m
        return {k: self.cache[(rps, k, windows, cores)] for k in keys}


def limit(sc: Scenario, cfg: dict[str, Any], sims: Sims) -> dict[str, Any]:
    """The best configuration found by the grid and refinement ("limit"), and the
    best one the guardrail proves ("proved limit"), scored like the finals."""
    upir = sc.upir()
    rps = sc.peak_rps if sc.profile == "shift" else sc.rps
    objective = TuningObjective(upir)
    defaults = upir.tunable_values()
    objective.set_baseline(
        sims.metrics(rps, [key_of(defaults)], cfg["eval_windows"], sc.cores)[key_of(defaults)]
    )
    grid = QUICK_GRID if cfg["quick"] else GRID
    configs = []
    for combo in itertools.product(*grid.values()):
        values = dict(defaults)
        values.update({k: Fraction(v) for k, v in zip(grid, combo, strict=True)})
        configs.append(key_of(values))
    # screen every grid point on one window, re-rank the best on the full evaluation
    screened = sims.metrics(rps, configs, 1, sc.cores)
    ranked = sorted(configs, key=lambda k: -objective.score(screened[k], values_of(k)))
    guard = sims.guardrail(sc.latency_max, upir)
    space = ParameterSpace(upir)
    evaluated: dict[Key, float] = {}

    def full(keys: list[Key]) -> None:
        todo = [k for k in keys if k not in evaluated]
        for k, m in sims.metrics(rps, todo, cfg["eval_windows"], sc.cores).items():
            evaluated[k] = objective.score(m, values_of(k))

    def refine(start: list[Key], allowed: Any) -> Key:
        full(start)
        best = max(start, key=lambda k: evaluated[k])
        for _ in range(cfg["refine_rounds"]):
            values = values_of(best)
            neighbours = []
            for axis in space.axes:
                for action in (DOWN, UP):
                    moved = axis.moved(values[axis.name], action, space.fraction)
                    if moved is not None:
                        key = key_of({**values, axis.name: moved})
                        if allowed(key):
                            neighbours.append(key)
            full(neighbours)
            candidate = max([best, *neighbours], key=lambda k: evaluated[k])
            if candidate == best:
                break
            best = candidate
        return best

    best = refine(ranked[: cfg["refine_from"]], lambda k: True)
    proved_start: list[Key] = []
    scanned = 0
    for k in ranked:  # the best-screened grid points the guardrail proves
        scanned += 1
        if guard.check(values_of(k)).proved:
            proved_start.append(k)
            if len(proved_start) == cfg["refine_from"]:
                break
    if not proved_start:
        proved_start = [key_of(defaults)]  # proved by construction of the scenarios
    proved = refine(proved_start, lambda k: guard.check(values_of(k)).proved)
    before = None
    if sc.profile == "shift":
        before = _before_shift(sc, cfg, sims, evaluated[proved])
    return {
        "before_shift": before,
        "grid_points": len(configs),
        "evaluated": len(evaluated),
        "best": {k: float(Fraction(v)) for k, v in best},
        "score": evaluated[best],
        "key": best,
        "proved_best": {k: float(Fraction(v)) for k, v in proved},
        "proved_score": evaluated[proved],
        "proved_key": proved,
        "proved_scanned": scanned,
        "proved_found": len(proved_start),
    }


def _before_shift(
    sc: Scenario, cfg: dict[str, Any], sims: Sims, proved_score: float
) -> dict[str, Any]:
    """How much a load shift leaves to re-adapt: the proved limit at the load
    before the shift, kept unchanged and scored at the load after it, as a share
    of the proved limit there (1.0: the old optimum is still optimal)."""
    steady = Scenario(sc.name, sc.rps, sc.rps, "steady", sc.latency_max, sc.cores)
    old = limit(steady, cfg, sims)
    score, _ = final_score_of(sc, sc.upir(), values_of(old["proved_key"]), cfg)
    return {
        "rps": sc.rps,
        "proved_config": old["proved_best"],
        "score_after_shift": score,
        "share_of_proved_limit": score / proved_score if proved_score > 0 else None,
    }


# -- independent safety audit ---------------------------------------------------------------


def _audit(
    job: tuple[str, list[tuple[tuple[str, str], ...]]],
) -> dict[tuple[tuple[str, str], ...], list[str]]:
    quiet()
    sc_name, keys = job
    sc = next(s for s in SCENARIOS if s.name == sc_name)
    checker = IndependentChecker(sc.upir())
    return {
        k: [v.property for v in checker.violations(values_of(k), first_only=True)] for k in keys
    }


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
    checked = tracked_map(pool, _audit, jobs, "audit (independent check), batches")
    for (name, _), result in zip(jobs, checked, strict=True):
        for k, v in result.items():
            out[(name, k)] = v
    return out


# -- guardrail latency on a 10-parameter spec -------------------------------------------------


def _ten_params_spec() -> UPIR:
    """The 10-parameter spec of ``benchmarks/verification.py`` (its candidate-check benchmark)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_verif_bench", ROOT / "benchmarks" / "verification.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return UPIR.from_resource(module.TEN_PARAMS)


def guardrail_timing(steps: int, seed: int = 0) -> dict[str, Any]:
    """The guardrail fed candidate streams on two 10-parameter specs:

    - ``tuning``: the benchmark's spec plus ``worker.retries``; from the
      defaults each step moves each parameter with probability 0.15 (DOWN or UP
      within the masks, the learner's kind of joint move) and is applied when
      proved;
    - ``verification``: ``benchmarks/verification.py``'s ``TEN_PARAMS`` with
      its single-parameter walk (one parameter 1 or 2 grid steps, applied when
      proved), for comparison with ``check_params`` there.
    """
    doc = yaml.safe_load(SPEC.read_text())
    doc["spec"]["parameters"].append({"name": "worker.retries", "min": 0, "max": 2})
    out: dict[str, Any] = {}
    for name, upir in (("tuning", UPIR.from_resource(doc)), ("verification", _ten_params_spec())):
        guard = Guardrail(Verifier(SolverSettings(), ProofCache(65536)), upir)
        space = ParameterSpace(upir)
        rng = random.Random(seed)
        current = upir.tunable_values()
        verdicts: dict[str, int] = {}
        for _ in range(steps):
            if name == "tuning":
                mask = space.mask(current)
                action = []
                for h in range(len(space)):
                    allowed = [a for a in (DOWN, UP) if bool(mask[h, a])]
                    move = rng.choice(allowed) if allowed and rng.random() < 0.15 else 1
                    action.append(move)
                candidate = space.decode(current, action)
            else:
                d = rng.choice(sorted(upir.parameters, key=lambda x: x.name))
                unit = d.step if d.step is not None else Fraction(1)
                moved = current[d.name] + unit * rng.choice([-2, -1, 1, 2])
                candidate = {**current, d.name: min(d.max, max(d.min, moved))}
            decision = guard.check(candidate)
            verdicts[decision.status.value] = verdicts.get(decision.status.value, 0) + 1
            if decision.proved:
                current = candidate
        st = guard.stats()
        out[name] = {
            "parameters": len(upir.parameters),
            "checks": st.checks,
            "median_ms": round(st.median_ms, 3),
            "p90_ms": round(st.p90_ms, 3),
            "max_ms": round(st.max_ms, 3),
            "median_fresh_ms": round(st.median_fresh_ms, 3),
            "memo_hits": st.cached,
            "verdicts": verdicts,
        }
    return out


# -- paired comparisons ------------------------------------------------------------------

HEAD_TO_HEAD = (
    ("ppo_guarded_rollback", "optuna_guarded"),
    ("ppo_guarded_rollback", "optuna_guarded_step"),
    ("ppo_guarded_rollback", "optuna_tpe"),
    ("ppo_guarded", "optuna_guarded"),
    ("ppo_guarded_rollback_model", "optuna_guarded"),
    ("ppo_guarded_rollback_model", "ppo_guarded_rollback"),
)
"""Pairs compared seed by seed (the same seed gives both the same arrivals)."""


def paired(a: list[float], b: list[float], resamples: int = 4000, seed: int = 0) -> dict[str, Any]:
    """Mean of ``a[i] - b[i]`` with a 95% percentile-bootstrap interval (over
    seeds, resampled with a fixed seed so the figure is reproducible), and how
    many seeds ``a`` wins, ties (within 0.005) and loses."""
    if len(a) != len(b) or not a:
        raise ValueError("paired() needs two equally long, non-empty lists")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(rng.choice(diffs) for _ in range(n)) / n for _ in range(resamples))
    return {
        "seeds": n,
        "mean_diff": sum(diffs) / n,
        "ci95": [means[int(0.025 * (resamples - 1))], means[int(0.975 * (resamples - 1))]],
        "wins": sum(1 for d in diffs if d > 0.005),
        "ties": sum(1 for d in diffs if abs(d) <= 0.005),
        "losses": sum(1 for d in diffs if d < -0.005),
    }
