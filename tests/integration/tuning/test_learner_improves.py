"""The guarded learner improves the simulated workload's objective (real Z3,
real PyTorch, the real simulator; deterministic with the seeds below).

Setup: ``benchmarks/tuning_upir.yaml`` (nine tunable parameters, a proved but
conservative start), steady 210 req/s, 10 s windows, 60 windows, every proposal
through the guardrail. Objective: the spec's (latency, throughput, errors,
cost), scored by TuningObjective with the defaults' evaluation as the baseline
(so the defaults score 0).

Threshold: the configuration in force at the end, evaluated for 3 windows on
a fresh simulator with the same arrivals as the defaults' evaluation, scores
at least ``THRESHOLD`` = 0.4 (the defaults score 0; the best configuration the
benchmark's grid finds scores about 1.2), for seeds 0 and 1 (measured: 0.89 and
0.79; seeds 0-5 give 0.89, 0.79, 1.14, 1.00, 0.52, 0.10, so the learner does not
always get far in 60 windows); and every configuration in force on the way is
proved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.simulator import LoadProfile
from upir.tuning.learner import ArchitectureLearner
from upir.tuning.report import evaluate
from upir.tuning.simulated import SimulatedWorkload, make_profile, params_after, tune
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[3] / "benchmarks" / "tuning_upir.yaml"
RPS = 210.0
WINDOWS = 60
WINDOW_S = 10.0
SEEDS = (0, 1)
THRESHOLD = 0.4


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("seed", SEEDS)
def test_guarded_learner_beats_the_defaults(seed: int) -> None:
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    verifier = Verifier(SolverSettings(), ProofCache(4096))
    guard = Guardrail(verifier, upir)
    learner = ArchitectureLearner(upir, seed=seed)
    wl = SimulatedWorkload(
        upir, make_profile("steady", RPS, RPS, WINDOWS * WINDOW_S), seed=seed, window_s=WINDOW_S
    )
    records = tune(learner, wl, WINDOWS, guardrail=guard)
    final = params_after(records[-1])
    load = LoadProfile.steady(RPS)
    before = evaluate(upir, upir.tunable_values(), load, seed=999, windows=3, window_s=WINDOW_S)
    after = evaluate(upir, final, load, seed=999, windows=3, window_s=WINDOW_S)
    objective = learner.objective
    objective.set_baseline(before)
    score = objective.score(after, final)
    assert score >= THRESHOLD, (score, final, after)
    assert after["latency_ms"] < before["latency_ms"] or after["cost"] < before["cost"]
    for rec in records:  # nothing unproved was ever in force
        assert guard.check(rec.params).proved
