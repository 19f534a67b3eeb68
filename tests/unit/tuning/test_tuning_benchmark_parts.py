"""Parts of the tuning benchmark: the paired comparison
(``benchmarks/tuning_support.paired``: mean difference, bootstrap interval and
win/tie/loss counts on hand-made seeds) and the step-limited Optuna tuner
(``benchmarks/tuning_samplers``: it moves no parameter further than
``maxStepFraction`` and tells Optuna what was applied)."""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from tuning_samplers import sampler
from tuning_support import SPEC, paired

from upir.core import UPIR
from upir.tuning.space import ParameterSpace


def test_counts_and_mean() -> None:
    a = [0.9, 0.8, 0.7, 0.6]
    b = [0.8, 0.8, 0.9, 0.5]
    h = paired(a, b)
    assert h["seeds"] == 4
    assert h["mean_diff"] == pytest.approx((0.1 + 0.0 - 0.2 + 0.1) / 4)
    assert (h["wins"], h["ties"], h["losses"]) == (2, 1, 1)
    lo, hi = h["ci95"]
    # the bootstrap means lie between the smallest and the largest difference
    assert -0.2 - 1e-12 <= lo <= h["mean_diff"] <= hi <= 0.1 + 1e-12


def test_interval_excludes_zero_for_a_consistent_lead() -> None:
    a = [0.80 + 0.01 * i for i in range(10)]
    b = [x - 0.05 - 0.002 * (i % 3) for i, x in enumerate(a)]
    lo, hi = paired(a, b)["ci95"]
    assert 0.05 <= lo <= hi <= 0.054 + 1e-12


def test_reproducible_and_validated() -> None:
    a, b = [0.1, 0.5, 0.3], [0.2, 0.1, 0.3]
    assert paired(a, b) == paired(a, b)
    with pytest.raises(ValueError):
        paired([0.1], [0.1, 0.2])
    with pytest.raises(ValueError):
        paired([], [])


def test_step_limited_optuna_stays_within_the_step_and_learns_what_ran() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    space = ParameterSpace(upir)
    tuner = sampler("optuna_guarded_step", upir, seed=0)
    current = upir.tunable_values()
    for i in range(12):
        trial, values = tuner.ask(current)
        for axis in space.axes:
            before, after = current[axis.name], values[axis.name]
            assert abs(after - before) <= axis.delta(before, space.fraction), axis.name
            assert axis.domain.contains(after)
        if i % 4 == 3:
            tuner.reject(trial)  # not applied: nothing is told for it
            continue
        tuner.tell(trial, float(i))
        done = tuner.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        assert done[-1].params == tuner.internal(values) and done[-1].value == float(i)
        current = values
    assert len(tuner.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 9
