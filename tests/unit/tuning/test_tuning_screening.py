"""Moves screened with the guardrail before the policy samples (real Z3, the
tuning benchmark's spec): a single-parameter move the guardrail does not prove
is masked, so it is never proposed; without a guardrail nothing changes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch
import yaml

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.tuning.learner import ArchitectureLearner, LearnerSettings
from upir.tuning.rl.policy import DOWN, KEEP, UP
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

SPEC = Path(__file__).resolve().parents[3] / "benchmarks" / "tuning_upir.yaml"
METRICS = {"latency_ms": 120.0, "throughput_rps": 200.0, "error_rate": 0.0}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def upir() -> UPIR:
    return UPIR.from_resource(yaml.safe_load(SPEC.read_text()))


def _guard(upir: UPIR) -> Guardrail:
    return Guardrail(Verifier(SolverSettings(), ProofCache(4096)), upir)


def _edge(upir: UPIR) -> dict[str, Fraction]:
    """Proved values from which some single moves are not: two worker replicas
    with three slots each, just enough for the latency bound under model 2 (the
    p99 wait for a slot counts), so one replica or slot fewer breaks it."""
    values = upir.tunable_values()
    values.update({"worker.replicas": Fraction(2), "worker.concurrency": Fraction(3)})
    return values


def test_mask_is_exactly_the_moves_the_guardrail_proves(upir: UPIR) -> None:
    guard = _guard(upir)
    values = _edge(upir)
    assert guard.check(values).proved
    learner = ArchitectureLearner(upir, seed=0, guardrail=guard)
    mask = learner.mask(values)
    domain = learner.space.mask(values)
    masked_out = 0
    for h, axis in enumerate(learner.space.axes):
        assert bool(mask[h, KEEP])
        for a in (DOWN, UP):
            moved = axis.moved(values[axis.name], a, learner.space.fraction)
            proved = moved is not None and guard.check({**values, axis.name: moved}).proved
            assert bool(mask[h, a]) == (bool(domain[h, a]) and proved)
            masked_out += int(bool(domain[h, a]) and not proved)
    assert masked_out >= 1  # this state really has unproved single moves
    # screening is not a rejection: the guardrail's rejection history stays as checks left it
    assert guard.stats().screened >= 1


def test_proposals_never_contain_a_screened_out_move(upir: UPIR) -> None:
    guard = _guard(upir)
    values = _edge(upir)
    learner = ArchitectureLearner(
        upir, seed=3, guardrail=guard, settings=LearnerSettings(keep_prob=0.34)
    )
    learner.propose(METRICS, values)
    mask = learner.mask(values)
    for _ in range(40):
        proposal = learner.propose()
        for h, axis in enumerate(learner.space.axes):
            v, w = values[axis.name], proposal[axis.name]
            move = KEEP if w == v else (DOWN if w < v else UP)
            assert bool(mask[h, move]), (axis.name, v, w)


def test_without_a_guardrail_or_with_screening_off_only_the_domain_masks(upir: UPIR) -> None:
    values = _edge(upir)
    off = ArchitectureLearner(
        upir, guardrail=_guard(upir), settings=LearnerSettings(screen_moves=False)
    )
    for learner in (ArchitectureLearner(upir), off):
        assert torch.equal(learner.mask(values), learner.space.mask(values))


def test_checkpoint_keeps_the_setting_and_takes_a_guardrail(upir: UPIR) -> None:
    guard = _guard(upir)
    a = ArchitectureLearner(upir, seed=5, guardrail=guard)
    a.learn_from_metrics(METRICS, _edge(upir))
    b = ArchitectureLearner.from_bytes(a.to_bytes(), upir, guardrail=guard)
    assert b.settings.screen_moves and b.guardrail is guard
    assert torch.equal(a.mask(_edge(upir)), b.mask(_edge(upir)))
    assert torch.equal(a.observation(), b.observation())
