"""The baseline tuners of the tuning benchmark (``benchmarks/tuning.py``): the
defaults, random search and Optuna TPE, behind one ask / tell / reject interface
(split from the benchmark script to keep it readable)."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from tuning_support import grid_values

from upir.core import UPIR
from upir.tuning.space import ParameterSpace

__all__ = ["sampler"]


class _Fixed:
    """The defaults: always the configuration in force; learns nothing."""

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        return None, current

    def tell(self, trial: Any, score: float) -> None:
        """Scores are ignored (so are rejections, below)."""

    def reject(self, trial: Any) -> None:
        pass


class _Random(_Fixed):
    """A uniformly random point of the domains' grids every window."""

    def __init__(self, upir: UPIR, seed: int) -> None:
        self.rng = random.Random(seed)
        self.axes = {d.name: grid_values(d) for d in upir.parameters}

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        return None, {k: self.rng.choice(v) for k, v in self.axes.items()}


def _unit(d: Any) -> Fraction | None:
    """The grid unit of a stepped or integer domain (None: continuous)."""
    if d.step is not None:
        return Fraction(d.step)
    return Fraction(1) if d.integer else None


class _Optuna:
    """Optuna TPE, one trial per window; stepped and integer parameters are
    asked as grid indices (``NAME#k``), continuous ones as floats."""

    def __init__(self, upir: UPIR, seed: int) -> None:
        import optuna

        self.study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        self.upir = upir
        # a user would start from what runs today
        self.study.enqueue_trial(self.internal(upir.tunable_values()))

    def internal(self, values: dict[str, Fraction]) -> dict[str, Any]:
        """``values`` as this study's trial parameters (grid index or float)."""
        out: dict[str, Any] = {}
        for d in self.upir.parameters:
            unit = _unit(d)
            if unit is None:
                out[d.name] = float(values[d.name])
            else:
                out[d.name + "#k"] = int((values[d.name] - d.min) / unit)
        return out

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        trial = self.study.ask()
        out: dict[str, Fraction] = {}
        for d in self.upir.parameters:
            unit = _unit(d)
            if unit is None:
                out[d.name] = Fraction(
                    trial.suggest_float(d.name, float(d.min), float(d.max))
                ).limit_denominator(1000)
            else:
                k = trial.suggest_int(d.name + "#k", 0, int((d.max - d.min) / unit))
                out[d.name] = d.min + unit * k
        return trial, out

    def tell(self, trial: Any, score: float) -> None:
        self.study.tell(trial, score)

    def reject(self, trial: Any) -> None:
        import optuna

        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


class _OptunaStepped(_Optuna):
    """Optuna TPE under the operator's step limit: each parameter of a trial is
    clamped to within ``maxStepFraction`` of the value in force (``ParamAxis.delta``,
    the learner's own bound), so the tuner could stand in for the learner. The
    window's score is told to Optuna as a trial at the clamped values (the asked
    trial, never applied as asked, is marked failed), so its model learns what
    was measured."""

    def __init__(self, upir: UPIR, seed: int) -> None:
        super().__init__(upir, seed)
        self.space = ParameterSpace(upir)
        self.applied: dict[int, dict[str, Fraction]] = {}

    def ask(self, current: dict[str, Fraction]) -> tuple[Any, dict[str, Fraction]]:
        trial, raw = super().ask(current)
        out = dict(raw)
        for axis in self.space.axes:
            now = current[axis.name]
            d = axis.delta(now, self.space.fraction)
            lo, hi = axis.snap_up(now - d), axis.snap_down(now + d)
            out[axis.name] = min(max(raw[axis.name], min(lo, now)), max(hi, now))
        self.applied[trial.number] = out
        return trial, out

    def tell(self, trial: Any, score: float) -> None:
        import optuna

        values = self.applied.pop(trial.number)
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        self.study.add_trial(
            optuna.trial.create_trial(
                params=self.internal(values), distributions=trial.distributions, value=score
            )
        )

    def reject(self, trial: Any) -> None:
        self.applied.pop(trial.number, None)
        super().reject(trial)


def sampler(method: str, upir: UPIR, seed: int) -> Any:
    if method == "defaults":
        return _Fixed()
    if method == "random":
        return _Random(upir, seed)
    if method in ("optuna_tpe", "optuna_guarded"):
        return _Optuna(upir, seed)
    if method == "optuna_guarded_step":
        return _OptunaStepped(upir, seed)
    raise ValueError(method)
