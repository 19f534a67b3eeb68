"""The learner's decisions on a short seeded run, pinned (real Z3, PyTorch and
scikit-learn; the tuning benchmark's spec on the general simulator's reference
instance).

Why: the learner is split over several modules (observation, screening, credit
assignment, imagination, restart, checkpoint), and the tuning benchmark's
figures stand only while a refactoring changes no decision. Two runs of the
operator's step (:func:`upir.tuning.step.step`), 16 windows each, one with the
plain learner and one with the benchmark's winner (score model, exploring
imagination from the 4th window, and a restart at the load jump at window 10),
must repeat, window by window, the decisions recorded in
``data/learner_decisions.json``; and a checkpoint round trip in the middle
(``to_bytes`` / ``from_bytes``, as the operator does between windows) must
change nothing at all.

The record was made with the pinned PyTorch CPU wheel on one thread. Regenerate
it only when a change of decisions is intended (and say so in the commit):

    .venv/bin/python tests/unit/tuning/test_tuning_decisions.py
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.simulator import LoadProfile
from upir.tuning.imagination import ModelSettings
from upir.tuning.learner import ArchitectureLearner
from upir.tuning.settings import LearnerSettings, TuningSettings
from upir.tuning.simulated import LOAD_METRIC, SimulatedWorkload
from upir.tuning.step import LoopState, new_learner, samples_of, step
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "benchmarks" / "tuning_upir.yaml"
GOLDEN = Path(__file__).resolve().parent / "data" / "learner_decisions.json"
WINDOWS = 16
WINDOW_S = 10.0
SHIFT_WINDOW = 10
"""The load jumps from 120 to 300 req/s here: the winner restarts."""
CHECKPOINT_AFTER = 7
"""The round trip happens after this many windows: mid-rollout, with the
winner already imagining, before the restart."""
CONFIGS = ("plain", "winner")


def _settings(config: str) -> TuningSettings:
    if config == "plain":
        return TuningSettings(model=False, seed=0)
    # min_windows 4 (default 8): imagination both before and after the restart
    # empties the model, within a run short enough for a unit test
    learner = LearnerSettings(model=ModelSettings(min_windows=4))
    return TuningSettings(model=None, seed=0, learner=learner)


def _round(x: float | None) -> float | None:
    # 6 significant digits: the decisions are compared exactly, the floats
    # only as far as another CPU's last bits cannot reach
    return None if x is None else float(f"{x:.6g}")


def _values(v: Any) -> dict[str, str] | None:
    return None if v is None else {k: str(x) for k, x in v.items()}


def run(config: str, *, checkpoint_after: int | None = None) -> dict[str, Any]:
    """The run's decisions, floats in full; ``checkpoint_after``: the learner
    goes through ``to_bytes``/``from_bytes`` after that many windows."""
    torch.set_num_threads(1)
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    settings = _settings(config)
    guard = Guardrail(Verifier(SolverSettings(), ProofCache(8192)), upir)
    learner: ArchitectureLearner = new_learner(upir, settings, load=(LOAD_METRIC,), guardrail=guard)
    profile = LoadProfile.step(120.0, 300.0, SHIFT_WINDOW * WINDOW_S)
    workload = SimulatedWorkload(upir, profile, seed=0, window_s=WINDOW_S)
    params: dict[str, Fraction] = upir.tunable_values()
    state = LoopState()
    windows: list[dict[str, Any]] = []
    for w in range(WINDOWS):
        if checkpoint_after is not None and w == checkpoint_after:
            learner = ArchitectureLearner.from_bytes(learner.to_bytes(), upir, guardrail=guard)
        metrics = workload.run(params)
        dec = step(
            learner=learner,
            state=state,
            current=params,
            samples=samples_of(metrics),
            guard=guard.check,
            settings=settings,
            load={LOAD_METRIC: metrics[LOAD_METRIC]},
        )
        state = dec.state
        windows.append(
            {
                "params": _values(params),
                "action": dec.action.value,
                "proposal": _values(dec.proposal),
                "decided": _values(dec.params),
                "checks": [c.proved for c in dec.checks],
                "score": dec.score,
                "reward": learner.last_reward,
            }
        )
        if dec.action.value in ("Apply", "RollBack") and dec.params is not None:
            params = dict(dec.params)
    stats = learner.stats()
    return {
        "windows": windows,
        "counters": {k: v for k, v in stats.items() if isinstance(v, int)},
        "lastUpdate": dict(sorted(stats["lastUpdate"].items())),
        "observation": [float(x) for x in learner.observation()],
        "loop": json.loads(state.to_json()),
    }


def rounded(trace: dict[str, Any]) -> dict[str, Any]:
    """``trace`` as recorded: every float to 6 significant digits."""
    windows = [
        {**w, "score": _round(w["score"]), "reward": _round(w["reward"])} for w in trace["windows"]
    ]
    return {
        **trace,
        "windows": windows,
        "lastUpdate": {k: _round(v) for k, v in trace["lastUpdate"].items()},
        "observation": [_round(x) for x in trace["observation"]],
    }


def record() -> dict[str, Any]:
    return {config: rounded(run(config)) for config in CONFIGS}


_straight: dict[str, dict[str, Any]] = {}


def straight(config: str) -> dict[str, Any]:
    """The uninterrupted run (one per config, shared by the tests)."""
    if config not in _straight:
        _straight[config] = run(config)
    return _straight[config]


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    return data


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_the_learner_decides_as_recorded(config: str, golden: dict[str, Any]) -> None:
    got = rounded(straight(config))
    want = golden[config]
    # window by window first: a failure names the first window that differs
    for w, (a, b) in enumerate(zip(got["windows"], want["windows"], strict=True)):
        assert a == b, f"{config}: window {w} differs"
    assert got == want


def test_the_recorded_runs_exercise_what_they_pin(golden: dict[str, Any]) -> None:
    """The record is worth pinning: both runs learn (PPO updates), the guardrail
    rejects and proves, and the winner imagines and restarts at the jump."""
    for config in CONFIGS:
        c = golden[config]["counters"]
        assert c["updates"] >= 1 and c["transitions"] >= 8, config
        actions = {w["action"] for w in golden[config]["windows"]}
        assert "Apply" in actions, config
    winner = golden["winner"]["counters"]
    assert winner["imagined"] >= 4 and winner["restarts"] == 1
    plain = golden["plain"]["counters"]
    assert plain["imagined"] == 0 and plain["restarts"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_a_checkpoint_round_trip_mid_run_changes_no_decision(config: str) -> None:
    resumed = run(config, checkpoint_after=CHECKPOINT_AFTER)
    assert resumed == straight(config)  # floats in full


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
