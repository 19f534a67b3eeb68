"""ArchitectureLearner without a solver: encoding, credit assignment, rejections,
updates and checkpoints (a synthetic workload whose latency depends on the
parameters stands in for the service)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction as F
from typing import Any

import pytest
import torch

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.tuning.learner import LEARNER_CONFIG, ArchitectureLearner, LearnerSettings
from upir.tuning.rl.agent import CheckpointError
from upir.verification import Verdict, VerificationReport, VerificationResult


def _doc(extra_param: bool = False) -> dict[str, Any]:
    params = [
        {"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10},
        {"name": "gateway.retries", "min": 0, "max": 3},
        {"name": "gateway.replicas", "min": 1, "max": 8},
    ]
    if extra_param:
        params.append({"name": "gateway.concurrency", "min": 1, "max": 64})
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "t"},
        "spec": {
            "architecture": {
                "components": [
                    {
                        "name": "gateway",
                        "type": "service",
                        "params": {"timeout_ms": 300, "retries": 1, "replicas": 4},
                    }
                ]
            },
            "specification": {
                "assumptions": ["env.arrival_rps <= 10"],
                "constraints": {"latency_ms": {"max": 400}, "cost": {"max": 8}},
            },
            "parameters": params,
            "tuning": {
                "objective": {
                    "latency_ms": 1.0,
                    "throughput_rps": 1.0,
                    "error_rate": 10.0,
                    "cost": 0.5,
                }
            },
        },
    }


UPIR_ = UPIR.from_resource(_doc())
SMALL = replace(LEARNER_CONFIG, num_steps=4, hidden_sizes=(8,))


def workload(params: dict[str, F]) -> dict[str, float]:
    """Latency grows away from timeout 200 ms; fewer replicas cost less."""
    t = float(params["gateway.timeout_ms"])
    return {
        "latency_ms": 50.0 + abs(t - 200.0) / 2 + 5 * float(params["gateway.retries"]),
        "throughput_rps": 100.0,
        "error_rate": 0.001,
    }


def test_proposals_are_complete_and_inside_the_domains() -> None:
    learner = ArchitectureLearner(UPIR_, config=SMALL, seed=1)
    params = UPIR_.tunable_values()
    for _ in range(12):
        proposal = learner.learn_from_metrics(workload(params), params)
        assert set(proposal) == set(params)
        for d in UPIR_.parameters:
            assert d.contains(proposal[d.name])
        params = proposal
    assert learner.observation().shape == (learner.obs_dim,)
    # global: 4 metrics and their changes, 2 constraint slacks, rejections, last gain;
    # then 6 features per parameter
    assert learner.global_dim == 2 * 4 + 2 + 2
    assert learner.obs_dim == learner.global_dim + 3 * 6
    assert learner.counters["windows"] == 12 and learner.counters["updates"] >= 2


def test_reward_goes_to_the_move_that_caused_it() -> None:
    learner = ArchitectureLearner(UPIR_, config=replace(SMALL, num_steps=8), seed=0)
    p0 = UPIR_.tunable_values()
    m0 = workload(p0)
    p1 = learner.learn_from_metrics(m0, p0)
    obs0 = learner.observation()
    assert learner.buffer.pos == 0  # nothing to credit yet
    m1 = {**workload(p1), "latency_ms": 75.0}
    learner.learn_from_metrics(m1, p1)
    assert learner.buffer.pos == 1
    expected = learner.objective.score(m1, p1) - learner.objective.score(m0, p0)
    assert float(learner.buffer.rewards[0, 0]) == pytest.approx(expected, abs=1e-6)
    assert torch.equal(learner.buffer.obs[0, 0], obs0)
    assert torch.equal(learner.buffer.next_obs[0, 0], learner._observe(p1))


def test_a_proposal_that_was_not_applied_is_not_credited() -> None:
    learner = ArchitectureLearner(UPIR_, config=replace(SMALL, num_steps=8), seed=0)
    p0 = UPIR_.tunable_values()
    proposal = learner.learn_from_metrics(workload(p0), p0)
    while proposal == p0:  # make sure the pending proposal changes something
        proposal = learner.propose()
    learner.learn_from_metrics(workload(p0), p0)  # the operator held: p0 still in force
    assert learner.buffer.pos == 0 and learner.counters["dropped"] >= 1


def test_rejection_is_recorded_at_once_with_a_penalty() -> None:
    settings = LearnerSettings(rejection_penalty=0.5)
    learner = ArchitectureLearner(
        UPIR_, config=replace(SMALL, num_steps=8), seed=0, settings=settings
    )
    p0 = UPIR_.tunable_values()
    proposal = learner.learn_from_metrics(workload(p0), p0)
    result = VerificationResult(UPIR_.specification.all_properties()[0], Verdict.TIMEOUT)
    learner.record_rejection(proposal, VerificationReport((result,)))
    assert learner.buffer.pos == 1
    assert float(learner.buffer.rewards[0, 0]) == pytest.approx(
        -0.5
    )  # no change, minus the penalty
    assert learner.pending_proposal is None
    record = learner.rejections[-1]
    assert record["status"] == "TIMEOUT" and record["failed"] == ["constraint.latency_ms"]
    obs = learner.observation()
    assert float(obs[learner.global_dim - 2]) == pytest.approx(1 / 3)  # one rejection this window
    moved = [h for h in range(3) if proposal[learner.space.names[h]] != p0[learner.space.names[h]]]
    for h in moved:  # the rejected move is part of each parameter's features
        assert float(obs[learner.global_dim + 6 * h + 3]) != 0.0
    again = learner.propose()
    assert learner.pending_proposal == again
    # a rejection of something else is kept for the record but not learned from
    learner.record_rejection({"gateway.retries": 3})
    assert learner.buffer.pos == 1 and learner.counters["rejections"] == 2


def _drive(learner: ArchitectureLearner, params: dict[str, F], windows: int) -> list[dict[str, F]]:
    out = []
    for _ in range(windows):
        proposal = learner.learn_from_metrics(workload(params), params)
        out.append(proposal)
        params = proposal
    return out


def test_checkpoint_round_trip_gives_identical_actions() -> None:
    a = ArchitectureLearner(UPIR_, config=SMALL, seed=3)
    params = UPIR_.tunable_values()
    first = _drive(a, params, 6)  # one update done, one transition buffered, one pending
    blob = a.to_bytes()
    b = ArchitectureLearner.from_bytes(blob, UPIR_)
    assert b.pending_proposal == a.pending_proposal
    assert b.buffer.pos == a.buffer.pos and b.counters == a.counters
    after_a = _drive(a, first[-1], 10)  # crosses further updates
    after_b = _drive(b, first[-1], 10)
    assert after_a == after_b
    for pa, pb in zip(a.agent.net.parameters(), b.agent.net.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_checkpoint_for_another_spec_or_garbage_is_refused() -> None:
    a = ArchitectureLearner(UPIR_, config=SMALL, seed=0)
    _drive(a, UPIR_.tunable_values(), 2)
    blob = a.to_bytes()
    with pytest.raises(CheckpointError):
        ArchitectureLearner.from_bytes(blob, UPIR.from_resource(_doc(extra_param=True)))
    with pytest.raises(CheckpointError):
        ArchitectureLearner.from_bytes(b"not a checkpoint", UPIR_)
    with pytest.raises(CheckpointError):
        ArchitectureLearner.from_bytes(a.agent.to_bytes(), UPIR_)  # an agent, not a learner


def test_bad_input() -> None:
    learner = ArchitectureLearner(UPIR_, config=SMALL, seed=0)
    with pytest.raises(InvalidSpecError):
        learner.propose()  # no window yet
    with pytest.raises(InvalidSpecError):
        learner.learn_from_metrics({"latency_ms": 1.0, "throughput_rps": 1.0})
    with pytest.raises(InvalidSpecError):
        learner.learn_from_metrics(workload(UPIR_.tunable_values()), {"gateway.retries": 1})
    with pytest.raises(InvalidSpecError):
        ArchitectureLearner(UPIR_, settings=LearnerSettings(keep_prob=1.0))
    with pytest.raises(InvalidSpecError):
        ArchitectureLearner(UPIR_, settings=LearnerSettings(reward="best"))
    with pytest.raises(InvalidSpecError):
        ArchitectureLearner(UPIR_, settings=LearnerSettings(policy="big"))


def test_starts_cautious() -> None:
    for policy in ("shared", "independent"):
        learner = ArchitectureLearner(
            UPIR_, config=SMALL, seed=0, settings=LearnerSettings(policy=policy)
        )
        learner.learn_from_metrics(workload(UPIR_.tunable_values()))
        probs = learner.agent.probabilities(learner.observation().unsqueeze(0))[0]
        # three parameters: KEEP starts at max(0.5, 1 - 3/3)
        assert torch.allclose(probs[:, 1], torch.full((3,), 0.5), atol=0.02), policy
        careful = ArchitectureLearner(
            UPIR_, config=SMALL, seed=0, settings=LearnerSettings(policy=policy, keep_prob=0.8)
        )
        careful.learn_from_metrics(workload(UPIR_.tunable_values()))
        probs = careful.agent.probabilities(careful.observation().unsqueeze(0))[0]
        assert torch.allclose(probs[:, 1], torch.full((3,), 0.8), atol=0.02), policy
        assert torch.allclose(probs[:, 0], probs[:, 2], atol=0.02), policy
